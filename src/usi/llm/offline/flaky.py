"""``offline/flaky``: a user simulator that makes the audit's mistakes on purpose.

Why: ``usi audit`` claims to find a simulator's own errors; the only way to know its
precision and recall is a simulator whose errors are known. This one talks like a plain,
correct user (short paraphrased opening, the instruction's facts when asked, a goodbye after
the agent's closing) and, per episode, commits each error kind with a configurable chance:

- ``premature_stop``: right after the agent's first question it says goodbye and ends
  (``###STOP###``) — only on tasks with a gold write action, which then never runs;
- ``hallucinated_identifier``: it adds an order id, reservation code, e-mail or phone number
  that is in neither the instruction nor the conversation;
- ``instruction_leak``: it pastes 14 words of its instruction, or talks about its
  instructions ("My instructions say …");
- ``role_confusion``: it says an agent's line ("Let me check that for you.");
- ``repetition_loop``: it sends its first answer three times in a row;
- ``empty_turn``: one turn is nothing but a chat-template token (``<|im_end|>``) — τ²
  rejects truly empty messages, so this is how an empty turn reaches an episode.

Rates: ``USI_OFFLINE_FLAKY`` — one number for every kind (``"0.3"``) and/or ``kind:rate``
pairs (``"0.2,premature_stop:0.5"``); default :data:`DEFAULT_RATE`. Like the server's other
settings it is read from the environment, so set it before the offline server starts.

Ground truth: the model is a pure function of the task, the seed and the chat, so after an
episode the runner replays it turn by turn over the recorded conversation
(:func:`episode_metadata`) and stores what it committed in ``metadata.injected_errors`` —
``[{"kind", "turn", "evidence"}]`` like the audit's errors — with the rates in
``metadata.flaky_rates``. A premature stop is what it is against an agent that closes with
"anything else?" after acting (``offline/oracle``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Any

from usi.core.mistakes import MISTAKE_KINDS
from usi.errors import UsiInputError
from usi.llm.offline.behaviour import (
    STOP,
    TRANSFER,
    TaskScript,
    _asked_facts,
    _is_closing,
    _is_transfer,
    _rng,
    _text,
    first_person,
    task_script,
)

MODEL = "offline/flaky"
RATES_ENV = "USI_OFFLINE_FLAKY"
DEFAULT_RATE = 0.2
KINDS: tuple[str, ...] = MISTAKE_KINDS  # it makes every mistake the audit finds
#: The clean opening quotes at most this many words of the reason for calling, so that it
#: never copies a 12-token span of the instruction by accident.
OPENING_WORDS = 7
LEAK_WORDS = 14
REPEATS = 3
MAX_TURNS = 10

AGENT_LINES: tuple[str, ...] = (
    "Let me check that for you.",
    "I apologize for the inconvenience.",
    "I apologise for any confusion.",
    "How can I help you today?",
    "Thank you for your patience.",
    "I'd be happy to help you with that.",
    "I have processed your refund.",
    "Your reservation has been cancelled.",
    "Is there anything else I can help you with?",
)
FRAMING_LINES: tuple[str, ...] = (
    "My instructions say I should get this done today.",
    "I am role-playing a customer here.",
    "According to my instructions, I need this fixed.",
    "As an AI language model, I want this resolved.",
)
EMPTY_TOKENS: tuple[str, ...] = ("<|im_end|>", "<|eot_id|>", "</s>", "<|endoftext|>")
PREMATURE_GOODBYE = f"Actually, never mind, I'll sort it out later. Bye! {STOP}"
GOODBYE = f"No, that's all, thanks. Bye! {STOP}"


def parse_rates(spec: str | None) -> dict[str, float]:
    """``"0.3"`` (every kind), ``"premature_stop:0.5,empty_turn:0"`` (those kinds), or both."""
    base, overrides = DEFAULT_RATE, {}
    for part in filter(None, (p.strip() for p in (spec or "").split(","))):
        kind, sep, value = part.rpartition(":")
        try:
            rate = float(value)
        except ValueError:
            rate = -1.0
        if not 0.0 <= rate <= 1.0 or (sep and kind not in KINDS):
            raise UsiInputError(
                f"bad rate {part!r} (a number in 0..1, or kind:rate with kinds {', '.join(KINDS)})",
                where=RATES_ENV,
            )
        if sep:
            overrides[kind] = rate
        else:
            base = rate
    return {kind: overrides.get(kind, base) for kind in KINDS}


def current_rates() -> dict[str, float]:
    return parse_rates(os.environ.get(RATES_ENV))


def _has_writes(script: TaskScript) -> bool:
    from usi.tau.tasks import write_tools

    domain = script.key.split("/", 1)[0]
    return any(name in write_tools(domain) for name, _ in script.actions)


def _plan(script: TaskScript, seed: Any, rates: dict[str, float]) -> set[str]:
    """The kinds this episode will commit (one draw per kind, fixed by task and seed)."""
    rng = _rng(script.key, "flaky-plan", seed)
    return {kind for kind in KINDS if rng.random() < rates[kind]}


def _opening(script: TaskScript) -> str:
    sentence = re.split(r"(?<=[.!?])\s+", first_person(script.reason).strip(), maxsplit=1)[0]
    short = " ".join(sentence.rstrip(".!?").split()[:OPENING_WORDS])
    return f"Hi, I need some help. {short}."


def _facts_answer(script: TaskScript, last: str) -> str | None:
    asked = _asked_facts(script, last)
    if not asked:
        return None
    by_label: dict[str, list[str]] = {}
    for fact in asked:
        by_label.setdefault(fact.label, []).append(fact.value)
    return " ".join(f"My {label} is {' '.join(values)}." for label, values in by_label.items())


def _invented_identifier(script: TaskScript, seed: Any) -> tuple[str, str]:
    """(sentence, evidence) with an identifier the user was never given."""
    rng = _rng(script.key, "flaky-id", seed)
    known = script.instruction.lower()
    while True:
        choice = rng.randrange(6)
        if choice == 0:
            value = f"#W{rng.randrange(10**6, 10**7):07d}"
            sentence, kind = f"Also, my other order is {value}.", "order id"
        elif choice == 1:
            letters = "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(4))
            value = f"{letters[:2]}{rng.randrange(10)}{letters[2:]}{rng.randrange(10)}"
            sentence, kind = f"My booking code is {value}.", "reservation or flight code"
        elif choice == 2:
            value = f"sam.lee{rng.randrange(100, 999)}@example.org"
            sentence, kind = f"You can e-mail me at {value}.", "e-mail"
        elif choice == 3:
            value = f"555-{rng.randrange(100, 999)}-{rng.randrange(1000, 9999)}"
            sentence, kind = f"My phone number is {value}.", "phone"
        elif choice == 4:
            value = f"sam_lee_{rng.randrange(1000, 9999)}"
            sentence, kind = f"My user id is {value}.", "user id"
        else:
            value = f"gift_card_{rng.randrange(10**6, 10**7)}"
            sentence, kind = f"Please use {value}.", "payment method id"
        if value.lower().lstrip("#") not in known:
            return sentence, f"{kind} {value}"


def _leak(script: TaskScript, seed: Any) -> tuple[str, str]:
    """(sentence, evidence): a verbatim window of the instruction, or meta-framing."""
    rng = _rng(script.key, "flaky-leak", seed)
    parts = [
        re.sub(r"(?<!\w)'[^'\n]{8,}'(?!\w)|\"[^\"\n]{8,}\"", " ", p)
        for p in (script.reason, script.known, script.instruction.split("\n")[-1])
    ]
    longest = max((p.split() for p in parts), key=len)
    if len(longest) >= LEAK_WORDS and rng.random() < 0.5:
        window = " ".join(longest[:LEAK_WORDS])
        return window, window
    line = rng.choice(FRAMING_LINES)
    return line, line


def flaky_turn(
    script: TaskScript,
    own: Sequence[str],
    agent: Sequence[str],
    seed: Any,
    rates: dict[str, float],
) -> tuple[str, list[dict[str, Any]]]:
    """The user's next message and the errors it commits (``turn`` = ``len(own)``)."""
    turn = len(own)
    last = agent[-1] if agent else ""
    plan = _plan(script, seed, rates)
    committed: list[dict[str, Any]] = []

    def commit(kind: str, evidence: str) -> None:
        committed.append({"kind": kind, "turn": turn, "evidence": evidence})

    if agent and _is_transfer(last):
        return TRANSFER, committed
    # The turns after the opening, in order: an empty turn, then a stop or a loop.
    script_turns: list[str] = []
    if "empty_turn" in plan:
        script_turns.append("empty")
    if "premature_stop" in plan and _has_writes(script):
        script_turns.append("stop")
    elif "repetition_loop" in plan:
        script_turns += ["answer"] + ["repeat"] * (REPEATS - 1)
    step = script_turns[turn - 1] if 1 <= turn <= len(script_turns) else None

    if turn == 0:
        sentences = [_opening(script)]
        for kind, make in (
            ("hallucinated_identifier", _invented_identifier),
            ("instruction_leak", _leak),
        ):
            if kind in plan:
                sentence, evidence = make(script, seed)
                sentences.append(sentence)
                commit(kind, evidence)
        if "role_confusion" in plan:
            line = _rng(script.key, "flaky-role", seed).choice(AGENT_LINES)
            sentences.append(line)
            commit("role_confusion", line)
        return " ".join(sentences), committed
    if step == "empty":
        token = _rng(script.key, "flaky-empty", seed).choice(EMPTY_TOKENS)
        commit("empty_turn", repr(token))
        return token, committed
    if step == "stop":
        if _is_closing(last):  # the agent was done already: nothing left to stop early
            return GOODBYE, committed
        commit("premature_stop", "the gold write actions never ran")
        return PREMATURE_GOODBYE, committed
    if step == "repeat":
        first = script_turns.index("answer") + 1
        if script_turns.count("repeat") == turn - first:
            commit("repetition_loop", own[first])
        return own[first], committed
    if step == "answer":
        return _facts_answer(script, last) or f"{_opening(script)} Please help me.", committed
    if _is_closing(last):
        return GOODBYE, committed
    if turn >= MAX_TURNS:
        if _has_writes(script):
            commit("premature_stop", "gave up before the agent closed")
        return f"I have to go now, bye. {STOP}", committed
    answer = _facts_answer(script, last)
    if answer is not None:
        return answer, committed
    return ("Yes, go ahead." if "?" in last else "Okay."), committed


def user_reply(script: TaskScript, messages: list[dict[str, Any]], seed: Any) -> str:
    """The server's entry point (in the user's chat the agent is ``user``, itself ``assistant``)."""
    own = [_text(m.get("content")) for m in messages if m.get("role") == "assistant"]
    agent = [_text(m.get("content")) for m in messages if m.get("role") == "user"]
    return flaky_turn(script, own, agent, seed, current_rates())[0]


def replay(
    script: TaskScript, messages: Sequence[Any], seed: Any, rates: dict[str, float]
) -> list[dict[str, Any]]:
    """What the model committed in a recorded conversation (canonical messages)."""
    own: list[str] = []
    agent: list[str] = []
    committed: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "assistant" and not message.tool_calls:
            agent.append(message.content)
        elif message.role == "user":
            committed += flaky_turn(script, own, agent, seed, rates)[1]
            own.append(message.content)
    return committed


def episode_metadata(
    user_model: str | None, domain: str, task_id: str, messages: Sequence[Any], seed: Any
) -> dict[str, Any]:
    """``injected_errors`` and ``flaky_rates`` for an ``offline/flaky`` episode, else ``{}``."""
    if user_model != MODEL:
        return {}
    rates = current_rates()
    script = task_script(domain, task_id)
    return {"injected_errors": replay(script, messages, seed, rates), "flaky_rates": rates}

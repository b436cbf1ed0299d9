"""The scripted offline models: what each one says, given the chat it is sent.

All three are stateless functions of the request (task, role, messages, seed), so a run is
reproducible and the server needs no session memory:

- ``oracle`` (agent): asks the user for the facts its gold actions need, then replays the τ²
  task's gold actions as tool calls one per turn, states the task's ``communicate_info`` and
  closes the conversation. If the user never gives the facts it transfers to a human agent —
  so the user simulator's behaviour decides the reward.
- ``cooperative`` (user, "LLM-like"): states its request, and when asked gives every fact of
  its instruction, politely and completely; it ends with ``###STOP###`` like τ² users do.
- ``terse`` (user, "human-like"): short lower-case turns, one fact per question, sometimes
  an impatient turn that gives nothing, and it gives up after a few rounds.

Both users also answer the post-episode survey (and, as a judge, rate a conversation they read)
from what the transcript shows: completion, how many questions the agent asked, transfers.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from usi.core.survey import FREE_TEXT_IDS, ITEMS_BY_ID, SURVEY_ITEM_IDS

STOP = "###STOP###"
TRANSFER = "###TRANSFER###"
TRANSFER_MESSAGE = "YOU ARE BEING TRANSFERRED TO A HUMAN AGENT. PLEASE HOLD ON."
# How many times the oracle asks for missing facts before it hands the user to a human.
ORACLE_MAX_ASKS = 3
# A user that has spoken this many times without being helped gives up.
USER_MAX_TURNS = 10
TERSE_IMPATIENCE = 0.3  # chance that a terse turn gives nothing but impatience
TERSE_MAX_ASKED = 3  # the terse user gives up after being asked this many times
ASK_MARKER = "could you please tell me"
CLOSING_MARKER = "anything else i can help you with"

# Argument name → how an agent asks for it, and the words that show it is being asked for.
_LABELS: dict[str, tuple[str, tuple[str, ...]]] = {
    "first_name": ("full name", ("name",)),
    "last_name": ("full name", ("name",)),
    "zip": ("zip code", ("zip", "postal")),
    "user_id": ("user id", ("user id", "user_id", "account")),
    "order_id": ("order id", ("order",)),
    "reservation_id": ("reservation id", ("reservation", "booking", "confirmation")),
    "email": ("email address", ("email", "e-mail")),
}


@dataclass(frozen=True)
class Fact:
    """A value a gold action needs that only the user knows (it appears in the instruction)."""

    argument: str
    value: str
    label: str
    cues: tuple[str, ...]


@dataclass(frozen=True)
class TaskScript:
    """What the offline models know about one τ² task."""

    key: str
    instruction: str
    reason: str
    known: str
    facts: tuple[Fact, ...]
    actions: tuple[tuple[str, dict[str, Any]], ...]
    communicate: tuple[str, ...]


def _text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(content)


def first_person(text: str) -> str:
    """Turn the instruction's second person ("You are …") into what the user would say."""
    rules = (
        (r"\bYou are\b", "I am"),
        (r"\byou are\b", "I am"),
        (r"\bYou're\b", "I'm"),
        (r"\byou're\b", "I'm"),
        (r"\bYour\b", "My"),
        (r"\byour\b", "my"),
        (r"\byourself\b", "myself"),
        (r"\bYou\b", "I"),
        (r"\byou\b", "I"),
    )
    for pattern, repl in rules:
        text = re.sub(pattern, repl, text)
    return " ".join(text.split())


def _scalars(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _scalars(v)]
    if isinstance(value, list):
        return [s for v in value for s in _scalars(v)]
    if isinstance(value, bool) or value is None:
        return []
    return [str(value)]


def _mentions(text: str, value: str) -> bool:
    return re.search(rf"(?<![\w#]){re.escape(value.lower())}(?!\w)", text.lower()) is not None


def _label(argument: str) -> tuple[str, tuple[str, ...]]:
    if argument in _LABELS:
        return _LABELS[argument]
    words = argument.replace("_", " ")
    return words, (words, argument.split("_")[-1])


@cache
def task_script(domain: str, task_id: str) -> TaskScript:
    """Load the τ² task and derive what the oracle and the users need from it."""
    from usi.tau.tasks import DOMAINS, domain_tasks

    tasks = domain_tasks(domain) if domain in DOMAINS else {}
    if task_id not in tasks:
        raise KeyError(f"unknown τ² task {domain}/{task_id}")
    task = tasks[task_id]
    instructions = task.user_scenario.instructions
    if isinstance(instructions, str):
        reason, known, full = instructions, "", instructions
    else:
        reason = instructions.reason_for_call or ""
        known = instructions.known_info or ""
        full = "\n".join(
            part for part in (reason, known, instructions.task_instructions or "") if part
        )
    criteria = task.evaluation_criteria
    actions: list[tuple[str, dict[str, Any]]] = []
    communicate: tuple[str, ...] = ()
    facts: dict[str, Fact] = {}
    if criteria is not None:
        communicate = tuple(criteria.communicate_info or ())
        for action in criteria.actions or ():
            if action.requestor != "assistant":
                continue
            actions.append((action.name, dict(action.arguments)))
            for argument, value in action.arguments.items():
                for scalar in _scalars(value):
                    if len(scalar) >= 2 and _mentions(full, scalar):
                        label, cues = _label(argument)
                        facts.setdefault(scalar.lower(), Fact(argument, scalar, label, cues))
    return TaskScript(
        key=f"{domain}/{task_id}",
        instruction=full,
        reason=reason,
        known=known,
        facts=tuple(facts.values()),
        actions=tuple(actions),
        communicate=communicate,
    )


@cache
def _scenario_index() -> dict[str, tuple[str, str]]:
    from usi.tau.tasks import DOMAINS, domain_tasks

    index: dict[str, tuple[str, str]] = {}
    for domain in DOMAINS:
        for task in domain_tasks(domain).values():
            instructions = task.user_scenario.instructions
            reason = instructions if isinstance(instructions, str) else instructions.reason_for_call
            if reason:
                index.setdefault(" ".join(reason.split()), (domain, task.id))
                index.setdefault(first_person(reason), (domain, task.id))
    return index


def task_from_prompt(text: str) -> tuple[str, str] | None:
    """Recognise the task when no header was sent (e.g. under plain ``tau2 run``).

    ``text`` is a τ² user-simulator system prompt (it holds the scenario) or, for the agent,
    the user's turns (the cooperative user's opening restates its reason for calling).
    """
    flat = " ".join(text.split())
    for reason, key in _scenario_index().items():
        if reason in flat:
            return key
    return None


def _rng(*parts: Any) -> random.Random:
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _sentence_with(text: str, value: str) -> str:
    for sentence in re.split(r"(?<=[.!?])\s+|\n+", text):
        if _mentions(sentence, value):
            return sentence.strip()
    return value


# --------------------------------------------------------------------------------- the agent


def oracle_reply(script: TaskScript, messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The oracle agent's next message: ask, act, close, or transfer."""
    user_text = " ".join(_text(m.get("content")) for m in messages if m.get("role") == "user")
    agent_texts = [
        _text(m.get("content")).lower()
        for m in messages
        if m.get("role") == "assistant" and not m.get("tool_calls")
    ]
    calls_made = sum(
        len(m.get("tool_calls") or []) for m in messages if m.get("role") == "assistant"
    )
    if any(TRANSFER_MESSAGE.lower() in t for t in agent_texts):
        return {"content": "Please hold on while you are transferred."}
    last = messages[-1] if messages else {}
    if last.get("role") == "tool" and _text(last.get("content")) == "Transfer successful":
        return {"content": TRANSFER_MESSAGE}
    if any(CLOSING_MARKER in t for t in agent_texts):
        return {"content": "You're welcome. Have a great day!"}
    missing = [f for f in script.facts if not _mentions(user_text, f.value)]
    if calls_made == 0 and missing:
        asks = sum(ASK_MARKER in t for t in agent_texts)
        if asks >= ORACLE_MAX_ASKS:
            return _tool_call(
                "transfer_to_human_agents",
                {"summary": "The customer did not provide the details needed to proceed."},
                calls_made,
            )
        labels = list(dict.fromkeys(f.label for f in missing))
        wanted = labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]
        return {"content": f"I can help with that. Could you please tell me your {wanted}?"}
    if calls_made < len(script.actions):
        name, arguments = script.actions[calls_made]
        return _tool_call(name, arguments, calls_made)
    done = ", ".join(dict.fromkeys(name.replace("_", " ") for name, _ in script.actions))
    summary = (
        f"I have completed your request ({done})."
        if done
        else ("I'm sorry, but under our policy I cannot make that change.")
    )
    info = "".join(f" For your information: {item}." for item in script.communicate)
    return {"content": f"{summary}{info} Is there anything else I can help you with?"}


def _tool_call(name: str, arguments: dict[str, Any], index: int) -> dict[str, Any]:
    return {
        "content": None,
        "tool_calls": [
            {
                "id": f"call_{index}",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(arguments)},
            }
        ],
    }


# --------------------------------------------------------------------------------- the users


def _asked_facts(script: TaskScript, agent_text: str) -> list[Fact]:
    lowered = agent_text.lower()
    return [f for f in script.facts if any(cue in lowered for cue in f.cues)]


def _is_transfer(agent_text: str) -> bool:
    lowered = agent_text.lower()
    return "transfer" in lowered and ("human" in lowered or "hold" in lowered)


def _is_closing(agent_text: str) -> bool:
    lowered = agent_text.lower()
    return "anything else" in lowered or "have a great day" in lowered


def user_reply(style: str, script: TaskScript, messages: list[dict[str, Any]], seed: Any) -> str:
    """The user's next turn (in its chat the agent is ``user``, itself ``assistant``)."""
    own = [_text(m.get("content")) for m in messages if m.get("role") == "assistant"]
    agent = [_text(m.get("content")) for m in messages if m.get("role") == "user"]
    last = agent[-1] if agent else ""
    rng = _rng(script.key, style, seed, len(own))
    if _is_transfer(last):
        return TRANSFER
    cooperative = style == "cooperative"
    if not own:
        if cooperative:
            return f"Hi there! {first_person(script.reason)} Could you please help me with that?"
        sentences = [x for x in first_person(script.reason).split(".") if x.strip()] or ["help"]
        words = re.sub(r"[^\w#' ]", "", sentences[0]).split()
        return " ".join(words[:12]).lower()
    if _is_closing(last):
        return (
            f"No, that's everything. Thank you so much for your help! {STOP}"
            if cooperative
            else (f"no thats it {STOP}")
        )
    if len(own) >= USER_MAX_TURNS:
        return f"I think we are going in circles. {STOP}" if cooperative else f"forget it {STOP}"
    asked = _asked_facts(script, last)
    if cooperative:
        if asked or "?" in last:
            sentences = [first_person(script.known)] if script.known else []
            for fact in asked:
                sentence = first_person(_sentence_with(script.instruction, fact.value))
                if sentence not in sentences and not _mentions(" ".join(sentences), fact.value):
                    sentences.append(sentence)
            if not sentences:
                sentences = [first_person(script.reason)]
            return "Of course! " + " ".join(sentences) + " Thank you for your help."
        return "Thank you, please go ahead."
    times_asked = sum(bool(_asked_facts(script, t)) for t in agent)
    if times_asked > TERSE_MAX_ASKED:
        return f"this is taking too long {STOP}"
    if rng.random() < TERSE_IMPATIENCE:
        return rng.choice(["cant you just look it up", "why do you need that", "ugh just do it"])
    if asked:
        fact = asked[0]
        group = [f.value for f in asked if f.label == fact.label]
        return " ".join(group)
    if "?" in last:
        return rng.choice(["yes", "ok", "sure go ahead"])
    return "ok"


# -------------------------------------------------------------------------------- the survey


def _transcript_signals(text: str) -> dict[str, Any]:
    agent_lines = [
        line.split(":", 1)[1].lower()
        for line in text.splitlines()
        if line.upper().startswith(("AGENT:", "ASSISTANT:"))
    ]
    joined = " ".join(agent_lines)
    transferred = "transfer" in joined
    completed = any(w in joined for w in ("completed", "successfully", "has been", "is now"))
    refused = "cannot" in joined or "can't" in joined or "unable" in joined
    questions = sum(line.count("?") for line in agent_lines)
    return {
        "completed": completed and not transferred,
        "refused": refused and not completed,
        "transferred": transferred,
        "questions": questions,
        "agent_turns": len(agent_lines),
    }


def survey_answers(style: str, transcript: str) -> dict[str, str]:
    """The user's answers to the 8-item instrument plus the two free-text items."""
    s = _transcript_signals(transcript)
    ok = s["completed"]
    many_questions = s["questions"] >= 3
    if style == "cooperative":
        # The LLM-like rater: generous and uniform, as the paper found for GPT-family users.
        answers = {
            "task_success": "Yes - Task completed"
            if ok
            else (
                "No - Due to a policy issue, which the agent clearly explained"
                if s["refused"]
                else "No - Task failed"
            ),
            "efficiency": "Very efficient" if ok else "About right",
            "question_amount_preference": "About right",
            "answer_effort_time": "Low",
            "human_like": "Yes",
            "interaction_flow": "Excellent" if ok else "Smooth",
            "overall_score": "5 (Excellent)" if ok else "4 (Good)",
            "reuse": "Absolutely yes" if ok else "Yes",
            "specific_examples": "The agent asked for my details politely and handled my request.",
            "improvement_suggestions": "Nothing, it was great.",
        }
    else:
        answers = {
            "task_success": "Yes - Task completed" if ok else "No - Task failed",
            "efficiency": ("Somewhat inefficient" if many_questions else "About right")
            if ok
            else "Very inefficient - Too many steps",
            "question_amount_preference": "Too many" if many_questions else "About right",
            "answer_effort_time": "Medium" if many_questions else "Low",
            "human_like": "Partially" if ok else "No",
            "interaction_flow": "OK" if ok else "Not smooth",
            "overall_score": ("3 (Acceptable)" if many_questions else "4 (Good)")
            if ok
            else "2 (Poor)",
            "reuse": "Maybe" if ok else "No",
            "specific_examples": "asked a lot of questions" if many_questions else "it did the job",
            "improvement_suggestions": "look things up yourself" if many_questions else "faster",
        }
    for item_id in SURVEY_ITEM_IDS:  # the script must only ever produce valid labels
        assert answers[item_id] in ITEMS_BY_ID[item_id].options, item_id
    assert all(k in answers for k in FREE_TEXT_IDS)
    return answers


def survey_reply(style: str, messages: list[dict[str, Any]]) -> str:
    """Answer a survey prompt as JSON (the format :mod:`usi.run.survey` asks for).

    The prompt either holds the conversation (``<conversation>``: usi's survey, the judge) or
    follows it in the simulator's own chat (the paper's protocol), where the agent's turns
    are the chat's ``user`` messages before the prompt.
    """
    asked = [_text(m.get("content")) for m in messages if m.get("role") == "user"]
    if any("<conversation>" in text for text in asked) or len(asked) < 2:
        transcript = "\n".join(asked)
    else:
        transcript = "\n".join(f"AGENT: {text}" for text in asked[:-1])
    return json.dumps(survey_answers(style, transcript), ensure_ascii=False)


_CARD_RE = re.compile(r"<instruction_card>(.*?)</instruction_card>", re.S)
_CONVERSATION_RE = re.compile(r"<conversation>(.*?)</conversation>", re.S)
_CARD_IDENTIFIER = re.compile(
    r"#?\b[A-Z0-9]{6,}\b|\b[a-z]+_[a-z]+_\d{3,}\b|\b\d{5}\b|\b[A-Z][a-z]+ [A-Z][a-z]+\b"
)


def quality_reply(messages: list[dict[str, Any]]) -> str:
    """The scripted quality judge of the study (``X-USI-Role: quality``).

    A real judge model reads the instruction card and the transcript and rates the
    participant's adherence 0–100. The offline one rates the share of the card's
    identifiers (names, user id, order/reservation codes, zip) the participant actually
    used — deterministic, so study tests can check keep/discard end to end — and its
    reasoning says what it counted.
    """
    prompt = "\n".join(_text(m.get("content")) for m in messages)
    card_match, conversation_match = _CARD_RE.search(prompt), _CONVERSATION_RE.search(prompt)
    card = card_match.group(1) if card_match else ""
    conversation = conversation_match.group(1) if conversation_match else ""
    said = " ".join(
        line.split(":", 1)[1]
        for line in conversation.splitlines()
        if line.startswith("PARTICIPANT:")
    ).lower()
    wanted = {m.group(0).lstrip("#").lower() for m in _CARD_IDENTIFIER.finditer(card)}
    if not wanted:
        verdict = {"score": 50, "reasoning": "offline judge: the card names no identifiers."}
    else:
        used = sorted(w for w in wanted if w in said)
        verdict = {
            "score": round(100.0 * len(used) / len(wanted)),
            "reasoning": f"offline judge: the participant used {len(used)} of the card's "
            f"{len(wanted)} identifiers.",
        }
    return json.dumps(verdict)

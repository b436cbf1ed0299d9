"""Reader for the tau-usi human-study JSON (spec §8): one canonical :class:`Episode` per session.

The raw sessions are chat-platform transcripts, not τ² trajectories: the agent's tool use is
embedded as markup inside its messages and the platform's own UI (instruction canvas, survey
form, reward banner) travels as assistant messages too. This module turns them into the τ²
shape every other part of ``usi`` reads, keeping what a person said and did verbatim.

Mapping of one raw assistant message, in order of appearance:

- ``<|think|>…<|/think|>`` (hidden reasoning) is dropped; an unclosed one is dropped to the end.
- ``<|canvas|>…<|/canvas|>`` (the participant's instruction card) is removed; the first one
  feeds ``metadata["instruction"]`` / ``metadata["first_message"]``; what follows the card is
  the agent's greeting. ``<|highlight|>…<|/highlight|>`` and ``<|survey|>…<|/survey|>`` are
  platform UI and removed; a message left with nothing (the survey form, "Survey submitted",
  the ``Reward:`` banner) is dropped.
- Text and ``<function=NAME>…</function>`` calls accumulate into one assistant message (text
  first, then its ``tool_calls``) until a ``<|tool|>…<|/tool|>`` result arrives; each result
  becomes a ``role: "tool"`` message answering the oldest unanswered call (``tool_call_id``);
  text or calls after results open a new assistant message. This is exactly how τ² records a
  turn: assistant(text + calls) → tool results → assistant(...).
- Parameter values are decoded as JSON when they are JSON (numbers, lists, objects, booleans),
  except for parameters the τ² tool declares as strings (a zip code ``10001`` stays ``"10001"``).

User messages keep the participant's words; the set-up line (``\\tau …``), ``/stop``,
``\\reward``, empty messages and any survey submission are dropped (spec §1).

With ``agent=False`` (a command that reads only user turns) the agent's messages are not
parsed: only the first instruction card is taken from them (alignment needs it), and the
episode's messages are the user's. Parsing the agent markup is most of the cost of reading
a file, and the fingerprint never looks at it.
"""

from __future__ import annotations

import functools
import json
import re
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from usi.core.decode import load_json, tree_building
from usi.core.episode import HUMAN_SOURCE, Episode, Message, ToolCall, is_user_content
from usi.core.survey import validate_answer
from usi.data.paper import N_TURNS_KEY, is_meta
from usi.errors import UsiInputError

SESSION_KEY_RE = re.compile(r"^(?P<domain>[a-z][a-z0-9]*)_(?P<index>\d+)(?:_ann(?P<batch>\d+))?$")
SETUP_RE = re.compile(
    r"^\s*\\tau\s+task_index:(?P<domain>[A-Za-z0-9]+)-(?P<index>\d+)(?:\s+model:(?P<model>\S+))?",
)

_THINK_RE = re.compile(r"<\|think\|>.*?(?:<\|/think\|>|\Z)", re.DOTALL)
_CANVAS_RE = re.compile(r"<\|canvas\|>(?P<body>.*?)<\|/canvas\|>", re.DOTALL)
_UI_RE = re.compile(r"<\|highlight\|>.*?<\|/highlight\|>|<\|survey\|>.*?<\|/survey\|>", re.DOTALL)
_SEGMENT_RE = re.compile(
    r"<function=(?P<name>[^>\s]+)\s*>(?P<body>.*?)</function>"
    r"|<\|tool\|>(?P<output>.*?)<\|/tool\|>",
    re.DOTALL,
)
_PARAMETER_RE = re.compile(r"<parameter=(?P<arg>[^>\s]+)\s*>(?P<value>.*?)</parameter>", re.DOTALL)
_LEFTOVER_MARKUP_RE = re.compile(r"<function=|</function>|<\|/?tool\|>|<parameter=|<\|/?canvas\|>")
_INSTRUCTION_RE = re.compile(
    r"\*\*Instruction:\*\*(?P<instruction>.*?)(?:\*\*You may start with:\*\*(?P<first>.*?))?"
    r"(?=\*\*Rules:\*\*|\*\*Finish the Task:\*\*|\*\*Task split:\*\*|\Z)",
    re.DOTALL,
)
_ROLE_PLAY_PREAMBLE_RE = re.compile(
    r"^\s*You are role-playing as a user interacting with an agent\.\s*", re.IGNORECASE
)

_CANVAS_OPEN, _CANVAS_CLOSE = "<|canvas|>", "<|/canvas|>"


@dataclass
class _Session:
    """Where the parser is inside one session: the key, the file and the call bookkeeping."""

    path: Path
    key: str
    domain: str
    next_call: int = 0
    unanswered: deque[str] = field(default_factory=deque)
    canvas: str | None = None

    def error(self, message: str, position: int | None = None) -> UsiInputError:
        where = self.key if position is None else f"{self.key} message {position}"
        return UsiInputError(message, self.path, where)

    def new_call_id(self) -> str:
        self.next_call += 1
        return f"call_{self.next_call}"


def read_tau_usi(
    path: str | Path, *, document: Any = None, agent: bool = True
) -> Iterator[Episode]:
    """Episodes of a tau-usi JSON file, one per session key, in file order.

    The whole file is parsed before the first episode is yielded: task alignment is
    one-to-one across the file's scenarios (:func:`usi.tau.align.align_sessions`), and a
    malformed session anywhere must fail the file before anything is written.
    ``document``: the file already decoded (it is consumed: each raw session is dropped once
    it is an episode, so the raw and the parsed file are never both in memory);
    ``document`` may also be the file's ``(key, session)`` pairs as they are decoded
    (:func:`usi.data.readers.open_episodes` streams a large one);
    ``agent=False``: see the module doc.
    """
    p = Path(path)
    if document is None:
        document = load_json(p)
    if isinstance(document, dict):
        with tree_building():
            episodes = [
                session_episode(p, str(key), document.pop(key), agent=agent)
                for key in list(document)
            ]
    elif isinstance(document, Iterator):
        episodes = _streamed_episodes(p, document, agent=agent)
    else:
        raise UsiInputError("expected a JSON object of sessions (tau-usi format)", p)
    if not episodes:
        return
    from usi.tau.align import SessionTask, align_sessions  # deferred: loads τ² task sets

    tasks = [
        SessionTask(e.episode_id, e.domain, int(e.metadata["tau_index"]), e.metadata["instruction"])
        for e in episodes
    ]
    alignments = align_sessions(tasks)
    with tree_building():  # a few more objects per episode: not a reason to scan them all
        for episode in episodes:
            alignment = alignments[episode.episode_id]
            episode.task_id = alignment.task_id
            episode.metadata["alignment"] = alignment.as_metadata()
    yield from episodes


def _streamed_episodes(
    path: Path, sessions: Iterator[tuple[str, Any]], *, agent: bool
) -> list[Episode]:
    """The episodes of streamed sessions, each raw session dropped once it is an episode.

    A malformed session is reported once the stream has ended: the stream may still find
    that the document is not a plain tau-usi one, and that is said first, as when the whole
    document is decoded before any session is read.
    """
    episodes: list[Episode] = []
    failure: UsiInputError | None = None
    with tree_building():
        for key, raw in sessions:
            if failure is None:
                try:
                    episodes.append(session_episode(path, str(key), raw, agent=agent))
                except UsiInputError as exc:
                    failure = exc
    if failure is not None:
        raise failure
    return episodes


def session_episode(path: Path, key: str, raw: Any, *, agent: bool = True) -> Episode:
    """One session as a canonical episode, not yet aligned to a τ² task (``task_id`` null).

    Any malformation is a :class:`UsiInputError` naming the file and the session.
    """
    match = SESSION_KEY_RE.match(key)
    if match is None:
        raise UsiInputError("session id is not <domain>_<task index>[_ann<batch>]", path, key)
    if not isinstance(raw, dict):
        raise UsiInputError("session is not a JSON object", path, key)
    domain = match["domain"]
    batch = int(match["batch"]) if match["batch"] else 1
    session = _Session(path=path, key=key, domain=domain)

    conversation = raw.get("conversation")
    if not isinstance(conversation, list) or not conversation:
        raise session.error("session has no conversation")
    messages, agent_model, n_turns = _conversation_messages(session, conversation, agent=agent)
    instruction, first_message = _instruction(session.canvas)
    metadata: dict[str, Any] = {
        "tau_index": int(match["index"]),
        "platform_task_id": raw.get("task_id"),
        "instance_id": raw.get("instance_id"),
        "agent_id": raw.get("agent_id"),
        "agent_model": agent_model,
        "quality_score": raw.get("quality_score"),
        "quality_passed": raw.get("quality_passed"),
        "keep": raw.get("keep", True),  # absent = kept, as the paper's scorer reads it
        "human_score": raw.get("human_score"),
        "llm_reasoning": raw.get("llm_reasoning"),
        "human_reasoning": raw.get("human_reasoning"),
        "instruction": instruction,
        "first_message": first_message,
        N_TURNS_KEY: n_turns,
    }
    # Every field is checked above (messages built as Message, reward and survey answers
    # validated one by one), so the episode is assembled without validating it all again.
    return Episode.model_construct(
        episode_id=key,
        source=HUMAN_SOURCE,
        batch=batch,
        domain=domain,
        task_id=None,
        messages=messages,
        reward=_reward(session, raw.get("reward")),
        survey=_survey(session, raw.get("survey")),
        metadata=metadata,
    )


def _reward(session: _Session, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise session.error(f"reward must be a number, got {value!r}")
    return float(value)


def _survey(session: _Session, raw: Any) -> dict[str, str] | None:
    """Item id → chosen label; free-text items kept as typed, unanswered items left out."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise session.error("survey is not a JSON object")
    answers: dict[str, str] = {}
    for item_id, entry in raw.items():
        answer = entry.get("answer") if isinstance(entry, dict) else entry
        if answer is None:
            continue
        if not isinstance(answer, str):
            raise session.error(f"survey item {item_id!r}: answer is not text: {answer!r}")
        try:
            validate_answer(item_id, answer)
        except ValueError as exc:
            raise session.error(str(exc)) from None
        answers[item_id] = answer
    return answers or None


def _conversation_messages(
    session: _Session, conversation: list[Any], *, agent: bool = True
) -> tuple[list[Message], str | None, int]:
    """Canonical messages, the agent model of the set-up line, and the paper's ``n_turns``."""
    messages: list[Message] = []
    agent_model: str | None = None
    n_turns = 0
    for position, raw in enumerate(conversation):
        if not isinstance(raw, dict):
            raise session.error("message is not a JSON object", position)
        role, content = raw.get("role"), raw.get("content")
        if content is None:
            content = ""
        if not isinstance(content, str):
            raise session.error("message content is not text", position)
        meta = is_meta(content, human=True)
        if not meta:
            n_turns += 1
        if role == "user":
            if agent_model is None and "\\tau" in content:
                setup = SETUP_RE.match(content)
                if setup is not None:
                    agent_model = setup["model"]
            if not meta or is_user_content(content):
                # Kept when either definition set counts it: tau-usi counts an empty turn
                # (the paper's meta rules, spec §10.2); usi-v2's Episode.user_turns() filters
                # its own way (spec §1). Validated: pydantic-core builds a message in about
                # half the time of model_construct's Python loop over the fields.
                messages.append(Message(role="user", content=content))
        elif role == "assistant":
            if agent:
                messages.extend(_agent_messages(session, content, position))
            elif session.canvas is None and _CANVAS_OPEN in content:
                _first_canvas(session, content)
        else:
            raise session.error(f"unknown role {role!r} (expected user or assistant)", position)
    return messages, agent_model, n_turns


def _first_canvas(session: _Session, content: str) -> None:
    """Keep the first instruction card of an agent message (outside its hidden reasoning)."""
    text = _THINK_RE.sub("", content) if "<|think|>" in content else content
    start = text.find(_CANVAS_OPEN)
    end = text.find(_CANVAS_CLOSE, start)
    if start != -1 and end != -1:
        session.canvas = text[start + len(_CANVAS_OPEN) : end]


def _agent_messages(session: _Session, content: str, position: int) -> list[Message]:
    """One raw assistant message → assistant/tool messages in τ² order (see module doc)."""
    text = _THINK_RE.sub("", content)
    first_canvas = _CANVAS_RE.search(text)
    if first_canvas is not None and session.canvas is None:
        session.canvas = first_canvas["body"]
    text = _UI_RE.sub("", _CANVAS_RE.sub("", text))

    out: list[Message] = []
    current: Message | None = None
    answered_since_calls = False

    def flush() -> None:
        nonlocal current
        if current is not None:
            out.append(current)
            current = None

    cursor = 0
    for segment in _SEGMENT_RE.finditer(text):
        between = text[cursor : segment.start()]
        cursor = segment.end()
        _check_plain(session, between, position)
        if between.strip():
            if current is not None and (current.tool_calls or answered_since_calls):
                flush()
            if current is None:
                current = Message(role="assistant", content=between.strip())
                answered_since_calls = False
            else:
                current.content = f"{current.content}\n\n{between.strip()}".strip()
        if segment["name"] is not None:
            call = _tool_call(session, segment["name"], segment["body"], position)
            if current is None or answered_since_calls:
                flush()
                current = Message(role="assistant", content="")
                answered_since_calls = False
            current.tool_calls = [*(current.tool_calls or []), call]
            if call.id is not None:
                session.unanswered.append(call.id)
        else:
            if current is not None:
                flush()
            call_id = session.unanswered.popleft() if session.unanswered else None
            out.append(
                Message(role="tool", content=segment["output"].strip(), tool_call_id=call_id)
            )
            answered_since_calls = True
    tail = text[cursor:]
    _check_plain(session, tail, position)
    if tail.strip():
        if current is not None and (current.tool_calls or answered_since_calls):
            flush()
        if current is None:
            current = Message(role="assistant", content=tail.strip())
        else:
            current.content = f"{current.content}\n\n{tail.strip()}".strip()
    flush()
    return out


def _check_plain(session: _Session, text: str, position: int) -> None:
    """Text between recognised blocks must not hold half of a block."""
    leftover = _LEFTOVER_MARKUP_RE.search(text)
    if leftover is not None:
        raise session.error(
            f"malformed agent markup: unmatched {leftover.group(0)!r} in an assistant message",
            position,
        )


def _tool_call(session: _Session, name: str, body: str, position: int) -> ToolCall:
    string_params = _string_parameters(session.domain).get(name, frozenset())
    arguments: dict[str, Any] = {}
    cursor = 0
    for parameter in _PARAMETER_RE.finditer(body):
        if body[cursor : parameter.start()].strip():
            break
        cursor = parameter.end()
        arg = parameter["arg"]
        arguments[arg] = _parameter_value(parameter["value"], keep_text=arg in string_params)
    if body[cursor:].strip():
        raise session.error(
            f"malformed tool call <function={name}>: expected only <parameter=…>…</parameter>",
            position,
        )
    return ToolCall(id=session.new_call_id(), name=name, arguments=arguments)


def _parameter_value(raw: str, *, keep_text: bool) -> Any:
    value = raw.strip()
    if keep_text:
        return value
    try:
        decoded = json.loads(value)
    except (json.JSONDecodeError, ValueError):
        return value
    return decoded if isinstance(decoded, int | float | list | dict | bool) else value


@functools.lru_cache(maxsize=1024)
def _instruction(canvas: str | None) -> tuple[str | None, str | None]:
    """The scenario text and the suggested first message of the instruction card."""
    if canvas is None:
        return None, None
    match = _INSTRUCTION_RE.search(canvas)
    if match is None:
        return None, None
    instruction = _ROLE_PLAY_PREAMBLE_RE.sub("", match["instruction"]).strip() or None
    first = (match["first"] or "").strip() or None
    return instruction, first


def _string_parameters(domain: str) -> Mapping[str, frozenset[str]]:
    """Per τ² tool of ``domain``, the parameters declared as text (see :mod:`usi.tau.tasks`).

    The decoding follows the signatures of the tools the agent actually called; an unknown
    domain has no declared types (JSON decoding only).
    """
    from usi.tau.tasks import string_parameters  # deferred: imports τ²

    return string_parameters(domain)

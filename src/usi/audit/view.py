"""One episode as the rules see it: numbered user turns, what the agent said and did.

Built once per episode so that every rule reads the same turn numbering (the index among
the episode's user messages, empty ones included) and nothing is parsed twice.
"""

from __future__ import annotations

import bisect
import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import NamedTuple

from usi.audit.tasks import TaskFacts
from usi.core.episode import Episode, ToolCall

#: Words are lower-cased ``\w+`` runs, as everywhere in usi (spec §1).
WORD_RE = re.compile(r"\w+")
#: Tokens that are markup of a model or of the benchmark, not speech: τ²'s conversation
#: controls, chat-template special tokens of open models, and the study's ``/stop``.
CONTROL_TOKEN_RE = re.compile(
    r"###(?:STOP|TRANSFER|OUT-OF-SCOPE)###"
    r"|<\|[^|<>\s]{1,40}\|>"
    r"|</?s>|<eos>|<bos>|<pad>|<unk>"
    r"|\[/?INST\]|<(?:start|end)_of_turn>"
    r"|(?<!\S)/stop(?!\S)",
    re.IGNORECASE,
)
#: The study's protocol lines: set-up (``\tau …``) and reward request; never user speech.
PROTOCOL_PREFIXES: tuple[str, ...] = ("\\tau ", "\\reward")


def words(text: str) -> list[str]:
    """Lower-cased word tokens."""
    return WORD_RE.findall(text.lower())


def strip_control(text: str) -> str:
    """``text`` without control tokens, whitespace collapsed.

    Every control token holds "###", "<", "[" or "/" (case folding, under which "/ſtop"
    is "/stop", changes none of them): other text, an order id's single "#" included, is
    not searched.
    """
    if "###" in text or "<" in text or "[" in text or "/" in text:
        text = CONTROL_TOKEN_RE.sub(" ", text)
    return " ".join(text.split())


#: Distinct user texts whose reading is kept (see :func:`read_turn`): ~100 bytes of tokens
#: per word, so at most a few tens of MB even when every turn is a long, unique one.
TURN_CACHE = 32_768


_LEADING_GROUP_RE = re.compile(r"\(\?:([^()]*)\)(\??)")


def literal_starts(phrase: str) -> list[str]:
    """``phrase`` as alternatives that each start with a literal, in the order the engine
    tries them: ``(?:a|b) x`` → ``a x``, ``b x``; ``(?:i )?x`` → ``i x``, ``x`` (the optional
    group is tried first)."""
    group = _LEADING_GROUP_RE.match(phrase)
    if group is None:
        if not phrase[:1].isalnum():
            raise ValueError(f"a cue phrase must start with a letter or a group: {phrase!r}")
        return [phrase]
    rest = phrase[group.end() :]
    options = [option + rest for option in group.group(1).split("|")]
    if group.group(2):  # optional: without it, after every option
        options.append(rest)
    return [start for option in options for start in literal_starts(option)]


def _first_letter_branches(phrases: tuple[str, ...]) -> str:
    """``(?<!\\w)(?:phrases)`` for lower-cased text as one branch per first letter, the
    look-behind after that letter: an alternation whose every branch starts with a literal
    lets the engine skip to the positions holding one of those letters (a leading
    look-behind makes it try every position). Each branch keeps its phrases in their order;
    phrases with different first letters cannot match at the same position, so the match is
    the one the plain alternation finds."""
    branches: dict[str, list[str]] = {}
    for phrase in phrases:
        for start in literal_starts(phrase):
            branches.setdefault(start[0], []).append(start[1:])
    return (
        "(?:"
        + "|".join(
            re.escape(first) + r"(?<!\w[\s\S])(?:" + "|".join(rests) + ")"
            for first, rests in branches.items()
        )
        + ")"
    )


class Cues:
    """Phrases found case-insensitively in a turn, as ``re.IGNORECASE`` finds them, faster.

    Python's regex engine gives up its fast scanning for a case-insensitive pattern, and the
    rules search every user turn: on ASCII text (97% of turns) the phrases are matched
    case-sensitively in the lower-cased text instead, which finds the same spans (ASCII
    case folding is ``str.lower``; the phrases are written in lower case, checked here), by
    a pattern the engine can scan quickly (:func:`_first_letter_branches`). Other text goes
    to the case-insensitive pattern, whose Unicode folding (the Kelvin sign matches "k")
    ``lower`` does not reproduce. Answers are cached by text, like :func:`read_turn`'s.
    """

    def __init__(self, phrases: tuple[str, ...]) -> None:
        body = r"(?<!\w)(?:" + "|".join(phrases) + r")(?!\w)"
        unescaped = re.sub(r"\\.", "", body)
        if unescaped != unescaped.lower():
            raise ValueError("cue phrases are written in lower case")
        self.lowered = re.compile(_first_letter_branches(phrases) + r"(?!\w)")
        self.folded = re.compile(body, re.IGNORECASE)
        #: The first phrase in a text as written there (the cache itself: a turn's lookup
        #: is one call).
        self.search: Callable[[str], str | None] = functools.lru_cache(maxsize=TURN_CACHE)(
            self._search
        )

    def _search(self, text: str) -> str | None:
        if text.isascii():
            match = self.lowered.search(text.lower())
            return None if match is None else text[match.start() : match.end()]
        found = self.folded.search(text)
        return None if found is None else found.group(0)


#: An agent message that is a placeholder for one removed from the record (the public
#: tau-usi sample elides agent messages): what the agent said and did is then unknown.
REDACTED_RE = re.compile(r"^\s*\[[^\]]*\b(?:elided|redacted|omitted|removed)\b[^\]]*\]\s*$", re.I)


class UserTurn(NamedTuple):
    """One user message: its index among user messages and among all messages."""

    turn: int
    position: int
    text: str
    #: The text without control tokens, whitespace collapsed.
    clean: str
    #: ``clean`` lower-cased.
    lower: str
    #: Its lower-cased word tokens.
    tokens: tuple[str, ...]
    #: The tokens as one string (a space between two): equal for equal tokens, and a
    #: dictionary key whose hash is computed once per distinct text.
    joined: str


_new_tuple = tuple.__new__


@functools.lru_cache(maxsize=TURN_CACHE)
def read_turn(text: str) -> tuple[str, str, tuple[str, ...], str]:
    """A user message's clean text, lower-cased clean text, word tokens and those tokens
    joined.

    Cached by text: people repeat their short turns ("yes", "ok", "thanks", an order id)
    across thousands of episodes, and what a turn's text yields does not depend on its
    episode; the rules' own per-text work is cached the same way (:class:`Cues`,
    identifiers). Results are exactly those of reading each turn afresh.
    """
    clean = strip_control(text)
    lower = clean.lower()
    tokens = WORD_RE.findall(lower)
    return clean, lower, tuple(tokens), " ".join(tokens)


#: Renders tool-call arguments as ``json.dumps(arguments, ensure_ascii=False)`` does, without
#: building an encoder per call.
_ARGUMENTS_JSON = json.JSONEncoder(ensure_ascii=False)
#: Argument values whose rendering is fixed by their type and value (not floats: 0.0 and
#: -0.0 are equal keys but render apart).
_PLAIN = frozenset({str, int, bool, type(None)})


@functools.lru_cache(maxsize=4096)
def _plain_arguments(items: tuple[tuple[str, object], ...], types: tuple[type, ...]) -> str:
    # ``types`` is part of the key: True == 1, and they are written apart
    return _ARGUMENTS_JSON.encode(dict(items))


def arguments_text(call: ToolCall) -> str:
    """A tool call's arguments as the user could read them: their JSON, as
    ``json.dumps(arguments, ensure_ascii=False)`` writes it. Calls repeat their arguments
    (the same user id, the same order), so flat ones are rendered once (cached)."""
    arguments = call.arguments
    types = tuple(map(type, arguments.values()))
    if _PLAIN.issuperset(types):
        return _plain_arguments(tuple(arguments.items()), types)
    return _ARGUMENTS_JSON.encode(arguments)


@dataclass
class EpisodeView:
    """The episode, its task facts (if aligned) and the instruction the user was given.

    Its messages are walked once, here: the user's turns, whether agent messages were
    removed, the agent's tool calls and what the user could read.
    """

    episode: Episode
    task: TaskFacts | None
    turns: list[UserTurn] = field(init=False)
    #: The task's scenario and/or the instruction card the episode carries.
    instruction: str | None = field(init=False)
    #: True when agent messages were removed from the record (placeholders only).
    incomplete: bool = field(init=False)
    #: The agent's tool calls, in order.
    agent_calls: list[ToolCall] = field(init=False)
    #: What the user could read (:meth:`context_before`): the agent's messages, the
    #: arguments of its tool calls and the tool results, each with its message's position.
    readable: tuple[list[int], list[str]] = field(init=False)

    def __post_init__(self) -> None:
        turns: list[UserTurn] = []
        calls: list[ToolCall] = []
        seen: list[str] = []
        seen_at: list[int] = []
        incomplete = False
        for position, message in enumerate(self.episode.messages):
            text = message.content
            if message.role == "user":
                if not text.startswith(PROTOCOL_PREFIXES):
                    # UserTurn(n, position, text, *reading) without its Python-level __new__
                    reading = (len(turns), position, text, *read_turn(text))
                    turns.append(_new_tuple(UserTurn, reading))
                continue
            if text:
                seen.append(text)
                seen_at.append(position)
                if (
                    not incomplete
                    and text[0] in "[ "
                    and message.role == "assistant"
                    and REDACTED_RE.match(text)
                ):
                    incomplete = True
            if message.tool_calls:
                seen.extend(map(arguments_text, message.tool_calls))
                seen_at.extend([position] * len(message.tool_calls))
                if message.role == "assistant":
                    calls.extend(message.tool_calls)
        self.turns = turns
        parts = [self.task.instruction] if self.task is not None else []
        card = self.episode.metadata.get("instruction")
        if isinstance(card, str) and card.strip():
            parts.append(card)
        self.instruction = "\n".join(parts) if parts else None
        self.incomplete = incomplete
        self.agent_calls = calls
        self.readable = seen_at, seen

    @cached_property
    def suggested_opening(self) -> str:
        """The first message the study's card suggested (copying it is not a leak)."""
        value = self.episode.metadata.get("first_message")
        return value if isinstance(value, str) else ""

    def context_before(self, position: int) -> str:
        """What the user could have read before message ``position``: the agent's messages,
        the arguments of its tool calls and the tool results."""
        positions, parts = self.readable
        return "\n".join(parts[: bisect.bisect_left(positions, position)])

    def last_agent_text(self, position: int) -> str:
        """The agent's last visible message before message ``position``."""
        for message in reversed(self.episode.messages[:position]):
            if message.role == "assistant" and message.content.strip():
                return message.content
        return ""

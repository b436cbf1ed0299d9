"""``hallucinated_identifier``: the user states identity or booking data it was never given.

Rule (needs the instruction): every identifier in a user turn — order id (``#W1234567``),
reservation or flight code (six upper-case letters/digits with a digit: ``EHGLP3``), user id
(``emma_kim_9957``), payment method id (``credit_card_9513926``, ``gift_card_…``,
``paypal_…``, ``certificate_…``), e-mail, zip code (five digits), phone number, and long
numbers (seven digits or more: item and product ids) — must appear in the instruction or
earlier in the conversation: the agent's messages, its tool-call arguments and the tool
results. A person who repeats the order id the agent read out is fine. Comparison ignores
case, a leading ``#`` and the separators inside phone numbers.

Also flagged, even if the value appeared earlier: a user id or e-mail that contradicts the
instruction, i.e. the instruction gives one of that kind and the user states another (the
user adopting an account the agent found for somebody else). One error per distinct value,
at its first mention; evidence: ``kind value`` (and what it contradicts). Skipped without an
instruction; on a transcript whose agent messages were removed only the contradiction part
runs (``hallucinated_identifier:unseen`` skipped).
"""

from __future__ import annotations

import bisect
import functools
import itertools
import re
import string
from collections.abc import Iterator
from typing import NamedTuple, cast

from usi.audit.models import AuditError
from usi.audit.view import TURN_CACHE, EpisodeView

PAYMENT_PREFIXES: tuple[str, ...] = (
    "credit_card",
    "debit_card",
    "gift_card",
    "paypal",
    "certificate",
)
#: Identity kinds a user has exactly one of: stating another one contradicts the instruction.
SINGLE_VALUED: frozenset[str] = frozenset({"user id", "e-mail"})

#: Identifier shapes, tried in this order on each candidate token (a whitespace- or
#: punctuation-delimited run holding a digit or an "@").
_TOKEN_KINDS: tuple[tuple[str, str], ...] = (
    ("e-mail", r"[A-Za-z0-9][\w.+-]*@[A-Za-z0-9][\w-]*(?:\.[\w-]+)+"),
    ("id", r"[A-Za-z]+(?:_[A-Za-z]+)*_\d{3,}"),
    ("order id", r"#?[Ww]\d{7}"),
    ("number", r"\d{7,}"),
    ("code", r"(?=[A-Z0-9]*[A-Z])(?=[A-Z0-9]*\d)[A-Z0-9]{6}"),
    ("zip code", r"\d{5}"),
)
#: The shapes as one pattern, one group each: a full match takes the first alternative that
#: spans the whole token, so ``lastindex`` names the shape the in-order loop would have found.
_TOKEN_RE = re.compile("|".join(f"({pattern})" for _, pattern in _TOKEN_KINDS))
#: Phone numbers span separators, so they are found in the whole text (when its core is
#: there), before the tokens.
PHONE_RE = re.compile(r"(?<![\w+])(?:\+?1[ .-]?)?\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}(?!\w)")
#: The core every phone number has (no look-behind, no optional prefix: a cheap first test).
_PHONE_HINT_RE = re.compile(r"\d{3}\)?[ .-]\d{3}[ .-]\d{4}")
_DELIMITERS = r"\s,;:!?()\[\]{}<>\"'`=|/"
#: A maximal run of non-delimiters holding a digit or an "@", found from the run's start
#: (the look-behind) so that a run without one is scanned once, not from every character.
_CANDIDATE_RE = re.compile(rf"(?<![^{_DELIMITERS}])[^{_DELIMITERS}\d@]*[\d@][^{_DELIMITERS}]*")
_TRAILING = ".-_#+"
#: Every identifier has a digit or an "@": turns without one are not scanned.
_HINT_RE = re.compile(r"[\d@]")
UNSEEN_PART = "hallucinated_identifier:unseen"
_DIGIT_SEPARATORS_RE = re.compile(r"(?<=\d)[\s().+-]+(?=\d)")


def _kind(kind: str, value: str) -> str:
    if kind == "id":
        lowered = value.lower()
        return "payment method id" if lowered.startswith(PAYMENT_PREFIXES) else "user id"
    if kind == "code":
        return "reservation or flight code"
    return kind


def normalise(value: str) -> str:
    """The comparable form: lower case, no ``#``, no separators between digits."""
    return _DIGIT_SEPARATORS_RE.sub("", value.lower().lstrip("#"))


class Identifier(NamedTuple):
    kind: str
    #: As written in the text.
    value: str
    #: Its comparable form (:func:`normalise`).
    key: str


@functools.lru_cache(maxsize=TURN_CACHE)
def identifiers(text: str) -> tuple[Identifier, ...]:
    """Every identifier in ``text``: phones, then tokens (cached by text, as
    :func:`usi.audit.view.read_turn`: ids are repeated across turns). A text without a digit
    or an "@" has none."""
    hint = _HINT_RE.search(text)
    if hint is None:
        return ()
    found: list[tuple[str, str]] = []
    if _PHONE_HINT_RE.search(text, hint.start()) is not None:
        phones = PHONE_RE.findall(text)
        found.extend(("phone", phone) for phone in phones)
        if phones:
            text = PHONE_RE.sub(" ", text)
            hint = _HINT_RE.search(text)
    # Every candidate holds a digit or an "@", so none starts before the run holding the
    # first one, nor before the space that precedes that run: the scan starts there.
    start = text.rfind(" ", 0, hint.start()) + 1 if hint is not None else len(text)
    for candidate in _CANDIDATE_RE.findall(text, start):
        token = candidate.rstrip(_TRAILING)
        if token.startswith("#") and len(token) > 1 and token[1] not in "Ww":
            token = token[1:]
        shape = _TOKEN_RE.fullmatch(token)
        if shape is not None:
            kind = _TOKEN_KINDS[cast(int, shape.lastindex) - 1][0]
            found.append((_kind(kind, token), token))
    return tuple(Identifier(kind, value, normalise(value)) for kind, value in found)


def _known_text(text: str) -> str:
    return _DIGIT_SEPARATORS_RE.sub("", text.lower().replace("#", ""))


#: A part whose known text, past any separators, starts or ends with a digit: joined to a
#: neighbour that does too, the separators between them (the joining newline included)
#: are removed.
_STARTS_DIGIT_RE = re.compile(r"[\s().+-]*\d")
_ENDS_DIGIT_RE = re.compile(r"\d[\s().+-]*\Z")
_ONLY_SEPARATORS_RE = re.compile(r"[\s().+-]*\Z")


@functools.lru_cache(maxsize=TURN_CACHE)
def _known_part(part: str) -> tuple[str, bool, bool]:
    """One readable part's known text, and whether it may join the part before (starts
    with a digit) or after it (ends with one, or is separators only); cached by text: the
    agent's phrasing and the tools' results repeat across episodes."""
    known = _known_text(part)
    if _ONLY_SEPARATORS_RE.match(known) is not None:
        return known, True, True
    return (
        known,
        _STARTS_DIGIT_RE.match(known) is not None,
        _ENDS_DIGIT_RE.search(known) is not None,
    )


#: ASCII text lower-cased with everything the known text may drop (``#`` and every separator
#: between digits) deleted: every ``\\s`` character below 128 is listed, as the regex engine
#: itself says, and upper-case letters map as ``str.lower`` maps them in ASCII.
_LOOSE = str.maketrans(
    string.ascii_uppercase,
    string.ascii_lowercase,
    "#().+-" + "".join(c for c in map(chr, range(128)) if re.match(r"\s", c)),
)


class KnownText:
    """The known text (:func:`normalise`'s form) of what the user could read before each turn.

    The context before a turn is the readable parts before it joined by newlines
    (:meth:`EpisodeView.context_before`). Lower-casing and dropping ``#`` work character by
    character, and the newline between two parts is a separator that only digits on both
    sides of it can remove. So unless two neighbouring parts may meet digit to digit (a
    part of separators only may let its neighbours meet), the known text of a context is
    the known texts of its parts joined by newlines, a prefix of the whole episode's: each
    part is normalised once (and cached by text), and a key is looked up in that prefix of
    the one joined text. Otherwise each context is normalised whole, as the rule says.

    First, in ASCII text, a quicker test that can only say no: with every character the
    known text may drop deleted from both (``#`` and all separators), a key of the known
    text of any context is in the lower-cased readable text of the whole episode.
    """

    def __init__(self, view: EpisodeView) -> None:
        self._view = view
        whole = "\n".join(view.readable[1])
        self._loose = whole.translate(_LOOSE) if whole.isascii() else None
        self._positions: list[int] | None = None
        self._joined: str | None = None
        self._ends: list[int] = []
        self._contexts: dict[int, str] = {}

    def _index(self) -> list[int]:
        """The exact form, built on the first key the quick test cannot rule out."""
        if self._positions is None:
            positions, parts = self._view.readable
            known = [_known_part(part) for part in parts]
            if not any(a[2] and b[1] for a, b in itertools.pairwise(known)):
                self._joined = "\n".join(k[0] for k in known)
                self._ends = list(itertools.accumulate(len(k[0]) + 1 for k in known))
            self._positions = positions
        return self._positions

    def before(self, key: str, position: int) -> bool:
        """Was ``key`` in the known text of the context before message ``position``?"""
        if self._loose is not None and key.translate(_LOOSE) not in self._loose:
            return False
        count = bisect.bisect_left(self._index(), position)
        if self._joined is not None:
            end = self._ends[count - 1] - 1 if count else 0
            return self._joined.find(key, 0, end) != -1
        context = self._contexts.get(count)
        if context is None:
            context = self._contexts[count] = _known_text(self._view.context_before(position))
        return key in context


@functools.lru_cache(maxsize=4096)
def _instruction_profile(instruction: str) -> tuple[str, dict[str, frozenset[str]]]:
    """The instruction as known text, and its identifiers by kind (cached: tasks repeat)."""
    given: dict[str, set[str]] = {}
    for kind, _, key in identifiers(instruction):
        given.setdefault(kind, set()).add(key)
    return _known_text(instruction), {k: frozenset(v) for k, v in given.items()}


def skipped(view: EpisodeView) -> list[str]:
    """Nothing to compare with without an instruction; on a transcript without the agent's
    messages only the contradiction part can run."""
    if view.instruction is None:
        return ["hallucinated_identifier"]
    return [UNSEEN_PART] if view.incomplete else []


def check(view: EpisodeView) -> Iterator[AuditError]:
    instruction_known, given = _instruction_profile(view.instruction or "")
    unseen = not view.incomplete
    reported: set[str] = set()
    known: KnownText | None = None
    for turn in view.turns:
        for kind, value, key in identifiers(turn.text):
            if key in reported:
                continue
            if kind in SINGLE_VALUED and given.get(kind) and key not in given[kind]:
                reported.add(key)
                theirs = ", ".join(sorted(given[kind]))
                yield AuditError(
                    kind="hallucinated_identifier",
                    turn=turn.turn,
                    evidence=f"{kind} {value} (the instruction gives {theirs})",
                )
                continue
            if not unseen or key in instruction_known:
                continue
            if known is None:
                known = KnownText(view)
            if known.before(key, turn.position):
                continue
            reported.add(key)
            yield AuditError(
                kind="hallucinated_identifier", turn=turn.turn, evidence=f"{kind} {value}"
            )

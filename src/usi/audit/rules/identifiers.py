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

import functools
import re

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
_TOKEN_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("e-mail", re.compile(r"[A-Za-z0-9][\w.+-]*@[A-Za-z0-9][\w-]*(?:\.[\w-]+)+")),
    ("id", re.compile(r"[A-Za-z]+(?:_[A-Za-z]+)*_\d{3,}")),
    ("order id", re.compile(r"#?[Ww]\d{7}")),
    ("number", re.compile(r"\d{7,}")),
    ("code", re.compile(r"(?=[A-Z0-9]*[A-Z])(?=[A-Z0-9]*\d)[A-Z0-9]{6}")),
    ("zip code", re.compile(r"\d{5}")),
)
#: Phone numbers span separators, so they are found in the whole text (when three digits
#: and a separator hint at one), before the tokens.
PHONE_RE = re.compile(r"(?<![\w+])(?:\+?1[ .-]?)?\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}(?!\w)")
_PHONE_HINT_RE = re.compile(r"\d{3}[ .)-]")
_CANDIDATE_RE = re.compile(r"[^\s,;:!?()\[\]{}<>\"'`=|/]*[\d@][^\s,;:!?()\[\]{}<>\"'`=|/]*")
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


@functools.lru_cache(maxsize=TURN_CACHE)
def identifiers(text: str) -> tuple[tuple[str, str], ...]:
    """(kind, value as written) of every identifier in ``text``: phones, then tokens (cached
    by text, as :func:`usi.audit.view.read_turn`: ids are repeated across turns)."""
    found: list[tuple[str, str]] = []
    if _PHONE_HINT_RE.search(text) is not None:
        found.extend(("phone", phone) for phone in PHONE_RE.findall(text))
        text = PHONE_RE.sub(" ", text)
    for candidate in _CANDIDATE_RE.findall(text):
        token = candidate.rstrip(_TRAILING)
        if token.startswith("#") and len(token) > 1 and token[1] not in "Ww":
            token = token[1:]
        for kind, pattern in _TOKEN_KINDS:
            if pattern.fullmatch(token):
                found.append((_kind(kind, token), token))
                break
    return tuple(found)


def _known_text(text: str) -> str:
    return _DIGIT_SEPARATORS_RE.sub("", text.lower().replace("#", ""))


@functools.lru_cache(maxsize=4096)
def _instruction_profile(instruction: str) -> tuple[str, dict[str, frozenset[str]]]:
    """The instruction as known text, and its identifiers by kind (cached: tasks repeat)."""
    given: dict[str, set[str]] = {}
    for kind, value in identifiers(instruction):
        given.setdefault(kind, set()).add(normalise(value))
    return _known_text(instruction), {k: frozenset(v) for k, v in given.items()}


def skipped(view: EpisodeView) -> list[str]:
    """Nothing to compare with without an instruction; on a transcript without the agent's
    messages only the contradiction part can run."""
    if view.instruction is None:
        return ["hallucinated_identifier"]
    return [UNSEEN_PART] if view.incomplete else []


def check(view: EpisodeView) -> list[AuditError]:
    instruction_known, given = _instruction_profile(view.instruction or "")
    unseen = not view.incomplete
    errors: list[AuditError] = []
    reported: set[str] = set()
    for turn in view.turns:
        if _HINT_RE.search(turn.text) is None:
            continue
        found = identifiers(turn.text)
        if not found:
            continue
        context: str | None = None
        for kind, value in found:
            key = normalise(value)
            if key in reported:
                continue
            if kind in SINGLE_VALUED and given.get(kind) and key not in given[kind]:
                reported.add(key)
                theirs = ", ".join(sorted(given[kind]))
                errors.append(
                    AuditError(
                        kind="hallucinated_identifier",
                        turn=turn.turn,
                        evidence=f"{kind} {value} (the instruction gives {theirs})",
                    )
                )
                continue
            if not unseen or key in instruction_known:
                continue
            if context is None:
                context = _known_text(view.context_before(turn.position))
            if key in context:
                continue
            reported.add(key)
            errors.append(
                AuditError(
                    kind="hallucinated_identifier", turn=turn.turn, evidence=f"{kind} {value}"
                )
            )
    return errors

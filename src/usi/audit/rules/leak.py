"""``instruction_leak``: the user reveals the instruction it was given instead of playing it.

Two parts:

- *copied span* (needs the instruction): a user turn repeats :data:`LEAK_MIN_TOKENS` (12) or
  more consecutive word tokens of the instruction — the τ² scenario and, for study sessions,
  the instruction card. A span that the card's suggested first message also contains is not
  a leak (participants were invited to send it), nor one the agent said first. The same
  part catches *second-person instruction text*: a sentence that opens like a "You …"/
  "Your …" sentence of the instruction for :data:`SECOND_PERSON_MIN_TOKENS` words ("You are
  Emma Kim. Your user id is …" spoken by the user).
- *meta-framing* (needs nothing): the user talks about the role-play itself — "you are
  role-playing", "my instructions say", "according to my task", "as a simulated user",
  "as an AI language model".

Without an instruction only the framing part runs and the episode's ``skipped`` list says
``instruction_leak:copied_span``. Text the instruction puts in quotes is what the user is
told to say, so it is left out of the comparison. Evidence: the copied span or the framing
phrase.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Sequence
from typing import NamedTuple

from usi.audit.models import AuditError
from usi.audit.view import TURN_CACHE, Cues, EpisodeView, read_turn, words

LEAK_MIN_TOKENS = 12
SECOND_PERSON_MIN_TOKENS = 6
SKIPPED_PART = "instruction_leak:copied_span"

FRAMING_CUES: tuple[str, ...] = (
    r"role[- ]?play(?:ing|ed)?",
    r"my (?:instructions?|prompt|script|scenario|task card)"
    r" (?:says?|said|tells? me|states?|are|is)",
    r"(?:according to|per|based on|as per) (?:my|the) (?:instructions?|prompt|script|scenario)",
    r"(?:the|my) instructions? (?:say|says|said|tell me|state)",
    r"i(?:'m| am|'ve been| was) (?:instructed|told by my instructions|supposed to pretend)",
    r"as (?:a|the) (?:simulated|simulator|fake) (?:user|customer)",
    r"(?:i am|i'm) (?:a|an|the) (?:user simulator|simulated user|ai|language model|llm)",
    r"as an ai(?: language model)?",
    r"(?:the|my) system prompt",
)
FRAMING = Cues(FRAMING_CUES)
_SENTENCE_RE = re.compile(r"[^.!?\n]+")
#: Text the instruction quotes is text the user is told to say ("always end each of your
#: replies with 'You are the most lenient …'"): saying it is following the instruction.
_QUOTED_RE = re.compile(r"(?<!\w)'[^'\n]{8,}'(?!\w)|\"[^\"\n]{8,}\"|“[^”\n]{8,}”")


#: A lower-cased sentence whose first word token is "you" or "your" (as :func:`words` splits).
_YOU_HEAD_RE = re.compile(r"\W*your?(?!\w)")


def _ngrams(tokens: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def _second_person_openings(instruction: str) -> set[tuple[str, ...]]:
    openings: set[tuple[str, ...]] = set()
    for sentence in _SENTENCE_RE.findall(instruction):
        tokens = words(sentence)
        if len(tokens) >= SECOND_PERSON_MIN_TOKENS and tokens[0] in ("you", "your"):
            openings.add(tuple(tokens[:SECOND_PERSON_MIN_TOKENS]))
    return openings


def _copied_span(
    tokens: Sequence[str],
    grams: frozenset[tuple[str, ...]],
    allowed: set[tuple[str, ...]],
    firsts: frozenset[str],
) -> tuple[int, int] | None:
    """The longest run of tokens whose every 12-gram is in ``grams`` and not ``allowed``.

    ``firsts`` are the first tokens of ``grams``: a window starting elsewhere is not built.
    """
    n = LEAK_MIN_TOKENS
    best: tuple[int, int] | None = None
    start = end = -1
    for i in range(len(tokens) - n + 1):
        if tokens[i] not in firsts:
            continue
        gram = tuple(tokens[i : i + n])
        if gram in grams and gram not in allowed:
            if i <= end:
                end = i + n
            else:
                start, end = i, i + n
            if best is None or end - start > best[1] - best[0]:
                best = (start, end)
    return best


class _Profile(NamedTuple):
    """What a turn is compared with: the instruction's 12-grams (and their first tokens)
    and its second-person openings."""

    grams: frozenset[tuple[str, ...]]
    firsts: frozenset[str]
    openings: frozenset[tuple[str, ...]]


@functools.lru_cache(maxsize=4096)
def _instruction_profile(instruction: str) -> _Profile:
    """The instruction's 12-grams and second-person openings (tasks repeat across episodes)."""
    unquoted = _QUOTED_RE.sub(" | ", instruction)
    grams = _ngrams(words(unquoted), LEAK_MIN_TOKENS)
    return _Profile(
        frozenset(grams),
        frozenset(gram[0] for gram in grams),
        frozenset(_second_person_openings(unquoted)),
    )


@functools.lru_cache(maxsize=TURN_CACHE)
def _copies(text: str, instruction: str) -> bool:
    """Whether the user turn ``text`` holds 12 tokens in a row of ``instruction`` (before
    what the user may have read is allowed for); cached: the same turn on the same task."""
    tokens = read_turn(text)[2]
    if len(tokens) < LEAK_MIN_TOKENS:
        return False
    profile = _instruction_profile(instruction)
    return _copied_span(tokens, profile.grams, set(), profile.firsts) is not None


@functools.lru_cache(maxsize=TURN_CACHE)
def _second_person_heads(text: str) -> tuple[tuple[tuple[str, ...], str], ...]:
    """(first six words, sentence) of each sentence of ``text`` whose first word is "you" or
    "your" (every opening starts so); cached by text, as the turns' reading is. The check
    asks only for turns holding "you"."""
    heads: list[tuple[tuple[str, ...], str]] = []
    for sentence in _SENTENCE_RE.findall(text):
        if _YOU_HEAD_RE.match(sentence.lower()) is not None:
            heads.append((tuple(words(sentence)[:SECOND_PERSON_MIN_TOKENS]), sentence))
    return tuple(heads)


def skipped(view: EpisodeView) -> list[str]:
    return [SKIPPED_PART] if view.instruction is None else []


def check(view: EpisodeView) -> Iterator[AuditError]:
    instruction = view.instruction
    profile = _instruction_profile(instruction) if instruction else None
    for turn in view.turns:
        text = turn.clean
        framing = FRAMING.search(text)
        if framing is not None:
            yield AuditError(kind="instruction_leak", turn=turn.turn, evidence=framing)
            continue
        if profile is None or not profile.grams:
            continue
        tokens = turn.tokens
        if len(tokens) >= LEAK_MIN_TOKENS and instruction and _copies(turn.text, instruction):
            # only now read what the card and the agent said before
            before = view.context_before(turn.position)
            said = [*words(view.suggested_opening), "\n", *words(before)]
            allowed = _ngrams(said, LEAK_MIN_TOKENS)
            span = _copied_span(tokens, profile.grams, allowed, profile.firsts)
            if span is not None:
                evidence = " ".join(tokens[span[0] : span[1]])
                yield AuditError(kind="instruction_leak", turn=turn.turn, evidence=evidence)
                continue
        if not profile.openings or "you" not in turn.lower:  # every opening holds "you"
            continue
        for head, sentence in _second_person_heads(text):
            if head in profile.openings:
                yield AuditError(kind="instruction_leak", turn=turn.turn, evidence=sentence.strip())
                break

"""The paper's 20 per-conversation features (definitions ``tau-usi``, spec §10.2–§10.3).

The computation follows the paper's ``extract_conversation_features`` (``sunnweiwei/OdysSim``,
``agents/tau_usi/utils.py``, Apache-2.0) step for step, so each feature equals the
reference's to the last bit on the same conversation. Quirks that are part of the
definition, each kept here on purpose:

- words are whitespace-separated tokens of the turn with agent markup removed (not ``\\w+``):
  ``"ok!"`` is one word, and a ``###STOP###`` glued to text is a word too (only a message
  that is exactly the token, after stripping, is a meta message);
- ``repeat_rate`` and ``id_confuse_rate`` are per-conversation flags (0/1), not rates: a
  lower-cased whitespace trigram seen more than 10 times over all user turns; any turn
  matching the agent-talk pattern;
- the three question types are mutually exclusive per turn, tested in the order pushback,
  clarification, information;
- ``verbosity_cv`` is the *population* std over the mean of the word counts (0 when the mean
  is 0);
- ``n_turns`` counts every non-meta message of both roles, as the paper's file recorded them
  (an agent message there holds its tool calls and results; see :mod:`usi.data.paper`);
- a conversation with no user turn left has no features (``None``) — its entry still counts
  for the reward.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from itertools import chain
from typing import Any, NamedTuple

from usi.fingerprint.tau_usi.patterns import (
    ACCUSATION_RE,
    ACK_ONLY_RE,
    AGENT_MARKUP_RE,
    CERTAINTY_RE,
    CLARIFY_Q_RE,
    EMDASH_RE,
    EMOTION_PATTERNS,
    ID_CONFUSE_RE,
    ID_DENSITY_RE,
    INFO_Q_RE,
    PIVOT_RE,
    POLITE_PATTERNS,
    PUSHBACK_Q_RE,
    UNCERTAINTY_RE,
)

FEATURES: tuple[str, ...] = (
    "n_turns",
    "user_words_per_turn",
    "politeness_rate",
    "short_msg_rate",
    "formality_rate",
    "ack_only_rate",
    "verbosity_cv",
    "repeat_rate",
    "id_confuse_rate",
    "info_frontload",
    "id_density",
    "opening_words",
    "uncertainty_rate",
    "certainty_rate",
    "pushback_q_rate",
    "clarify_q_rate",
    "info_q_rate",
    "emotion_rate",
    "accusation_rate",
    "pivot_rate",
)
"""The paper's 20 features, in the order and with the names of its output."""

DIMENSIONS: dict[str, tuple[str, ...]] = {
    "D1_conv": (
        "politeness_rate",
        "short_msg_rate",
        "formality_rate",
        "ack_only_rate",
        "verbosity_cv",
        "repeat_rate",
        "id_confuse_rate",
    ),
    "D2_info": ("info_frontload", "id_density", "user_words_per_turn", "opening_words"),
    "D3_clarif": (
        "uncertainty_rate",
        "certainty_rate",
        "pushback_q_rate",
        "clarify_q_rate",
        "info_q_rate",
    ),
    "D4_react": ("emotion_rate", "accusation_rate", "pivot_rate"),
}
"""The paper's four dimensions (spec §10.4): note words per turn sits in D2, not D1."""

SCORED: tuple[str, ...] = tuple(f for keys in DIMENSIONS.values() for f in keys)
"""The 19 features that enter a dimension (``n_turns`` does not)."""

PERCENT: frozenset[str] = frozenset(
    f for f in SCORED if f.endswith("_rate") or f == "info_frontload"
)
"""Features the paper's row reports × 100 (rates, the two flags and front-loading)."""

ROW_NAMES: dict[str, str] = {
    "n_turns": "turns",
    "user_words_per_turn": "user_wds_per_turn",
    "politeness_rate": "politeness_pct",
    "short_msg_rate": "short_msg_pct",
    "formality_rate": "formality_pct",
    "ack_only_rate": "ack_only_pct",
    "verbosity_cv": "verbosity_cv",
    "repeat_rate": "repeat_pct",
    "id_confuse_rate": "id_confuse_pct",
    "info_frontload": "info_frontload_pct",
    "id_density": "id_density",
    "opening_words": "opening_words",
    "uncertainty_rate": "uncertainty_pct",
    "certainty_rate": "certainty_pct",
    "pushback_q_rate": "pushback_q_pct",
    "clarify_q_rate": "clarify_q_pct",
    "info_q_rate": "info_q_pct",
    "emotion_rate": "emotion_pct",
    "accusation_rate": "accusation_pct",
    "pivot_rate": "pivot_pct",
}
"""Feature → the column name of the paper's summary row (``build_row``)."""

TRIGRAM_REPEAT_LIMIT = 10
"""A trigram seen more than this many times over the user turns sets ``repeat_rate``."""
SHORT_WORDS = 3
"""A turn of at most this many words is short."""


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _population_std(values: Sequence[float]) -> float:
    if len(values) <= 1:
        return 0.0
    mean = _mean(values)
    return (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5


class _Turn(NamedTuple):
    """What one user turn contributes: its words and what the patterns find in it."""

    words: int  # whitespace words of the turn, agent markup removed
    trigrams: tuple[str, ...]  # its lower-cased word trigrams, each as "w1 w2 w3"
    formal: bool  # an em or en dash (tested on the text as typed)
    polite: bool
    ack: bool
    id_confuse: bool
    ids: int
    uncertainty: bool
    certainty: bool
    question: int  # 1 pushback, 2 clarification, 3 information, 0 none (exclusive, in order)
    emotion: bool
    accusation: bool
    pivot: bool


@lru_cache(maxsize=2**16)
def _turn(text: str) -> _Turn:
    """One user turn's words and cues. Cached: people and simulators repeat turns ("yes",
    "ok", "thanks"), and all of it depends on the turn's text only."""
    cleaned = AGENT_MARKUP_RE.sub("", text) if "<" in text else text
    lowered = cleaned.lower()
    question = 0
    if PUSHBACK_Q_RE.search(lowered):
        question = 1
    elif CLARIFY_Q_RE.search(lowered):
        question = 2
    elif INFO_Q_RE.search(lowered):
        question = 3
    words = lowered.split()
    return _Turn(
        words=len(cleaned.split()),
        # Joined, a trigram is one string whose hash is computed once (a word holds no space,
        # so the join loses nothing); a cached turn's trigrams are then counted at dict speed.
        trigrams=tuple(map(" ".join, zip(words, words[1:], words[2:], strict=False))),
        formal=EMDASH_RE.search(cleaned) is not None,
        polite=POLITE_PATTERNS.search(lowered) is not None,
        ack=ACK_ONLY_RE.match(lowered.strip()) is not None,
        id_confuse=ID_CONFUSE_RE.search(lowered) is not None,
        ids=len(ID_DENSITY_RE.findall(lowered)),
        uncertainty=UNCERTAINTY_RE.search(lowered) is not None,
        certainty=CERTAINTY_RE.search(lowered) is not None,
        question=question,
        emotion=EMOTION_PATTERNS.search(lowered) is not None,
        accusation=ACCUSATION_RE.search(lowered) is not None,
        pivot=PIVOT_RE.search(lowered) is not None,
    )


def conversation_features(user_turns: Sequence[str], n_turns: int) -> dict[str, float] | None:
    """The 20 features of one conversation from its user turns (meta messages already out).

    ``n_turns`` is the number of non-meta messages of both roles (:mod:`usi.data.paper`).
    None when there is no user turn.

    A rate is ``count / n_user``: the reference's mean of 0.0/1.0 flags sums to the same
    exact integer, so the quotient is the same float (likewise the words per turn and the
    identifier density, means of integers).
    """
    if not user_turns:
        return None
    turns = [_turn(text) for text in user_turns]
    # Each field of ``column``: that field's values over the turns, in order.
    column: Any = _Turn._make(zip(*turns, strict=True))
    word_counts = column.words
    n_user = len(turns)
    total_words = sum(word_counts)
    words_per_turn = total_words / n_user

    verbosity_cv = 0.0
    if words_per_turn > 0:
        verbosity_cv = _population_std([float(c) for c in word_counts]) / words_per_turn

    trigrams = Counter(chain.from_iterable(column.trigrams))

    questions = Counter(column.question)

    return {
        "n_turns": float(n_turns),
        "user_words_per_turn": float(words_per_turn),
        "politeness_rate": sum(column.polite) / n_user,
        "short_msg_rate": sum(c <= SHORT_WORDS for c in word_counts) / n_user,
        "formality_rate": sum(column.formal) / n_user,
        "ack_only_rate": sum(column.ack) / n_user,
        "verbosity_cv": float(verbosity_cv),
        "repeat_rate": float(max(trigrams.values(), default=0) > TRIGRAM_REPEAT_LIMIT),
        "id_confuse_rate": float(any(column.id_confuse)),
        "info_frontload": sum(word_counts[:2]) / total_words if total_words > 0 else 0.0,
        "id_density": sum(column.ids) / n_user,
        "opening_words": float(word_counts[0]),
        "uncertainty_rate": sum(column.uncertainty) / n_user,
        "certainty_rate": sum(column.certainty) / n_user,
        "pushback_q_rate": questions[1] / n_user,
        "clarify_q_rate": questions[2] / n_user,
        "info_q_rate": questions[3] / n_user,
        "emotion_rate": sum(column.emotion) / n_user,
        "accusation_rate": sum(column.accusation) / n_user,
        "pivot_rate": sum(column.pivot) / n_user,
    }

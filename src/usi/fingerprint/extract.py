"""Per-episode behavioral fingerprints (spec §2), computed a chunk of episodes at a time.

Why chunks: the 19 features are cheap individually, but a corpus has tens of thousands of
episodes and hundreds of thousands of turns, and paying Python's per-call overhead for every
(turn, lexicon) pair dominates. So a chunk's user turns are lower-cased and joined into one text,
each preceded by :data:`~usi.fingerprint.lexicons.TURN_SEPARATOR`; one ``finditer`` pass finds
the cues of all twelve lexicons, match offsets are mapped back to turns with
``numpy.searchsorted``, word trigrams are counted as integer codes, and per-episode sums are
``numpy.bincount`` over the turn → episode index. No cue can match across the separator, so
this gives exactly the per-turn answer (tests check it against a plain per-turn reference on
generated turns).

Conventions the spec leaves open, fixed here:

- an episode with no user turns has every feature 0.0 (it shows no user behaviour; 0.0 keeps
  the table dense, and ``n_user_turns`` in :func:`usi.inputs.frame.episode_frame` tells it apart);
- ``verbosity_cv`` uses the population standard deviation (ddof=0): the turns are all of the
  episode's turns, not a sample of them; it is 0.0 with fewer than 2 turns or no tokens at all;
- ``front_loading_ratio`` is 1.0 when the episode has no tokens beyond its first two turns,
  including when it has no tokens at all (spec: 1.0 with one turn);
- ``repetition_rate`` counts trigrams inside turns only (a trigram never spans two turns).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from itertools import chain

import numpy as np
import numpy.typing as npt
import pandas as pd

from usi.core.episode import Episode
from usi.fingerprint.features import CHUNK_EPISODES, FEATURES
from usi.fingerprint.lexicons import (
    CUE_FEATURES,
    CUE_SCAN_PATTERN,
    FRONT_LOADING_TURNS,
    IDENTIFIER_HINT_PATTERN,
    IDENTIFIER_PATTERN,
    REPETITION_MIN_EXCLUSIVE,
    REPETITION_NGRAM,
    SHORT_UTTERANCE_MAX_TOKENS,
    TOKEN_PATTERN,
    TURN_SEPARATOR,
)

CUE_SCAN_RE = re.compile(CUE_SCAN_PATTERN)
TOKEN_RE = re.compile(TOKEN_PATTERN)
IDENTIFIER_RE = re.compile(IDENTIFIER_PATTERN)
IDENTIFIER_HINT_RE = re.compile(IDENTIFIER_HINT_PATTERN)

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

#: Features that are a per-turn flag averaged over the episode's turns, and can therefore be
#: pooled over turns ("30.4% of all human turns are short"). Repetition is left out: whether a
#: turn repeats depends on the rest of its episode.
TURN_FLAG_FEATURES: tuple[str, ...] = ("short_utterance_rate", *CUE_FEATURES)

#: Stand-in for a separator character found inside a turn: like the separator it is neither a
#: word character nor whitespace, so every cue sees it the same way.
_SEPARATOR_STAND_IN = "\ue001"
_FEATURE_INDEX = {name: i for i, name in enumerate(FEATURES)}


def _join(texts: Sequence[str]) -> tuple[str, IntArray]:
    """``SEP t1 SEP t2 ...`` and the offset of each text's separator.

    A match starting anywhere in ``[starts[i], starts[i + 1])`` belongs to text ``i``.
    """
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    starts = np.zeros(len(texts), dtype=np.int64)
    np.cumsum(lengths[:-1] + 1, out=starts[1:])
    return TURN_SEPARATOR + TURN_SEPARATOR.join(texts), starts


def _turns_hit(regex_matches: Iterable[int], starts: IntArray, n_turns: int) -> BoolArray:
    """Which turns contain at least one of the match offsets."""
    offsets = np.fromiter(regex_matches, dtype=np.int64)
    hit = np.zeros(n_turns, dtype=np.bool_)
    if offsets.size:
        hit[np.searchsorted(starts, offsets, side="right") - 1] = True
    return hit


def _clean(turns: Sequence[str]) -> Sequence[str]:
    """Replace the (private-use) separator character should a turn ever contain it."""
    if any(TURN_SEPARATOR in t for t in turns):
        return [t.replace(TURN_SEPARATOR, _SEPARATOR_STAND_IN) for t in turns]
    return turns


def _cue_flags(lowered: Sequence[str]) -> dict[str, BoolArray]:
    """Per lexicon feature, whether each (lower-cased) turn holds at least one cue.

    One scan of the joined turns with :data:`CUE_SCAN_RE`: each match
    is a cue position and its groups say which features' cues start there.
    """
    joined, starts = _join(lowered)
    n = len(lowered)
    positions: list[int] = []
    features: list[tuple[str | None, ...]] = []
    for match in CUE_SCAN_RE.finditer(joined):
        positions.append(match.start())
        features.append(match.groups())
    flags = {feature: np.zeros(n, dtype=np.bool_) for feature in CUE_FEATURES}
    if positions:
        turn_of = np.searchsorted(starts, positions, side="right") - 1
        started = np.array(features, dtype=object) != None  # noqa: E711 (elementwise)
        for column, feature in enumerate(CUE_FEATURES):
            flags[feature][turn_of[started[:, column]]] = True
    return flags


def _identifier_counts(turns: Sequence[str]) -> IntArray:
    """Identifier-like strings per turn, found on the original (not lower-cased) text.

    Only turns with an identifier-like trace (``IDENTIFIER_HINT_RE``: "@", "#", "_7", "A7",
    7 digits) can hold one, so the full pattern runs on those alone.
    """
    counts = np.zeros(len(turns), dtype=np.int64)
    joined, starts = _join(turns)
    hints = (m.start() for m in IDENTIFIER_HINT_RE.finditer(joined))
    hinted = _turns_hit(hints, starts, len(turns))
    candidates = np.flatnonzero(hinted)
    if candidates.size == 0:
        return counts
    joined, starts = _join([turns[int(i)] for i in candidates])
    offsets = np.fromiter((m.start() for m in IDENTIFIER_RE.finditer(joined)), dtype=np.int64)
    found = np.searchsorted(starts, offsets, side="right") - 1
    counts[candidates] = np.bincount(found, minlength=candidates.size)
    return counts


def _tokens(lowered: Sequence[str], of: IntArray | None = None) -> tuple[list[str], IntArray]:
    """All tokens of the turns in order, and the number of tokens of each turn.

    ``of``: the turns are ``lowered[i] for i in of`` (each distinct text tokenized once).
    """
    per_text = list(map(TOKEN_RE.findall, lowered))
    per_turn = per_text if of is None else [per_text[i] for i in of.tolist()]
    lengths = np.fromiter(map(len, per_turn), dtype=np.int64, count=len(per_turn))
    return list(chain.from_iterable(per_turn)), lengths


def _repeated_turns(tokens: list[str], lengths: IntArray, turn_episode: IntArray) -> BoolArray:
    """Turns holding a word n-gram that occurs more than the threshold in its episode.

    Vectorized: tokens become integer codes, n-grams become integer codes (pairwise
    factorization keeps every intermediate product far from int64 overflow), and the n-gram
    code is combined with the episode index so counts are per episode.
    """
    n_turns = lengths.size
    repeated = np.zeros(n_turns, dtype=np.bool_)
    k = REPETITION_NGRAM
    if len(tokens) < k:
        return repeated
    codes, uniques = pd.factorize(np.asarray(tokens, dtype=object))
    codes = codes.astype(np.int64)
    vocabulary = max(len(uniques), 1)
    token_turn = np.repeat(np.arange(n_turns, dtype=np.int64), lengths)
    width = len(tokens) - k + 1
    inside = token_turn[:width] == token_turn[k - 1 :]
    gram = codes[:width]
    for j in range(1, k):
        gram, _ = pd.factorize(gram * vocabulary + codes[j : j + width])
        gram = gram.astype(np.int64)
    gram = gram[inside]
    gram_turn = token_turn[:width][inside]
    if gram.size == 0:
        return repeated
    n_episodes = int(turn_episode.max()) + 1
    key, _ = pd.factorize(gram * n_episodes + turn_episode[gram_turn])
    occurrences = np.bincount(key)[key]
    repeated[gram_turn[occurrences > REPETITION_MIN_EXCLUSIVE]] = True
    return repeated


def turn_cues(turns: Sequence[str]) -> dict[str, BoolArray]:
    """Per-turn flags of every turn-level rate feature (:data:`TURN_FLAG_FEATURES`).

    The mean of a flag over one episode's turns is that episode's rate; over many episodes'
    turns it is the turns-pooled rate the study reports (e.g. 29.0% short utterances).
    """
    turns = _clean(turns)
    lowered = [t.lower() for t in turns]
    _, lengths = _tokens(lowered)
    flags = {"short_utterance_rate": lengths <= SHORT_UTTERANCE_MAX_TOKENS}
    flags.update(_cue_flags(lowered))
    return flags


def fingerprint_turn_lists(turn_lists: Sequence[Sequence[str]]) -> FloatArray:
    """The fingerprints of several episodes given as their user turns: (episodes × 19) float64.

    Columns are in :data:`~usi.fingerprint.features.FEATURES` order. Episodes are processed
    :data:`CHUNK_EPISODES` at a time.
    """
    out = np.zeros((len(turn_lists), len(FEATURES)), dtype=np.float64)
    for begin in range(0, len(turn_lists), CHUNK_EPISODES):
        chunk = turn_lists[begin : begin + CHUNK_EPISODES]
        out[begin : begin + len(chunk)] = _fingerprint_chunk(chunk)
    return out


def _fingerprint_chunk(turn_lists: Sequence[Sequence[str]]) -> FloatArray:
    n_episodes = len(turn_lists)
    out = np.zeros((n_episodes, len(FEATURES)), dtype=np.float64)
    n_turns = np.fromiter(map(len, turn_lists), dtype=np.int64, count=n_episodes)
    if n_turns.sum() == 0:
        return out
    # Turns repeat ("yes", "ok", "thank you"), and what a turn holds depends on its text only:
    # each distinct text of the chunk is lower-cased and scanned once, and the turns take
    # their text's results (``text_of``).
    all_turns = _clean(list(chain.from_iterable(turn_lists)))
    text_of, distinct = pd.factorize(np.asarray(all_turns, dtype=object))
    texts: list[str] = distinct.tolist()
    lowered = [t.lower() for t in texts]
    n_all = text_of.size
    turn_episode = np.repeat(np.arange(n_episodes, dtype=np.int64), n_turns)
    first_turn = np.zeros(n_episodes, dtype=np.int64)
    np.cumsum(n_turns[:-1], out=first_turn[1:])
    has_turns = n_turns > 0
    denominator = np.where(has_turns, n_turns, 1).astype(np.float64)

    def per_episode(values: npt.ArrayLike) -> FloatArray:
        return np.bincount(turn_episode, weights=values, minlength=n_episodes).astype(np.float64)

    def put(feature: str, values: FloatArray) -> None:
        out[:, _FEATURE_INDEX[feature]] = np.where(has_turns, values, 0.0)

    tokens, lengths = _tokens(lowered, text_of)
    length_f = lengths.astype(np.float64)
    total_tokens = per_episode(length_f)
    mean_length = total_tokens / denominator
    put("words_per_turn", mean_length)
    put("short_utterance_rate", per_episode(lengths <= SHORT_UTTERANCE_MAX_TOKENS) / denominator)

    for feature, hit in _cue_flags(lowered).items():
        put(feature, per_episode(hit[text_of]) / denominator)

    deviation = length_f - mean_length[turn_episode]
    std = np.sqrt(per_episode(deviation * deviation) / denominator)
    cv_defined = (n_turns >= 2) & (mean_length > 0)
    put("verbosity_cv", np.where(cv_defined, std / np.where(cv_defined, mean_length, 1.0), 0.0))

    repeated = _repeated_turns(tokens, lengths, turn_episode)
    put("repetition_rate", per_episode(repeated) / denominator)

    rank = np.arange(n_all, dtype=np.int64) - first_turn[turn_episode]
    front = per_episode(np.where(rank < FRONT_LOADING_TURNS, length_f, 0.0))
    put("front_loading_ratio", np.where(total_tokens > 0, front / np.maximum(total_tokens, 1), 1.0))

    put("identifiers_per_turn", per_episode(_identifier_counts(texts)[text_of]) / denominator)
    opening = np.zeros(n_episodes, dtype=np.float64)
    opening[has_turns] = length_f[first_turn[has_turns]]
    put("opening_length", opening)
    return out


def fingerprint_turns(turns: Sequence[str]) -> dict[str, float]:
    """The 19 features of one episode given as its user turns (control lines already removed)."""
    row = fingerprint_turn_lists([list(turns)])[0]
    return {name: float(value) for name, value in zip(FEATURES, row, strict=True)}


def fingerprint_episode(episode: Episode) -> dict[str, float]:
    """The 19 features of ``episode``, over its user turns only (agent and tool never count)."""
    return fingerprint_turns(episode.user_turns())


def fingerprint_frame(episodes: Sequence[Episode]) -> pd.DataFrame:
    """One row per episode, in input order; exactly the 19 ``FEATURES`` columns, float64."""
    values = fingerprint_turn_lists([episode.user_turns() for episode in episodes])
    return pd.DataFrame(values, columns=list(FEATURES), dtype=np.float64)

"""Behavioral alignment D1–D4 (spec §3, usi-v2): Dice of the two sides' values, with support.

A side is summarised first (pooled turn rates, episode means: :mod:`usi.metrics.summary`)
and only the two summaries are compared, so the score does not depend on how episodes pair
up. Rare cues are the trap: a feature seen in 0.1% of turns is 0 on one side of many
samples, and Dice then flips between 1.0 (0 vs 0) and 0.0 (0 vs 0.003). The support rule
leaves such a feature out of its dimension rather than letting it decide the score.

The rule reads the *people's* cue turns only (:func:`supported_by_humans`). Until 2026-12 it
read both sides together, and so the simulator's own behaviour chose the features it was
scored on: a simulator that stopped producing a cue people show could push the feature
under the threshold, drop its Dice of 0 from the dimension and score *higher* (D3 rose
0.865 → 0.878 as a template replaced more turns). Deciding from the human side alone fixes
the feature set before the simulator is looked at, so a simulator with zero cue turns of a
supported feature keeps it, at Dice 0, and degrading a simulator can only lower a dimension.
The price: a cue people rarely show is not scored even when a simulator overdoes it; the
divergences (:mod:`usi.metrics.divergences`) still name it.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

BoolArray = npt.NDArray[np.bool_]

MIN_CUE_TURNS = 5
"""A rate feature needs at least this many cue turns *on the human side* to be scored; below
it the feature is *unsupported* and listed with both sides' counts (spec §3, amended). It is
half the former both-sides threshold of 10: a simulator that behaves like the people, on as
many turns, brings the other half. Measured on the 89-session sample
(``benchmarks/bench_stability.py``, the ceiling on 20 draws of k sessions per batch): with 5
the ceiling is steadiest across sizes (84.7, 84.6, 84.3 at k = 16, 24, 32; 84.3 on all),
where 3 keeps D4 in more draws (11, 19, 20 of 20 against 0, 4, 13) but pulls the
small-sample ceiling down (82.4, 81.7, 83.0) with Dice of a handful of cue turns."""

_COUNT_TOLERANCE = 1e-9
"""Cue turns are float sums of rate × turns: a count of 5 may come out 4.999999999999999."""


def supported_by_humans(human_cue_turns: npt.ArrayLike, is_rate: npt.ArrayLike) -> BoolArray:
    """The support rule: a mean feature always, a rate feature when people show its cue.

    ``human_cue_turns`` is the human side's cue-turn count per feature (any shape; NaN for a
    mean feature), ``is_rate`` marks the rate features. The simulator's counts are not an
    argument on purpose: the feature set must not depend on the behaviour being scored.
    """
    counts = np.nan_to_num(np.asarray(human_cue_turns, dtype=np.float64))
    rate = np.asarray(is_rate, dtype=np.bool_)
    return np.asarray(~rate | (counts >= MIN_CUE_TURNS - _COUNT_TOLERANCE), dtype=np.bool_)


def dice(simulator: float, human: float) -> float:
    """Sørensen–Dice of two non-negative numbers: 2·min / sum, and 1.0 when both are 0."""
    m, h = abs(float(simulator)), abs(float(human))
    if m + h == 0.0:
        return 1.0
    return 2.0 * min(m, h) / (m + h)


def dice_array(simulator: npt.ArrayLike, human: npt.ArrayLike) -> FloatArray:
    """Element-wise :func:`dice` (NaN stays NaN); runs on (replicates, features) grids."""
    m = np.abs(np.asarray(simulator, dtype=np.float64))
    h = np.abs(np.asarray(human, dtype=np.float64))
    total = m + h
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(total == 0.0, 1.0, 2.0 * np.minimum(m, h) / total)
    return np.asarray(out, dtype=np.float64)

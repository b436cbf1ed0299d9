"""Behavioral alignment D1–D4 (spec §3, usi-v2): Dice of the two sides' values, with support.

A side is summarised first (pooled turn rates, episode means: :mod:`usi.metrics.summary`)
and only the two summaries are compared, so the score does not depend on how episodes pair
up. Rare cues are the trap: a feature seen in 0.1% of turns is 0 on one side of many
samples, and Dice then flips between 1.0 (0 vs 0) and 0.0 (0 vs 0.003). The support rule
leaves such a feature out of its dimension rather than letting it decide the score.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

MIN_CUE_TURNS = 10
"""A rate feature needs at least this many cue turns on both sides together to be scored;
below it the feature is *unsupported* and listed with both sides' counts (spec §3)."""


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

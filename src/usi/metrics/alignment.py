"""Behavioral alignment D1–D4 (spec §3): profiles compared feature by feature with Dice.

The paper aggregates first and compares second: a profile is the per-feature mean over a
set of episodes, and only the two profiles are compared. This makes the score insensitive
to how many episodes each side has and to how episodes pair up.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from usi.fingerprint.features import DIMENSIONS, FEATURES

FloatArray = npt.NDArray[np.float64]


def dice(simulator: float, human: float) -> float:
    """Sørensen–Dice of two non-negative numbers: 2·min / sum, and 1.0 when both are 0."""
    m, h = abs(float(simulator)), abs(float(human))
    if m + h == 0.0:
        return 1.0
    return 2.0 * min(m, h) / (m + h)


def dice_array(simulator: npt.ArrayLike, human: npt.ArrayLike) -> FloatArray:
    """Element-wise :func:`dice` (NaN stays NaN); the bootstrap runs it on replicate grids."""
    m = np.abs(np.asarray(simulator, dtype=np.float64))
    h = np.abs(np.asarray(human, dtype=np.float64))
    total = m + h
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(total == 0.0, 1.0, 2.0 * np.minimum(m, h) / total)
    return np.asarray(out, dtype=np.float64)


def profile(table: pd.DataFrame) -> pd.Series:
    """Per-feature mean over the table's episodes (NaN values skipped), in FEATURES order."""
    return table[list(FEATURES)].astype("float64").mean(axis=0, skipna=True)


def feature_dice(simulator_profile: pd.Series, human_profile: pd.Series) -> pd.Series:
    """Dice per feature between two profiles."""
    sim = simulator_profile.reindex(list(FEATURES))
    hum = human_profile.reindex(list(FEATURES))
    return pd.Series(dice_array(sim.to_numpy(), hum.to_numpy()), index=list(FEATURES))


def dimension_alignment(feature_similarity: pd.Series) -> dict[str, float | None]:
    """D1–D4: the mean Dice over each dimension's features (None if none is defined)."""
    out: dict[str, float | None] = {}
    for dimension, features in DIMENSIONS.items():
        values = feature_similarity.reindex(list(features)).dropna()
        out[dimension] = float(values.mean()) if len(values) else None
    return out


def behavioral_alignment(
    simulator: pd.DataFrame, human: pd.DataFrame
) -> tuple[dict[str, float | None], pd.DataFrame]:
    """D1–D4 and the per-feature comparison (columns human, simulator, dice)."""
    sim_profile, hum_profile = profile(simulator), profile(human)
    similarity = feature_dice(sim_profile, hum_profile)
    detail = pd.DataFrame({"human": hum_profile, "simulator": sim_profile, "dice": similarity})
    return dimension_alignment(similarity), detail

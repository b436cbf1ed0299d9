"""Outcome alignment helpers (spec §4, usi-v2).

The component itself is task-paired and aggregate (:func:`usi.metrics.components.paired_success`):
1 − |ŝ − ĥ| with every paired task weighted equally. The v1 statistic — a 10-bin ECE of
per-task rates — is kept here as a diagnostic: with one episode per task per side it is
mean_t |s_t − h_t|, whose expectation is 2·E[p(1−p)] whatever the simulator, so it measured
how much two people differ on a task more than how a simulator differs from people.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from usi.inputs.table import task_keys
from usi.metrics.summary import SUCCESS_REWARD

__all__ = [
    "BIN_EDGE_TOLERANCE",
    "N_CALIBRATION_BINS",
    "SUCCESS_REWARD",
    "calibration_bins",
    "expected_calibration_error",
    "task_success_rates",
]

N_CALIBRATION_BINS = 10
"""Equal-width bins of p_sim over [0, 1] (the v1 per-task ECE diagnostic, spec §4)."""

BIN_EDGE_TOLERANCE = 1e-9
"""Absorbs float error in rate·bins (a mean that should be 0.7 may come out 0.6999999999999999),
so a rate on an edge always lands in the bin that starts there."""


def calibration_bins(p_simulator: npt.ArrayLike, n_bins: int = N_CALIBRATION_BINS) -> np.ndarray:
    """Bin index of each rate: bin i holds [i/n, (i+1)/n), the last bin also holds 1.0.

    A rate exactly on an inner edge (0.1, 0.2, ...) belongs to the upper bin, the one that
    starts at that edge; p = 1.0 belongs to the last bin, not to an eleventh one.
    """
    p = np.asarray(p_simulator, dtype=np.float64)
    index = np.floor(p * n_bins + BIN_EDGE_TOLERANCE).astype(np.int64)
    return np.clip(index, 0, n_bins - 1)


def expected_calibration_error(
    p_simulator: npt.ArrayLike, p_human: npt.ArrayLike, n_bins: int = N_CALIBRATION_BINS
) -> float:
    """ECE = Σ_b (n_b/N)·|mean p_sim − mean p_hum| over the bins of p_sim; in [0, 1].

    With ``n_bins=1`` this is |mean p_sim − mean p_hum|: the v2 outcome gap.
    """
    sim = np.asarray(p_simulator, dtype=np.float64)
    hum = np.asarray(p_human, dtype=np.float64)
    if sim.shape != hum.shape or sim.ndim != 1:
        raise ValueError("p_simulator and p_human must be 1-D arrays of the same length")
    if sim.size == 0:
        raise ValueError("no tasks to calibrate")
    bins = calibration_bins(sim, n_bins)
    # Σ_b (n_b/N)|mean_b(sim) − mean_b(hum)| = (1/N) Σ_b |Σ_{t∈b} (sim_t − hum_t)|
    gap_per_bin = np.bincount(bins, weights=sim - hum, minlength=n_bins)
    return float(np.abs(gap_per_bin).sum() / sim.size)


def task_success_rates(table: pd.DataFrame) -> pd.Series:
    """Success rate per task key over the episodes that have a reward and a task.

    For the report's per-task views; scoring reads the same rates from the summaries.
    """
    keys = task_keys(table)
    rewarded = table["reward"].notna() & keys.notna()
    success = (table.loc[rewarded, "reward"] >= SUCCESS_REWARD).astype("float64")
    return success.groupby(keys[rewarded]).mean()

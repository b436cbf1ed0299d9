"""Outcome alignment (spec §4): does the simulator succeed on the tasks where people do?

Per task, the simulator's success rate is read as a confidence and the humans' success rate
as the outcome; the expected calibration error over equal-width bins of the simulator's
rate says how far the simulator's successes are from people's, task for task.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from usi.metrics.table import task_keys

N_CALIBRATION_BINS = 10
"""Equal-width bins of p_sim over [0, 1] (spec §4)."""

SUCCESS_REWARD = 1.0
"""The τ evaluator's reward for a solved task; anything lower counts as a failure."""

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
    """ECE = Σ_b (n_b/N)·|mean p_sim − mean p_hum| over the bins of p_sim; in [0, 1]."""
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
    """Success rate per task key over the episodes that have a reward and a task."""
    keys = task_keys(table)
    rewarded = table["reward"].notna() & keys.notna()
    success = (table.loc[rewarded, "reward"] >= SUCCESS_REWARD).astype("float64")
    return success.groupby(keys[rewarded]).mean()


@dataclass(frozen=True)
class OutcomeAlignment:
    """1 − ECE over the tasks where both sides have rewards, or why it cannot be computed."""

    value: float | None
    ece: float | None
    n_tasks: int
    reason: str | None = None


def outcome_alignment(simulator: pd.DataFrame, human: pd.DataFrame) -> OutcomeAlignment:
    """Outcome alignment of a simulator's table against the humans' (spec §4)."""
    sim_rates, hum_rates = task_success_rates(simulator), task_success_rates(human)
    if sim_rates.empty or hum_rates.empty:
        side = "simulator" if sim_rates.empty else "human"
        return OutcomeAlignment(None, None, 0, f"no {side} episode has a reward and a task id")
    paired = sim_rates.index.intersection(hum_rates.index)
    if paired.empty:
        return OutcomeAlignment(None, None, 0, "no task has rewarded episodes on both sides")
    ece = expected_calibration_error(sim_rates[paired].to_numpy(), hum_rates[paired].to_numpy())
    return OutcomeAlignment(1.0 - ece, ece, len(paired))

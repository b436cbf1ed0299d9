"""Per-side summaries: the one step between the episode table and every USI component.

The flow of a score is one-way (spec §6, usi-v2): episode table → per-side summaries →
components → USI → interval. This module is the only place that reads the table for the
components. Each side is reduced once to per-*unit* sums, where a unit is a task (every
episode of a task on either side), or an unaligned episode on its own:

- cue turns and user turns per rate feature (a rate × the episode's user turns), so a side's
  pooled turn rate is a ratio of sums (spec §3);
- feature sums and counts per episode for the non-rate features (their side value is the
  episode mean);
- successes and rewarded episodes per task (the per-task success rate, spec §4);
- survey score sums and counts per task and dimension (the per-task mean, spec §5).

Components are then functions of these sums and of a vector of unit weights: all ones for
the point estimate, a multinomial draw per bootstrap replicate. The point estimate and its
interval are the same computation, so they cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from usi.core.survey import goodness_matrix
from usi.fingerprint.features import FEATURES
from usi.inputs.frame import SURVEY_COLUMNS
from usi.inputs.table import TASK_KEY_SEPARATOR, task_keys

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

RATE_SUFFIX = "_rate"
RATE_FEATURES: tuple[str, ...] = tuple(f for f in FEATURES if f.endswith(RATE_SUFFIX))
"""The 14 features that are a fraction of user turns: pooled over turns on each side."""
MEAN_FEATURES: tuple[str, ...] = tuple(f for f in FEATURES if not f.endswith(RATE_SUFFIX))
"""The other five (and any future non-rate feature): the mean over the side's episodes."""
IS_RATE: BoolArray = np.array([f in RATE_FEATURES for f in FEATURES], dtype=np.bool_)

SUCCESS_REWARD = 1.0
"""The τ evaluator's reward for a solved task; anything lower counts as a failure."""

UNALIGNED_PREFIX = "episode:"
"""Unit key prefix of an episode without a task: it is resampled alone and never paired."""


@dataclass(frozen=True)
class SideSums:
    """One side (a simulator, or a set of human episodes) as per-unit sums.

    Every array has the units on its first axis, in the order of :class:`PairedSums.units`.
    Columns of the feature arrays are in ``FEATURES`` order.
    """

    n_episodes: FloatArray  # (U,)
    feature_sum: FloatArray  # (U, F) Σ per-episode value (NaN counted as 0)
    feature_count: FloatArray  # (U, F) episodes with a value
    cue_turns: FloatArray  # (U, F) Σ rate · user turns (rate features; 0 elsewhere)
    turns: FloatArray  # (U, F) Σ user turns of episodes with a value (rate features)
    successes: FloatArray  # (U,) rewarded episodes with reward ≥ SUCCESS_REWARD
    rewarded: FloatArray  # (U,) episodes with a reward
    survey_sum: FloatArray  # (U, 8) Σ survey scores per dimension
    survey_count: FloatArray  # (U, 8) answers per dimension

    @property
    def task_success(self) -> FloatArray:
        """Per-unit success rate p(t); NaN where the unit has no rewarded episode."""
        return _ratio(self.successes, self.rewarded)

    @property
    def task_survey(self) -> FloatArray:
        """Per-unit mean survey score per dimension; NaN where unanswered."""
        return _ratio(self.survey_sum, self.survey_count)


@dataclass(frozen=True)
class PairedSums:
    """Both sides summarised on the same units (tasks on either side, unaligned episodes)."""

    units: list[str]
    domains: list[str | None]  # the domain of each task unit; None for an unaligned episode
    simulator: SideSums
    human: SideSums

    @property
    def n_units(self) -> int:
        return len(self.units)

    def ones(self) -> FloatArray:
        """The weights of the point estimate: every unit once, as a (1, U) block."""
        return np.ones((1, self.n_units), dtype=np.float64)


def _ratio(numerator: npt.ArrayLike, denominator: npt.ArrayLike) -> FloatArray:
    num = np.asarray(numerator, dtype=np.float64)
    den = np.asarray(denominator, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan))


def unit_keys(table: pd.DataFrame, side: str) -> pd.Series:
    """Task key of each row, or a unit of its own for an unaligned episode."""
    keys = task_keys(table)
    own = UNALIGNED_PREFIX + side + ":" + table["episode_id"].astype(str)
    return keys.where(keys.notna(), own)


def _side_sums(table: pd.DataFrame, codes: npt.NDArray[np.intp], n_units: int) -> SideSums:
    """Per-unit sums of one side: one sparse (units × episodes) indicator product per array."""
    from scipy import sparse  # usi-v2's only: tau-usi's scores do not pay for loading it

    n = len(table)
    indicator = sparse.csr_matrix(
        (np.ones(n), (codes, np.arange(n))), shape=(n_units, n), dtype=np.float64
    )

    def total(values: npt.ArrayLike) -> FloatArray:
        return np.asarray(indicator @ np.asarray(values, dtype=np.float64), dtype=np.float64)

    values = table[list(FEATURES)].to_numpy(dtype=np.float64)
    has = ~np.isnan(values)
    user_turns = table["n_user_turns"].to_numpy(dtype=np.float64)[:, None]
    reward = table["reward"].to_numpy(dtype=np.float64)
    rewarded = ~np.isnan(reward) & table["task_id"].notna().to_numpy()
    survey = goodness_matrix(table[list(SURVEY_COLUMNS)].to_numpy(dtype=np.float64))
    answered = ~np.isnan(survey)
    return SideSums(
        n_episodes=total(np.ones(n)),
        feature_sum=total(np.where(has, values, 0.0)),
        feature_count=total(has),
        cue_turns=total(np.where(has & IS_RATE, np.nan_to_num(values) * user_turns, 0.0)),
        turns=total(np.where(has & IS_RATE, user_turns, 0.0)),
        successes=total(rewarded & (np.nan_to_num(reward) >= SUCCESS_REWARD)),
        rewarded=total(rewarded),
        survey_sum=total(np.where(answered, survey, 0.0)),
        survey_count=total(answered),
    )


def summarize(simulator: pd.DataFrame, human: pd.DataFrame) -> PairedSums:
    """Both tables reduced to per-unit sums, once; every component reads only these."""
    sim_units = unit_keys(simulator, "simulator").to_numpy(dtype=object)
    hum_units = unit_keys(human, "human").to_numpy(dtype=object)
    order = pd.Index(np.unique(np.concatenate([sim_units, hum_units]).astype(str)), dtype=object)
    domains = [
        None if key.startswith(UNALIGNED_PREFIX) else key.split(TASK_KEY_SEPARATOR, 1)[0]
        for key in order
    ]
    return PairedSums(
        units=list(order),
        domains=domains,
        simulator=_side_sums(simulator, order.get_indexer(sim_units), len(order)),
        human=_side_sums(human, order.get_indexer(hum_units), len(order)),
    )

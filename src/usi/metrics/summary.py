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

from usi.data.survey import SURVEY_ITEM_IDS
from usi.data.table import SURVEY_COLUMNS
from usi.fingerprint.features import FEATURES
from usi.metrics.table import TASK_KEY_SEPARATOR, task_keys

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


def _side_sums(table: pd.DataFrame, units: pd.Series, order: pd.Index) -> SideSums:
    n = len(table)
    groups = units.to_numpy()
    values = table[list(FEATURES)].to_numpy(dtype=np.float64)
    has = ~np.isnan(values)
    user_turns = table["n_user_turns"].to_numpy(dtype=np.float64)
    turns = np.where(has & IS_RATE, user_turns[:, None], 0.0)
    cues = np.where(has & IS_RATE, np.nan_to_num(values) * user_turns[:, None], 0.0)
    reward = table["reward"].to_numpy(dtype=np.float64)
    rewarded = ~np.isnan(reward) & task_keys(table).notna().to_numpy()
    success = rewarded & (np.nan_to_num(reward) >= SUCCESS_REWARD)
    survey = table[list(SURVEY_COLUMNS)].to_numpy(dtype=np.float64)
    answered = ~np.isnan(survey)
    frame = pd.DataFrame(
        np.column_stack(
            [
                np.ones(n),
                np.where(has, values, 0.0),
                has.astype(np.float64),
                cues,
                turns,
                success.astype(np.float64),
                rewarded.astype(np.float64),
                np.where(answered, survey, 0.0),
                answered.astype(np.float64),
            ]
        )
    )
    summed = frame.groupby(groups, sort=False).sum().reindex(order, fill_value=0.0)
    block = summed.to_numpy(dtype=np.float64)
    f, s = len(FEATURES), len(SURVEY_ITEM_IDS)
    cuts = np.cumsum([1, f, f, f, f, 1, 1, s, s])
    parts = np.split(block, cuts[:-1], axis=1)
    return SideSums(
        n_episodes=parts[0][:, 0],
        feature_sum=parts[1],
        feature_count=parts[2],
        cue_turns=parts[3],
        turns=parts[4],
        successes=parts[5][:, 0],
        rewarded=parts[6][:, 0],
        survey_sum=parts[7],
        survey_count=parts[8],
    )


def summarize(simulator: pd.DataFrame, human: pd.DataFrame) -> PairedSums:
    """Both tables reduced to per-unit sums, once; every component reads only these."""
    sim_units, hum_units = unit_keys(simulator, "simulator"), unit_keys(human, "human")
    order = pd.Index(sorted(set(sim_units) | set(hum_units)))
    domains = [
        None if key.startswith(UNALIGNED_PREFIX) else key.split(TASK_KEY_SEPARATOR, 1)[0]
        for key in order
    ]
    return PairedSums(
        units=list(order),
        domains=domains,
        simulator=_side_sums(simulator, sim_units, order),
        human=_side_sums(human, hum_units, order),
    )

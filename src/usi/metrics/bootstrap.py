"""Vectorized bootstrap over tasks: every replicate in a few matrix products.

Each metric is a ratio of sums over tasks (profile = feature sum / episode count; ECE and
MAE are sums of per-task gaps over a task count), so a bootstrap replicate is just a vector
of task multiplicities. Reducing both tables once to per-task sums turns B replicates into
``weights @ sums`` with ``weights`` of shape (B, tasks): no per-replicate re-grouping and
no re-fingerprinting. With all weights 1 the same code gives the point estimates, which
the tests check against the plain implementations in alignment/outcome/evaluation.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from usi.data.survey import SURVEY_ITEM_IDS
from usi.fingerprint.features import DIMENSIONS, FEATURES
from usi.metrics.alignment import dice_array
from usi.metrics.evaluation import task_survey_means
from usi.metrics.outcome import N_CALIBRATION_BINS, calibration_bins, task_success_rates
from usi.metrics.table import task_keys

FloatArray = npt.NDArray[np.float64]

N_BOOTSTRAP = 1000
"""Replicates of the task bootstrap; the 95% percentile interval is stable to ~0.1 USI."""

BOOTSTRAP_CONFIDENCE = 0.95

MAX_WEIGHT_CELLS = 4_000_000
"""Replicates are processed in blocks so the (block, tasks) weight matrix stays ~32 MB even
when thousands of unaligned episodes each count as their own resampling unit."""

_DIMENSION_INDEX = {d: [FEATURES.index(f) for f in fs] for d, fs in DIMENSIONS.items()}


@dataclass(frozen=True)
class TaskAggregates:
    """Both tables reduced to per-unit sums; a unit is a task, or an unaligned episode."""

    units: list[str]
    sim_sum: FloatArray  # (U, F) feature sums, NaN counted as 0
    sim_count: FloatArray  # (U, F) non-NaN episodes
    hum_sum: FloatArray
    hum_count: FloatArray
    outcome_gap: FloatArray  # (U,) p_sim − p_hum where both sides have rewards, else 0
    outcome_bin: npt.NDArray[np.int64]  # (U,) calibration bin of p_sim
    outcome_paired: FloatArray  # (U,) 1.0 where the task counts for the ECE
    survey_gap: FloatArray  # (U, 8) |sim mean − human mean|, 0 where unpaired
    survey_paired: FloatArray  # (U, 8) 1.0 where both sides answered


def _units(table: pd.DataFrame, side: str) -> pd.Series:
    keys = task_keys(table)
    own = "episode:" + side + ":" + table["episode_id"].astype(str)
    return keys.where(keys.notna(), own)


def _feature_sums(table: pd.DataFrame, units: pd.Series, order: pd.Index) -> tuple[FloatArray, ...]:
    values = table[list(FEATURES)].astype("float64")
    sums = values.fillna(0.0).groupby(units.to_numpy()).sum().reindex(order, fill_value=0.0)
    counts = values.notna().astype("float64").groupby(units.to_numpy()).sum()
    counts = counts.reindex(order, fill_value=0.0)
    return sums.to_numpy(np.float64), counts.to_numpy(np.float64)


def aggregate(simulator: pd.DataFrame, human: pd.DataFrame) -> TaskAggregates:
    """Reduce both tables to the per-unit sums every component is a ratio of."""
    sim_units, hum_units = _units(simulator, "simulator"), _units(human, "human")
    order = pd.Index(sorted(set(sim_units) | set(hum_units)))
    sim_sum, sim_count = _feature_sums(simulator, sim_units, order)
    hum_sum, hum_count = _feature_sums(human, hum_units, order)

    sim_rates, hum_rates = task_success_rates(simulator), task_success_rates(human)
    paired = sim_rates.index.intersection(hum_rates.index)
    p_sim = sim_rates.reindex(order)
    gap = (p_sim - hum_rates.reindex(order)).where(order.isin(paired), 0.0)
    outcome_bin = calibration_bins(p_sim.fillna(0.0).to_numpy())

    sim_survey, hum_survey = task_survey_means(simulator), task_survey_means(human)
    sim_survey = sim_survey.reindex(index=order, columns=list(SURVEY_ITEM_IDS))
    hum_survey = hum_survey.reindex(index=order, columns=list(SURVEY_ITEM_IDS))
    both = (sim_survey.notna() & hum_survey.notna()).to_numpy()
    survey_gap = np.where(both, np.abs((sim_survey - hum_survey).to_numpy(np.float64)), 0.0)

    return TaskAggregates(
        units=list(order),
        sim_sum=sim_sum,
        sim_count=sim_count,
        hum_sum=hum_sum,
        hum_count=hum_count,
        outcome_gap=gap.to_numpy(np.float64),
        outcome_bin=outcome_bin,
        outcome_paired=order.isin(paired).astype(np.float64),
        survey_gap=survey_gap.astype(np.float64),
        survey_paired=both.astype(np.float64),
    )


def _ratio(numerator: FloatArray, denominator: FloatArray) -> FloatArray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(
            denominator > 0, numerator / np.where(denominator > 0, denominator, 1), np.nan
        )


def component_replicates(agg: TaskAggregates, weights: FloatArray) -> dict[str, FloatArray]:
    """D1–D4, outcome and evaluative alignment for each row of ``weights`` (B, U); NaN = n/a."""
    sim_profile = _ratio(weights @ agg.sim_sum, weights @ agg.sim_count)
    hum_profile = _ratio(weights @ agg.hum_sum, weights @ agg.hum_count)
    similarity = dice_array(sim_profile, hum_profile)  # (B, F)
    out: dict[str, FloatArray] = {}
    for dimension, columns in _DIMENSION_INDEX.items():
        block = similarity[:, columns]
        defined = ~np.isnan(block)
        out[dimension] = _ratio(np.where(defined, block, 0.0).sum(axis=1), defined.sum(axis=1))

    onehot = np.zeros((len(agg.units), N_CALIBRATION_BINS))
    onehot[np.arange(len(agg.units)), agg.outcome_bin] = agg.outcome_gap
    ece = _ratio(np.abs(weights @ onehot).sum(axis=1), weights @ agg.outcome_paired)
    out["outcome"] = 1.0 - ece

    mae = _ratio(weights @ agg.survey_gap.sum(axis=1), weights @ agg.survey_paired.sum(axis=1))
    out["evaluation"] = 1.0 - mae
    return out


def _weight_blocks(
    n_units: int, n_replicates: int, rng: np.random.Generator
) -> Iterator[FloatArray]:
    block = max(1, MAX_WEIGHT_CELLS // max(n_units, 1))
    done = 0
    uniform = np.full(n_units, 1.0 / n_units)
    while done < n_replicates:
        size = min(block, n_replicates - done)
        yield rng.multinomial(n_units, uniform, size=size).astype(np.float64)
        done += size


def bootstrap_usi(
    simulator: pd.DataFrame,
    human: pd.DataFrame,
    components: list[str],
    n_replicates: int = N_BOOTSTRAP,
    seed: int = 0,
) -> FloatArray:
    """USI of each replicate (tasks resampled with replacement, both sides together).

    Only ``components`` (those defined on the full data) enter the mean; a component that
    a replicate cannot compute (no paired task drawn) is left out of that replicate only.
    """
    agg = aggregate(simulator, human)
    rng = np.random.default_rng(seed)
    values: list[FloatArray] = []
    for weights in _weight_blocks(len(agg.units), n_replicates, rng):
        replicate = component_replicates(agg, weights)
        stacked = np.column_stack([replicate[c] for c in components])
        defined = ~np.isnan(stacked)
        total = np.where(defined, stacked, 0.0).sum(axis=1)
        values.append(100.0 * _ratio(total, defined.sum(axis=1).astype(np.float64)))
    return np.concatenate(values)


def percentile_interval(
    values: FloatArray, confidence: float = BOOTSTRAP_CONFIDENCE
) -> tuple[float, float]:
    """The percentile interval of the defined replicate values."""
    defined = values[~np.isnan(values)]
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(defined, [tail, 100.0 - tail])
    return float(low), float(high)

"""The six USI components as functions of per-unit sums and unit weights (spec §3–§6, usi-v2).

``weights`` is a (B, U) block: one row of all ones gives the point estimate, B multinomial
rows give B bootstrap replicates. Every number of a score — the headline, each component,
each per-feature and per-task detail, every replicate — is computed here, by these same
functions, so the reported USI is 100 × the mean of the reported components and each
component follows from its reported detail by construction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from usi.fingerprint.features import DIMENSIONS, FEATURES
from usi.metrics.alignment import MIN_CUE_TURNS, dice_array, supported_by_humans
from usi.metrics.models import COMPONENT_NAMES
from usi.metrics.outcome import expected_calibration_error
from usi.metrics.summary import IS_RATE, FloatArray, PairedSums, SideSums, _ratio

BoolArray = npt.NDArray[np.bool_]

_DIMENSION_COLUMNS: dict[str, list[int]] = {
    d: [FEATURES.index(f) for f in fs] for d, fs in DIMENSIONS.items()
}

UNSUPPORTED_REASON = (
    f"every feature of this dimension has fewer than {MIN_CUE_TURNS} cue turns on the human "
    "side (unsupported)"
)


@dataclass(frozen=True)
class Profiles:
    """Both sides' per-feature values, the Dice between them and the support rule, (B, F)."""

    simulator: FloatArray
    human: FloatArray
    simulator_cue_turns: FloatArray  # NaN for the non-rate features
    human_cue_turns: FloatArray
    dice: FloatArray
    supported: BoolArray


@dataclass(frozen=True)
class OutcomeArrays:
    """Task-paired success rates (spec §4), (B,) each; NaN where nothing is paired."""

    simulator: FloatArray  # ŝ = mean over paired tasks of p_sim(t)
    human: FloatArray  # ĥ
    n_tasks: FloatArray  # weighted count of paired tasks

    @property
    def alignment(self) -> FloatArray:
        return 1.0 - np.abs(self.simulator - self.human)


@dataclass(frozen=True)
class EvaluationArrays:
    """Task-paired survey means per dimension (spec §5), (B, 8); NaN where nothing is paired."""

    simulator: FloatArray  # S̄_sim(d)
    human: FloatArray  # S̄_hum(d)
    n_tasks: FloatArray  # (B, 8) weighted count of tasks answered on both sides

    @property
    def alignment(self) -> FloatArray:
        gaps = np.abs(self.simulator - self.human)
        defined = ~np.isnan(gaps)
        return 1.0 - _ratio(np.where(defined, gaps, 0.0).sum(axis=1), defined.sum(axis=1))


@dataclass(frozen=True)
class ComponentArrays:
    """Everything a score reports, for each row of the weights."""

    profiles: Profiles
    dimensions: dict[str, FloatArray]  # D1–D4, (B,)
    outcome: OutcomeArrays
    evaluation: EvaluationArrays

    def values(self) -> dict[str, FloatArray]:
        """The six components, (B,) each, NaN where not computable."""
        return {
            **self.dimensions,
            "outcome": self.outcome.alignment,
            "evaluation": self.evaluation.alignment,
        }


def side_profile(side: SideSums, weights: FloatArray) -> tuple[FloatArray, FloatArray]:
    """(values, cue turns), (B, F): pooled turn rates for rate features, else episode means."""
    cue_turns = weights @ side.cue_turns
    pooled = _ratio(cue_turns, weights @ side.turns)
    means = _ratio(weights @ side.feature_sum, weights @ side.feature_count)
    return np.where(IS_RATE, pooled, means), np.where(IS_RATE, cue_turns, np.nan)


def point_support(paired: PairedSums) -> BoolArray:
    """The support rule on the full data, (F,): the feature set every replicate is scored on.

    A bootstrap replicate or a per-batch score that re-decided support would be scored on
    another definition (D4 dropped out of 10–18 of 20 small draws); fixed here, replicates
    differ from the point estimate by their data only.
    """
    _, hum_cues = side_profile(paired.human, paired.ones())
    return supported_by_humans(hum_cues[0], IS_RATE)


def profiles(paired: PairedSums, weights: FloatArray, support: BoolArray | None = None) -> Profiles:
    """Both profiles, their Dice, and which features the support rule keeps (spec §3).

    ``support`` (F,) fixes the feature set (:func:`point_support`); without it each row of
    ``weights`` decides from its own human cue turns. A feature stays out where its Dice is
    undefined (a side without a turn).
    """
    sim, sim_cues = side_profile(paired.simulator, weights)
    hum, hum_cues = side_profile(paired.human, weights)
    similarity = dice_array(sim, hum)
    rule = supported_by_humans(hum_cues, IS_RATE) if support is None else support[None, :]
    supported = rule & ~np.isnan(similarity)
    return Profiles(sim, hum, sim_cues, hum_cues, similarity, supported)


def dimension_means(profile: Profiles) -> dict[str, FloatArray]:
    """D1–D4: the mean Dice over each dimension's supported features; NaN if none is."""
    out: dict[str, FloatArray] = {}
    for dimension, columns in _DIMENSION_COLUMNS.items():
        keep = profile.supported[:, columns]
        block = np.where(keep, profile.dice[:, columns], 0.0)
        out[dimension] = _ratio(block.sum(axis=1), keep.sum(axis=1))
    return out


def paired_success(
    paired: PairedSums, weights: FloatArray, mask: BoolArray | None = None
) -> OutcomeArrays:
    """ŝ and ĥ over the tasks rewarded on both sides (optionally only those in ``mask``)."""
    p_sim, p_hum = paired.simulator.task_success, paired.human.task_success
    both = ~np.isnan(p_sim) & ~np.isnan(p_hum)
    if mask is not None:
        both &= mask
    w = weights * both
    n_tasks = w.sum(axis=1)
    return OutcomeArrays(
        simulator=_ratio(w @ np.where(both, p_sim, 0.0), n_tasks),
        human=_ratio(w @ np.where(both, p_hum, 0.0), n_tasks),
        n_tasks=n_tasks,
    )


def paired_survey(paired: PairedSums, weights: FloatArray) -> EvaluationArrays:
    """S̄_sim(d), S̄_hum(d) over the tasks where both sides answered d, every task equal."""
    m_sim, m_hum = paired.simulator.task_survey, paired.human.task_survey
    both = ~np.isnan(m_sim) & ~np.isnan(m_hum)
    n_tasks = weights @ both
    return EvaluationArrays(
        simulator=_ratio(weights @ np.where(both, m_sim, 0.0), n_tasks),
        human=_ratio(weights @ np.where(both, m_hum, 0.0), n_tasks),
        n_tasks=n_tasks,
    )


def component_arrays(
    paired: PairedSums, weights: FloatArray, support: BoolArray | None = None
) -> ComponentArrays:
    """All components and their details for each row of ``weights`` (B, U).

    ``support``: a fixed feature set (:func:`point_support`), else decided per row.
    """
    profile = profiles(paired, weights, support)
    return ComponentArrays(
        profiles=profile,
        dimensions=dimension_means(profile),
        outcome=paired_success(paired, weights),
        evaluation=paired_survey(paired, weights),
    )


def usi_of(
    values: Mapping[str, FloatArray | float | None], used: list[str] | None = None
) -> FloatArray:
    """100 · mean of the defined components per row (only ``used`` ones, if given).

    The one USI mean (spec §6): point estimates, bootstrap replicates, per-batch scores and
    the ceiling's fold means all go through it. A component may be a (B,) array or one
    number; NaN, None and an absent key are "not computable" and left out of the mean.
    """
    names = [c for c in COMPONENT_NAMES if used is None or c in used]
    if not names:
        return np.full(1, np.nan)
    stacked = np.column_stack(
        [np.atleast_1d(np.asarray(values.get(c), dtype=np.float64)) for c in names]
    )
    defined = ~np.isnan(stacked)
    return 100.0 * _ratio(np.where(defined, stacked, 0.0).sum(axis=1), defined.sum(axis=1))


# -- v1 diagnostics (spec §4, §5): per-task statistics kept beside their human noise floor --


def per_task_ece(paired: PairedSums) -> float | None:
    """The v1 outcome statistic: 10-bin ECE of per-task success rates over paired tasks."""
    p_sim, p_hum = paired.simulator.task_success, paired.human.task_success
    both = ~np.isnan(p_sim) & ~np.isnan(p_hum)
    if not both.any():
        return None
    return expected_calibration_error(p_sim[both], p_hum[both])


def per_task_mae(paired: PairedSums) -> float | None:
    """The v1 evaluation statistic: mean |Δ| over (task, dimension) cells answered by both."""
    gaps = np.abs(paired.simulator.task_survey - paired.human.task_survey)
    if np.isnan(gaps).all():
        return None
    return float(np.nanmean(gaps))


def v1_components(paired: PairedSums) -> dict[str, float | None]:
    """The components as usi-v1 defined them, for comparison (``bench_stability``) only.

    v1: every feature is an episode mean, 0 vs 0 is Dice 1 and no feature is left out;
    outcome = 1 − per-task ECE; evaluation = 1 − per-task MAE.
    """
    ones = paired.ones()
    sim = _ratio(ones @ paired.simulator.feature_sum, ones @ paired.simulator.feature_count)
    hum = _ratio(ones @ paired.human.feature_sum, ones @ paired.human.feature_count)
    similarity = dice_array(sim, hum)[0]
    out: dict[str, float | None] = {}
    for dimension, columns in _DIMENSION_COLUMNS.items():
        values = similarity[columns]
        values = values[~np.isnan(values)]
        out[dimension] = float(values.mean()) if values.size else None
    ece, mae = per_task_ece(paired), per_task_mae(paired)
    out["outcome"] = None if ece is None else 1.0 - ece
    out["evaluation"] = None if mae is None else 1.0 - mae
    return out

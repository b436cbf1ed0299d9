"""Putting it together: one simulator, or several, scored against the same humans."""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from usi.fingerprint.features import FEATURE_DIMENSION, FEATURES
from usi.metrics.bootstrap import N_BOOTSTRAP
from usi.metrics.evaluation import JudgeAgreement, judge_agreement
from usi.metrics.fidelity import DEFAULT_SEED, human_coverage_reference, measure_fidelity
from usi.metrics.index import estimate_usi, human_ceiling, n_tasks_paired, split_half
from usi.metrics.models import (
    DimensionGapModel,
    EpisodeCounts,
    EvaluationDetail,
    FeatureComparison,
    JudgeAgreementModel,
    JudgeDetail,
    JudgeGapModel,
    Leaderboard,
    OutcomeDetail,
    ScoreResult,
    UsiValue,
)
from usi.metrics.significance import feature_significance


def _number(value: object) -> float | None:
    """A JSON-safe float: NaN and infinities become None."""
    if value is None:
        return None
    number = float(value)  # type: ignore[arg-type]
    return number if math.isfinite(number) else None


def _judge_model(agreement: JudgeAgreement | None) -> JudgeAgreementModel | None:
    if agreement is None:
        return None
    return JudgeAgreementModel(
        mae=agreement.mae,
        n_episodes=agreement.n_episodes,
        n_pairs=agreement.n_pairs,
        dimensions={
            d: JudgeGapModel(
                participant=g.participant,
                judge=g.judge,
                delta=g.delta,
                mae=g.mae,
                n_episodes=g.n_episodes,
            )
            for d, g in agreement.dimensions.items()
        },
    )


def score_simulator(
    simulator: pd.DataFrame,
    human: pd.DataFrame,
    name: str | None = None,
    *,
    n_bootstrap: int = N_BOOTSTRAP,
    seed: int = DEFAULT_SEED,
    with_fidelity: bool = True,
    coverage_reference: float | None = None,
) -> ScoreResult:
    """Score one simulator's table against the humans' table (both from ``load_table``).

    ``coverage_reference`` (humans vs humans coverage) is computed here unless given: a
    leaderboard computes it once for all simulators.
    """
    if name is None:
        sources = simulator["source"].astype(str).unique()
        name = str(sources[0]) if len(sources) == 1 else "+".join(map(str, sources))
    estimate = estimate_usi(simulator, human, n_bootstrap=n_bootstrap, seed=seed)
    pooled = estimate.components
    tests = feature_significance(simulator, human)
    features = {
        f: FeatureComparison(
            dimension=FEATURE_DIMENSION[f],
            human=_number(pooled.features.at[f, "human"]),
            simulator=_number(pooled.features.at[f, "simulator"]),
            dice=_number(pooled.features.at[f, "dice"]),
            p=_number(tests.at[f, "p"]),
            p_adj=_number(tests.at[f, "p_adj"]),
            effect=_number(tests.at[f, "effect"]),
            large_gap=bool(tests.at[f, "large_gap"]),
        )
        for f in FEATURES
    }
    evaluation = pooled.evaluation
    evaluation_detail = (
        None
        if evaluation.value is None
        else EvaluationDetail(
            mae=evaluation.mae,
            n_pairs=evaluation.n_pairs,
            n_tasks=evaluation.n_tasks,
            dimensions={
                d: DimensionGapModel(
                    human=g.human,
                    simulator=g.simulator,
                    delta=g.delta,
                    relative_overestimation=g.relative_overestimation,
                    n_tasks=g.n_tasks,
                )
                for d, g in evaluation.dimensions.items()
            },
        )
    )
    judge_human = _judge_model(judge_agreement(human))
    judge_simulator = _judge_model(judge_agreement(simulator))
    judge = (
        None
        if judge_human is None and judge_simulator is None
        else JudgeDetail(human=judge_human, simulator=judge_simulator)
    )
    reference = coverage_reference
    if with_fidelity and reference is None:
        reference = human_coverage_reference(split_half(human), seed)
    return ScoreResult(
        simulator=name,
        usi=UsiValue(
            value=_number(estimate.value),
            ci_low=_number(estimate.ci_low),
            ci_high=_number(estimate.ci_high),
            components_used=estimate.used,
        ),
        components=pooled.as_model().model_copy(
            update={**estimate.reported, "missing": estimate.missing}
        ),
        features=features,
        n_episodes=EpisodeCounts(human=len(human), simulator=len(simulator)),
        n_tasks_paired=n_tasks_paired(simulator, human),
        uncertainty=estimate.uncertainty,
        outcome_detail=OutcomeDetail(ece=pooled.outcome.ece, n_tasks=pooled.outcome.n_tasks),
        evaluation_detail=evaluation_detail,
        fidelity=measure_fidelity(simulator, human, reference, seed) if with_fidelity else None,
        judge=judge,
    )


def score_leaderboard(
    simulators: Mapping[str, pd.DataFrame],
    human: pd.DataFrame,
    *,
    n_bootstrap: int = N_BOOTSTRAP,
    seed: int = DEFAULT_SEED,
    with_fidelity: bool = True,
) -> Leaderboard:
    """Every simulator against the same humans, best USI first, under the human ceiling."""
    reference = human_coverage_reference(split_half(human), seed) if with_fidelity else None
    results = [
        score_simulator(
            table,
            human,
            name,
            n_bootstrap=n_bootstrap,
            seed=seed,
            with_fidelity=with_fidelity,
            coverage_reference=reference,
        )
        for name, table in simulators.items()
    ]
    results.sort(key=lambda r: (r.usi.value is None, -(r.usi.value or 0.0), r.simulator))
    return Leaderboard(ceiling=human_ceiling(human), leaderboard=results)

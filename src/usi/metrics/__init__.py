"""Alignment metrics and the User-Sim Index (spec §3–6), plus fidelity beside it.

Typical use::

    from usi.metrics import load_table, score_simulator
    table = load_table("episodes.jsonl")
    human = table[table.source == "human"]
    result = score_simulator(table[table.source == "gpt-4o"], human)
    result.model_dump()  # the JSON of `usi score --json`

Names are loaded on first use (PEP 562): ``usi --help`` and the other capabilities import
this package through the CLI and should not pay for scipy and scikit-learn.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from usi.metrics.alignment import (
        behavioral_alignment,
        dice,
        dice_array,
        dimension_alignment,
        feature_dice,
        profile,
    )
    from usi.metrics.bootstrap import BOOTSTRAP_CONFIDENCE, N_BOOTSTRAP, bootstrap_usi
    from usi.metrics.evaluation import (
        DimensionGap,
        EvaluativeAlignment,
        JudgeAgreement,
        JudgeGap,
        evaluative_alignment,
        judge_agreement,
        task_survey_means,
    )
    from usi.metrics.fidelity import (
        coverage,
        coverage_score,
        discriminator_auc,
        dispersion_ratio,
        human_coverage_reference,
        measure_fidelity,
    )
    from usi.metrics.index import (
        ComponentScores,
        UsiEstimate,
        compute_components,
        estimate_usi,
        human_ceiling,
        split_half,
        usi_value,
    )
    from usi.metrics.models import (
        COMPONENT_NAMES,
        CeilingResult,
        Components,
        Coverage,
        EvaluationDetail,
        FeatureComparison,
        Fidelity,
        JudgeDetail,
        Leaderboard,
        ScoreResult,
        Uncertainty,
        UsiValue,
    )
    from usi.metrics.outcome import (
        N_CALIBRATION_BINS,
        OutcomeAlignment,
        calibration_bins,
        expected_calibration_error,
        outcome_alignment,
        task_success_rates,
    )
    from usi.metrics.score import score_leaderboard, score_simulator
    from usi.metrics.significance import (
        LARGE_EFFECT,
        SIGNIFICANCE_LEVEL,
        cliffs_delta,
        feature_significance,
        holm,
    )
    from usi.metrics.table import human_rows, load_table, simulator_sources, task_keys

_EXPORTS: dict[str, str] = {
    "BOOTSTRAP_CONFIDENCE": "usi.metrics.bootstrap",
    "COMPONENT_NAMES": "usi.metrics.models",
    "CeilingResult": "usi.metrics.models",
    "ComponentScores": "usi.metrics.index",
    "Components": "usi.metrics.models",
    "Coverage": "usi.metrics.models",
    "DimensionGap": "usi.metrics.evaluation",
    "EvaluationDetail": "usi.metrics.models",
    "EvaluativeAlignment": "usi.metrics.evaluation",
    "FeatureComparison": "usi.metrics.models",
    "Fidelity": "usi.metrics.models",
    "JudgeAgreement": "usi.metrics.evaluation",
    "JudgeDetail": "usi.metrics.models",
    "JudgeGap": "usi.metrics.evaluation",
    "LARGE_EFFECT": "usi.metrics.significance",
    "Leaderboard": "usi.metrics.models",
    "N_BOOTSTRAP": "usi.metrics.bootstrap",
    "N_CALIBRATION_BINS": "usi.metrics.outcome",
    "OutcomeAlignment": "usi.metrics.outcome",
    "SIGNIFICANCE_LEVEL": "usi.metrics.significance",
    "ScoreResult": "usi.metrics.models",
    "Uncertainty": "usi.metrics.models",
    "UsiEstimate": "usi.metrics.index",
    "UsiValue": "usi.metrics.models",
    "behavioral_alignment": "usi.metrics.alignment",
    "bootstrap_usi": "usi.metrics.bootstrap",
    "calibration_bins": "usi.metrics.outcome",
    "cliffs_delta": "usi.metrics.significance",
    "compute_components": "usi.metrics.index",
    "coverage": "usi.metrics.fidelity",
    "coverage_score": "usi.metrics.fidelity",
    "dice": "usi.metrics.alignment",
    "dice_array": "usi.metrics.alignment",
    "dimension_alignment": "usi.metrics.alignment",
    "discriminator_auc": "usi.metrics.fidelity",
    "dispersion_ratio": "usi.metrics.fidelity",
    "estimate_usi": "usi.metrics.index",
    "evaluative_alignment": "usi.metrics.evaluation",
    "expected_calibration_error": "usi.metrics.outcome",
    "feature_dice": "usi.metrics.alignment",
    "feature_significance": "usi.metrics.significance",
    "human_coverage_reference": "usi.metrics.fidelity",
    "measure_fidelity": "usi.metrics.fidelity",
    "holm": "usi.metrics.significance",
    "human_ceiling": "usi.metrics.index",
    "human_rows": "usi.metrics.table",
    "judge_agreement": "usi.metrics.evaluation",
    "load_table": "usi.metrics.table",
    "outcome_alignment": "usi.metrics.outcome",
    "profile": "usi.metrics.alignment",
    "score_leaderboard": "usi.metrics.score",
    "score_simulator": "usi.metrics.score",
    "simulator_sources": "usi.metrics.table",
    "split_half": "usi.metrics.index",
    "task_keys": "usi.metrics.table",
    "task_success_rates": "usi.metrics.outcome",
    "task_survey_means": "usi.metrics.evaluation",
    "usi_value": "usi.metrics.index",
}

__all__ = [
    "BOOTSTRAP_CONFIDENCE",
    "COMPONENT_NAMES",
    "LARGE_EFFECT",
    "N_BOOTSTRAP",
    "N_CALIBRATION_BINS",
    "SIGNIFICANCE_LEVEL",
    "CeilingResult",
    "ComponentScores",
    "Components",
    "Coverage",
    "DimensionGap",
    "EvaluationDetail",
    "EvaluativeAlignment",
    "FeatureComparison",
    "Fidelity",
    "JudgeAgreement",
    "JudgeDetail",
    "JudgeGap",
    "Leaderboard",
    "OutcomeAlignment",
    "ScoreResult",
    "Uncertainty",
    "UsiEstimate",
    "UsiValue",
    "behavioral_alignment",
    "bootstrap_usi",
    "calibration_bins",
    "cliffs_delta",
    "compute_components",
    "coverage",
    "coverage_score",
    "dice",
    "dice_array",
    "dimension_alignment",
    "discriminator_auc",
    "dispersion_ratio",
    "estimate_usi",
    "evaluative_alignment",
    "expected_calibration_error",
    "feature_dice",
    "feature_significance",
    "holm",
    "human_ceiling",
    "human_coverage_reference",
    "human_rows",
    "judge_agreement",
    "load_table",
    "measure_fidelity",
    "outcome_alignment",
    "profile",
    "score_leaderboard",
    "score_simulator",
    "simulator_sources",
    "split_half",
    "task_keys",
    "task_success_rates",
    "task_survey_means",
    "usi_value",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'usi.metrics' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value

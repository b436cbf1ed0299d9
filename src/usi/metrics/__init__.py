"""Alignment metrics and the User-Sim Index (spec §3–6, usi-v2), plus fidelity beside it.

Typical use::

    from usi.metrics import load_table, score_simulator
    table = load_table("episodes.jsonl")
    human = table[table.source == "human"]
    result = score_simulator(table[table.source == "gpt-4o"], human)
    result.model_dump()  # the JSON of `usi score --json`

One call scores every simulator and the ceiling: ``usi.metrics.score.score`` (either
definition set; not re-exported here, where ``score`` is the module's name).
The flow is one-way: table → per-side summaries (``summarize``) → components
(``component_arrays``) → USI → interval (``bootstrap_usi``, the same component functions on
resampled weights).

Names are loaded on first use (PEP 562): ``usi --help`` and the other capabilities import
this package through the CLI and should not pay for scipy and scikit-learn.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from usi.inputs.table import (
        human_rows,
        load_table,
        simulator_sources,
        task_keys,
    )
    from usi.metrics.alignment import (
        MIN_CUE_TURNS,
        dice,
        dice_array,
    )
    from usi.metrics.bootstrap import (
        BOOTSTRAP_CONFIDENCE,
        N_BOOTSTRAP,
        bootstrap_usi,
    )
    from usi.metrics.ceiling import (
        human_ceiling,
        tau_usi_ceiling,
    )
    from usi.metrics.components import (
        component_arrays,
        per_task_ece,
        per_task_mae,
        usi_of,
        v1_components,
    )
    from usi.metrics.evaluation import (
        judge_agreement,
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
        noise_floors,
        score_pair,
        split_half,
    )
    from usi.metrics.models import (
        COMPONENT_LABELS,
        COMPONENT_NAMES,
        DEFINITIONS,
        MIN_PAIRED_TASKS,
        CeilingResult,
        Components,
        Coverage,
        DimensionGap,
        DomainOutcome,
        EvaluationDetail,
        FeatureComparison,
        Fidelity,
        JudgeAgreement,
        JudgeDetail,
        JudgeGap,
        Leaderboard,
        OutcomeDetail,
        ScoreResult,
        Uncertainty,
        UnsupportedFeature,
        UsiValue,
    )
    from usi.metrics.outcome import (
        N_CALIBRATION_BINS,
        SUCCESS_REWARD,
        calibration_bins,
        expected_calibration_error,
        task_success_rates,
    )
    from usi.metrics.score import (
        PeopleReference,
        Scores,
        people_reference,
        score_leaderboard,
        score_simulator,
    )
    from usi.metrics.significance import (
        LARGE_EFFECT,
        SIGNIFICANCE_LEVEL,
        cliffs_delta,
        feature_significance,
        holm,
    )
    from usi.metrics.summary import (
        MEAN_FEATURES,
        RATE_FEATURES,
        PairedSums,
        SideSums,
        summarize,
    )

_EXPORTS: dict[str, str] = {
    "BOOTSTRAP_CONFIDENCE": "usi.metrics.bootstrap",
    "COMPONENT_LABELS": "usi.metrics.models",
    "COMPONENT_NAMES": "usi.metrics.models",
    "CeilingResult": "usi.metrics.models",
    "Components": "usi.metrics.models",
    "Coverage": "usi.metrics.models",
    "DEFINITIONS": "usi.metrics.models",
    "DimensionGap": "usi.metrics.models",
    "DomainOutcome": "usi.metrics.models",
    "EvaluationDetail": "usi.metrics.models",
    "FeatureComparison": "usi.metrics.models",
    "Fidelity": "usi.metrics.models",
    "JudgeAgreement": "usi.metrics.models",
    "JudgeDetail": "usi.metrics.models",
    "JudgeGap": "usi.metrics.models",
    "LARGE_EFFECT": "usi.metrics.significance",
    "Leaderboard": "usi.metrics.models",
    "MEAN_FEATURES": "usi.metrics.summary",
    "MIN_CUE_TURNS": "usi.metrics.alignment",
    "MIN_PAIRED_TASKS": "usi.metrics.models",
    "N_BOOTSTRAP": "usi.metrics.bootstrap",
    "N_CALIBRATION_BINS": "usi.metrics.outcome",
    "OutcomeDetail": "usi.metrics.models",
    "PairedSums": "usi.metrics.summary",
    "RATE_FEATURES": "usi.metrics.summary",
    "SIGNIFICANCE_LEVEL": "usi.metrics.significance",
    "SUCCESS_REWARD": "usi.metrics.outcome",
    "ScoreResult": "usi.metrics.models",
    "PeopleReference": "usi.metrics.score",
    "Scores": "usi.metrics.score",
    "SideSums": "usi.metrics.summary",
    "Uncertainty": "usi.metrics.models",
    "UnsupportedFeature": "usi.metrics.models",
    "UsiValue": "usi.metrics.models",
    "bootstrap_usi": "usi.metrics.bootstrap",
    "calibration_bins": "usi.metrics.outcome",
    "cliffs_delta": "usi.metrics.significance",
    "component_arrays": "usi.metrics.components",
    "coverage": "usi.metrics.fidelity",
    "coverage_score": "usi.metrics.fidelity",
    "dice": "usi.metrics.alignment",
    "dice_array": "usi.metrics.alignment",
    "discriminator_auc": "usi.metrics.fidelity",
    "dispersion_ratio": "usi.metrics.fidelity",
    "expected_calibration_error": "usi.metrics.outcome",
    "feature_significance": "usi.metrics.significance",
    "holm": "usi.metrics.significance",
    "human_ceiling": "usi.metrics.ceiling",
    "human_coverage_reference": "usi.metrics.fidelity",
    "human_rows": "usi.inputs.table",
    "judge_agreement": "usi.metrics.evaluation",
    "load_table": "usi.inputs.table",
    "measure_fidelity": "usi.metrics.fidelity",
    "noise_floors": "usi.metrics.index",
    "per_task_ece": "usi.metrics.components",
    "per_task_mae": "usi.metrics.components",
    "people_reference": "usi.metrics.score",
    "score_leaderboard": "usi.metrics.score",
    "score_pair": "usi.metrics.index",
    "score_simulator": "usi.metrics.score",
    "simulator_sources": "usi.inputs.table",
    "split_half": "usi.metrics.index",
    "summarize": "usi.metrics.summary",
    "task_keys": "usi.inputs.table",
    "task_success_rates": "usi.metrics.outcome",
    "tau_usi_ceiling": "usi.metrics.ceiling",
    "usi_of": "usi.metrics.components",
    "v1_components": "usi.metrics.components",
}

__all__ = [
    "BOOTSTRAP_CONFIDENCE",
    "COMPONENT_LABELS",
    "COMPONENT_NAMES",
    "DEFINITIONS",
    "LARGE_EFFECT",
    "MEAN_FEATURES",
    "MIN_CUE_TURNS",
    "MIN_PAIRED_TASKS",
    "N_BOOTSTRAP",
    "N_CALIBRATION_BINS",
    "RATE_FEATURES",
    "SIGNIFICANCE_LEVEL",
    "SUCCESS_REWARD",
    "CeilingResult",
    "Components",
    "Coverage",
    "DimensionGap",
    "DomainOutcome",
    "EvaluationDetail",
    "FeatureComparison",
    "Fidelity",
    "JudgeAgreement",
    "JudgeDetail",
    "JudgeGap",
    "Leaderboard",
    "OutcomeDetail",
    "PairedSums",
    "PeopleReference",
    "ScoreResult",
    "Scores",
    "SideSums",
    "Uncertainty",
    "UnsupportedFeature",
    "UsiValue",
    "bootstrap_usi",
    "calibration_bins",
    "cliffs_delta",
    "component_arrays",
    "coverage",
    "coverage_score",
    "dice",
    "dice_array",
    "discriminator_auc",
    "dispersion_ratio",
    "expected_calibration_error",
    "feature_significance",
    "holm",
    "human_ceiling",
    "human_coverage_reference",
    "human_rows",
    "judge_agreement",
    "load_table",
    "measure_fidelity",
    "noise_floors",
    "people_reference",
    "per_task_ece",
    "per_task_mae",
    "score_leaderboard",
    "score_pair",
    "score_simulator",
    "simulator_sources",
    "split_half",
    "summarize",
    "task_keys",
    "task_success_rates",
    "tau_usi_ceiling",
    "usi_of",
    "v1_components",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'usi.metrics' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value

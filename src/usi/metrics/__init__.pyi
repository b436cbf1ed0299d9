"""The public names of ``usi.metrics``: the one list (see :mod:`usi.exports`)."""

from usi.inputs.table import (
    human_rows as human_rows,
    load_table as load_table,
    simulator_sources as simulator_sources,
    task_keys as task_keys,
)
from usi.metrics.alignment import (
    MIN_CUE_TURNS as MIN_CUE_TURNS,
    dice as dice,
    dice_array as dice_array,
)
from usi.metrics.bootstrap import (
    BOOTSTRAP_CONFIDENCE as BOOTSTRAP_CONFIDENCE,
    N_BOOTSTRAP as N_BOOTSTRAP,
    bootstrap_usi as bootstrap_usi,
)
from usi.metrics.components import (
    component_arrays as component_arrays,
    per_task_ece as per_task_ece,
    per_task_mae as per_task_mae,
    usi_of as usi_of,
    v1_components as v1_components,
)
from usi.metrics.evaluation import judge_agreement as judge_agreement
from usi.metrics.fidelity import (
    coverage as coverage,
    coverage_score as coverage_score,
    discriminator_auc as discriminator_auc,
    dispersion_ratio as dispersion_ratio,
    human_coverage_reference as human_coverage_reference,
    measure_fidelity as measure_fidelity,
)
from usi.metrics.ceiling import (
    human_ceiling as human_ceiling,
    tau_usi_ceiling as tau_usi_ceiling,
)
from usi.metrics.index import (
    noise_floors as noise_floors,
    score_pair as score_pair,
    split_half as split_half,
)
from usi.metrics.models import (
    COMPONENT_LABELS as COMPONENT_LABELS,
    COMPONENT_NAMES as COMPONENT_NAMES,
    DEFINITIONS as DEFINITIONS,
    MIN_PAIRED_TASKS as MIN_PAIRED_TASKS,
    CeilingResult as CeilingResult,
    Components as Components,
    Coverage as Coverage,
    DimensionGap as DimensionGap,
    DomainOutcome as DomainOutcome,
    EvaluationDetail as EvaluationDetail,
    FeatureComparison as FeatureComparison,
    Fidelity as Fidelity,
    JudgeAgreement as JudgeAgreement,
    JudgeDetail as JudgeDetail,
    JudgeGap as JudgeGap,
    Leaderboard as Leaderboard,
    OutcomeDetail as OutcomeDetail,
    ScoreResult as ScoreResult,
    Uncertainty as Uncertainty,
    UnsupportedFeature as UnsupportedFeature,
    UsiValue as UsiValue,
)
from usi.metrics.outcome import (
    N_CALIBRATION_BINS as N_CALIBRATION_BINS,
    SUCCESS_REWARD as SUCCESS_REWARD,
    calibration_bins as calibration_bins,
    expected_calibration_error as expected_calibration_error,
    task_success_rates as task_success_rates,
)
from usi.metrics.score import (
    PeopleReference as PeopleReference,
    Scores as Scores,
    people_reference as people_reference,
    score_leaderboard as score_leaderboard,
    score_simulator as score_simulator,
)
from usi.metrics.significance import (
    LARGE_EFFECT as LARGE_EFFECT,
    SIGNIFICANCE_LEVEL as SIGNIFICANCE_LEVEL,
    cliffs_delta as cliffs_delta,
    feature_significance as feature_significance,
    holm as holm,
)
from usi.metrics.summary import (
    MEAN_FEATURES as MEAN_FEATURES,
    RATE_FEATURES as RATE_FEATURES,
    PairedSums as PairedSums,
    SideSums as SideSums,
    summarize as summarize,
)

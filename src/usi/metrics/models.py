"""The JSON contract of ``usi score``: pydantic models whose ``model_dump()`` is the output.

The report capability and any user script read these same models, so every field is
documented here once. Nulls are explicit: a component that cannot be computed is ``null``
and ``components.missing`` says why.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from usi.fingerprint.features import DIMENSION_NAMES

Definitions = Literal["usi-v2"]
DEFINITIONS: Definitions = "usi-v2"
"""The version of the measurement definitions (spec MEASUREMENT.md) every output names."""

COMPONENT_NAMES: tuple[str, ...] = ("D1", "D2", "D3", "D4", "outcome", "evaluation")
"""The six USI components in the order the paper lists them (spec §6)."""

COMPONENT_LABELS: dict[str, str] = {
    **{d: f"{d} {name}" for d, name in DIMENSION_NAMES.items()},
    "outcome": "Outcome alignment",
    "evaluation": "Evaluative alignment",
}
"""How the terminal table, the report and the README name each component (one place)."""

MIN_PAIRED_TASKS = 30
"""Below this many paired tasks the task bootstrap has few units to resample and the
interval is wide; ``usi score`` says so in one line (``uncertainty.note``)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UsiValue(_Model):
    """The index on a 0–100 scale, its interval, and which components it averages."""

    value: float | None = Field(description="100 · mean of the components used")
    ci_low: float | None
    ci_high: float | None
    components_used: list[str]


class Components(_Model):
    """The six components in [0, 1]; ``missing`` gives the reason for each null.

    usi-v2: the point estimate against all human episodes pooled (every batch together), so
    ``usi.value`` = 100 · the mean of the non-null ones. For the human ceiling with ≥ 3
    batches: the mean of each component over the folds that define it.
    """

    D1: float | None
    D2: float | None
    D3: float | None
    D4: float | None
    outcome: float | None
    evaluation: float | None
    missing: dict[str, str] = Field(default_factory=dict)


class FeatureComparison(_Model):
    """One of the 19 features: both sides' values, their Dice, support, and the test of the gap.

    usi-v2: a rate feature's side value is its pooled turn rate (cue turns / user turns over
    all the side's episodes); the other five are episode means.
    """

    dimension: str
    kind: Literal["rate", "mean"] = Field(description="pooled turn rate, or episode mean")
    human: float | None
    simulator: float | None
    dice: float | None
    supported: bool = Field(
        description="counted in its dimension: always for a mean feature; for a rate feature "
        "when the human side has at least MIN_CUE_TURNS cue turns (the simulator's own count "
        "never decides: a supported feature it never shows is scored, at Dice 0)"
    )
    human_cue_turns: int | None = Field(description="turns with a cue (rate features)")
    simulator_cue_turns: int | None
    p: float | None = Field(description="two-sided Mann–Whitney U p-value, per-episode values")
    p_adj: float | None = Field(description="Holm-adjusted across the 19 features")
    effect: float | None = Field(
        description="Cliff's delta = rank-biserial r in [-1, 1]; > 0: simulator higher"
    )
    large_gap: bool


class UnsupportedFeature(_Model):
    """A rate feature left out of its dimension: too few cue turns to say anything (spec §3)."""

    feature: str
    dimension: str
    human_cue_turns: int
    simulator_cue_turns: int


class EpisodeCounts(_Model):
    human: int
    simulator: int


class Uncertainty(_Model):
    """How sure the headline is.

    ``bootstrap``: tasks (present on either side, each bringing all its episodes on both
    sides) resampled with replacement; ``usi.ci_low/ci_high`` is the replicates' percentile
    interval centred on the point estimate (``interval``: shifted by ``replicate_bias``, how
    far the replicates' mean sits from the estimate), ``std`` the replicates' std.
    ``per_batch``/``batch_std``: the simulator scored against each human batch alone (the
    paper's error bars), a robustness detail only.
    ``folds`` (the human ceiling with ≥ 3 batches): there is no bootstrap; ``fold_std`` is
    the spread of the leave-one-batch-out folds, and ``std`` and the ci fields are null.
    """

    method: Literal["bootstrap", "folds", "none"]
    std: float | None
    n_batches: int
    n_bootstrap: int | None = None
    confidence: float | None = None
    n_tasks_resampled: int | None = Field(
        default=None, description="units the bootstrap resamples (tasks, unaligned episodes)"
    )
    interval: Literal["bias-centred percentile"] | None = Field(
        default=None, description="how the bootstrap interval is read off the replicates"
    )
    replicate_bias: float | None = Field(
        default=None,
        description="mean replicate − point estimate (USI points); the interval is shifted "
        "by it so the estimate sits near its middle",
    )
    fold_std: float | None = Field(
        default=None, description="sample std of the folds' USI (the ceiling's fold spread)"
    )
    per_batch: dict[str, float | None] = Field(
        default_factory=dict,
        description="the simulator against each batch alone, same features and components "
        "as the headline; null for a batch that cannot compute one of them",
    )
    batch_std: float | None = Field(default=None, description="sample std of per_batch")
    per_batch_note: str | None = Field(
        default=None, description="which batches have no per-batch score, and why"
    )
    note: str | None = Field(default=None, description="e.g. few paired tasks: a wide interval")


class DomainOutcome(_Model):
    """Task-paired success rates of one domain."""

    simulator: float
    human: float
    delta: float = Field(description="simulator − human: the success inflation")
    alignment: float = Field(description="1 − |delta|")
    n_tasks: int


class OutcomeDetail(_Model):
    """Outcome alignment (spec §4, usi-v2) and the v1 statistic beside its noise floor.

    ``components.outcome`` = 1 − ``ece`` = 1 − |``simulator_success`` − ``human_success``|.
    """

    ece: float | None = Field(
        description="usi-v2: one-bin ECE over paired tasks, |ŝ − ĥ| (v1: the 10-bin per-task "
        "ECE, now per_task_ece)"
    )
    n_tasks: int = Field(description="tasks with rewarded episodes on both sides")
    simulator_success: float | None = Field(default=None, description="ŝ: mean_t p_sim(t)")
    human_success: float | None = Field(default=None, description="ĥ: mean_t p_hum(t)")
    delta: float | None = Field(default=None, description="ŝ − ĥ: the agent's success inflation")
    by_domain: dict[str, DomainOutcome] = Field(default_factory=dict)
    per_task_ece: float | None = Field(
        default=None, description="diagnostic (v1 outcome): 10-bin ECE of per-task rates"
    )
    per_task_ece_noise_floor: float | None = Field(
        default=None, description="per_task_ece between two halves of the humans"
    )


class DimensionGap(_Model):
    """One survey dimension: task-paired means of both sides and the simulator's over-rating."""

    human: float = Field(description="S̄_hum(d): mean over paired tasks of the per-task means")
    simulator: float = Field(description="S̄_sim(d)")
    delta: float = Field(description="simulator − human")
    relative_overestimation: float | None = Field(description="delta / human mean")
    n_tasks: int


class EvaluationDetail(_Model):
    """Evaluative alignment (spec §5, usi-v2) and the v1 statistic beside its noise floor.

    ``components.evaluation`` = 1 − ``mae`` = 1 − mean over ``dimensions`` of |delta|.
    """

    mae: float | None = Field(
        description="usi-v2: mean over dimensions of |S̄_sim(d) − S̄_hum(d)| (v1: the per-task "
        "MAE, now per_task_mae)"
    )
    n_pairs: int = Field(description="(task, dimension) pairs answered on both sides")
    n_tasks: int
    dimensions: dict[str, DimensionGap]
    per_task_mae: float | None = Field(
        default=None, description="diagnostic (v1 evaluation): mean |Δ| over (task, dim) cells"
    )
    per_task_mae_noise_floor: float | None = Field(
        default=None, description="per_task_mae between two halves of the humans"
    )


class Coverage(_Model):
    """Two-sided nearest-neighbour distance between standardized fingerprint clouds.

    ``score`` = exp(−distance / human_pairwise_distance): 1 when every episode of each side
    has an identical twin on the other, e⁻¹ ≈ 0.37 when the nearest episode of the other
    side is as far as a random pair of people, towards 0 beyond. ``human_reference``: the
    same score for one half of the humans against the other (what a perfect simulator of
    this size can reach).
    """

    score: float | None
    distance: float | None
    human_pairwise_distance: float | None
    human_reference: float | None


class Fidelity(_Model):
    """Distribution-level fidelity, reported beside USI and never inside it."""

    dispersion: dict[str, float | None] = Field(
        description="sim std / human std per feature; 1.0 when both are 0, null when only the "
        "humans' is 0"
    )
    coverage: Coverage
    discriminator_auc: float | None = Field(
        description="cross-validated AUC of a human-vs-simulator classifier; 0.5 = "
        "indistinguishable"
    )


class JudgeGap(_Model):
    """One dimension rated by the participant and by the judge on the same conversations."""

    participant: float
    judge: float
    delta: float = Field(description="judge − participant")
    mae: float
    n_episodes: int


class JudgeAgreement(_Model):
    """How an LLM judge's answers differ from the user's own, conversation by conversation.

    ``delta`` = judge − participant: positive where the judge is more lenient (the paper:
    lenient on interaction quality, conservative on task success).
    """

    mae: float
    n_episodes: int
    n_pairs: int
    dimensions: dict[str, JudgeGap]


class JudgeDetail(_Model):
    """The LLM judge against the user's own answers, on each side's episodes."""

    human: JudgeAgreement | None
    simulator: JudgeAgreement | None


DivergenceUnit = Literal[
    "% of turns", "% of tasks", "% of words", "% of conversations", "score", "number"
]
"""How a divergence's two values read: shares (0–1, printed as %), a 0–1 score, a number."""


class Divergence(_Model):
    """One behaviour where the simulator differs from people, in words (ranked by ``gap``).

    Built by :func:`usi.metrics.divergences.build_divergences` from the same values the
    score reports (a feature's two sides, ŝ and ĥ, a survey dimension's S̄_sim and S̄_hum).
    """

    behaviour: str = Field(description="the feature, 'task_success', or the survey item id")
    kind: str = Field(description="'behaviour' (a feature), 'outcome' or 'evaluation'")
    simulator: float
    human: float
    unit: DivergenceUnit
    text: str = Field(description='e.g. "polite in 49% of turns vs 15% for people"')
    gap: float = Field(
        description="|simulator − human| / max(|simulator|, |human|, the unit's floor): the "
        "relative gap the list is ranked by, largest first"
    )


class ScoreResult(_Model):
    """Everything ``usi score`` says about one simulator against the humans."""

    definitions: Definitions = DEFINITIONS
    simulator: str
    usi: UsiValue
    components: Components
    features: dict[str, FeatureComparison]
    unsupported: list[UnsupportedFeature] = Field(default_factory=list)
    n_episodes: EpisodeCounts
    n_tasks_paired: int = Field(description="tasks with episodes on both sides")
    uncertainty: Uncertainty
    outcome_detail: OutcomeDetail
    evaluation_detail: EvaluationDetail | None
    fidelity: Fidelity | None
    judge: JudgeDetail | None
    divergences: list[Divergence] = Field(
        default_factory=list,
        description="where the simulator differs most from people, in words, largest first",
    )


class CeilingResult(_Model):
    """The human ceiling: how well one group of people matches another (paper: 92.9).

    People scored as if they were a simulator against other people. It is a reference, not
    an upper bound: two groups of people differ by sampling, so a simulator can exceed it
    (an exact copy of the people scores 100). The same shape as a simulator's score
    (``usi``, ``components``, ``features``, ``uncertainty``) plus its ``folds``, each a full
    score. ``leave-one-batch-out`` (≥ 3 batches): each batch against the others; components
    and USI are fold means, ``fold_std`` the spread of the folds' USI (no bootstrap: ``std``
    and ``usi.ci_low/ci_high`` are null), and ``features``/``unsupported`` are empty: each
    fold's own block, in ``folds``, is the one its D1–D4 follow from. ``batch-vs-batch``
    (2 batches): one batch against the other (the two folds differ only by the support
    rule), with a task-bootstrap interval. ``split-half`` (1 batch): half of each task's
    sessions against the other half, with a task-bootstrap interval.
    """

    definitions: Definitions = DEFINITIONS
    simulator: str = "humans (ceiling)"
    value: float | None = Field(
        description="= usi.value: how well one group of people matches another; a simulator "
        "can exceed it"
    )
    std: float | None = Field(description="std of the bootstrap replicates (one fold only)")
    fold_std: float | None = Field(
        default=None,
        description="leave-one-batch-out: sample std of the folds' USI; null when the folds "
        "use different components (their USIs are then not one spread)",
    )
    method: Literal["leave-one-batch-out", "batch-vs-batch", "split-half"]
    n_batches: int
    per_fold: list[float | None]
    usi: UsiValue
    components: Components
    features: dict[str, FeatureComparison]
    unsupported: list[UnsupportedFeature] = Field(default_factory=list)
    uncertainty: Uncertainty
    folds: list[ScoreResult] = Field(default_factory=list)
    n_episodes: int
    n_tasks_paired: int = Field(
        default=0, description="tasks with sessions on both sides of at least one fold"
    )
    per_fold_tasks_paired: list[int] = Field(
        default_factory=list, description="each fold's n_tasks_paired"
    )
    reason: str | None = None


class Leaderboard(_Model):
    """Several simulators against the same humans, best first, under the human ceiling."""

    definitions: Definitions = DEFINITIONS
    ceiling: CeilingResult
    leaderboard: list[ScoreResult]

"""The JSON contract of ``usi score``: pydantic models whose ``model_dump()`` is the output.

The report capability and any user script read these same models, so every field is
documented here once. Nulls are explicit: a component that cannot be computed is ``null``
and ``components.missing`` says why.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

COMPONENT_NAMES: tuple[str, ...] = ("D1", "D2", "D3", "D4", "outcome", "evaluation")
"""The six USI components in the order the paper lists them (spec §6)."""


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

    With human batches, each component is its mean over the per-batch scores (so that
    ``usi.value`` = 100 · their mean); otherwise it is the estimate on all humans.
    """

    D1: float | None
    D2: float | None
    D3: float | None
    D4: float | None
    outcome: float | None
    evaluation: float | None
    missing: dict[str, str] = Field(default_factory=dict)


class FeatureComparison(_Model):
    """One of the 19 features: both profiles' means, their Dice, and the test of the gap."""

    dimension: str
    human: float | None
    simulator: float | None
    dice: float | None
    p: float | None = Field(description="two-sided Mann–Whitney U p-value, per-episode values")
    p_adj: float | None = Field(description="Holm-adjusted across the 19 features")
    effect: float | None = Field(
        description="Cliff's delta = rank-biserial r in [-1, 1]; > 0: simulator higher"
    )
    large_gap: bool


class EpisodeCounts(_Model):
    human: int
    simulator: int


class Uncertainty(_Model):
    """How the interval was made.

    ``batches``: the simulator scored against each human batch; value = mean over batches,
    interval = mean ± std (sample std, ddof=1). ``bootstrap``: tasks resampled with
    replacement, 95% percentile interval, ``std`` = the replicates' std.
    """

    method: Literal["batches", "bootstrap", "none"]
    std: float | None
    n_batches: int
    n_bootstrap: int | None = None
    per_batch: dict[str, float | None] = Field(default_factory=dict)


class OutcomeDetail(_Model):
    ece: float | None
    n_tasks: int = Field(description="tasks with rewarded episodes on both sides")


class DimensionGapModel(_Model):
    human: float
    simulator: float
    delta: float = Field(description="simulator − human")
    relative_overestimation: float | None = Field(description="delta / human mean")
    n_tasks: int


class EvaluationDetail(_Model):
    mae: float | None
    n_pairs: int = Field(description="(task, dimension) pairs answered on both sides")
    n_tasks: int
    dimensions: dict[str, DimensionGapModel]


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


class JudgeGapModel(_Model):
    participant: float
    judge: float
    delta: float = Field(description="judge − participant")
    mae: float
    n_episodes: int


class JudgeAgreementModel(_Model):
    mae: float
    n_episodes: int
    n_pairs: int
    dimensions: dict[str, JudgeGapModel]


class JudgeDetail(_Model):
    """The LLM judge against the user's own answers, on each side's episodes."""

    human: JudgeAgreementModel | None
    simulator: JudgeAgreementModel | None


class ScoreResult(_Model):
    """Everything ``usi score`` says about one simulator against the humans."""

    simulator: str
    usi: UsiValue
    components: Components
    features: dict[str, FeatureComparison]
    n_episodes: EpisodeCounts
    n_tasks_paired: int = Field(description="tasks with episodes on both sides")
    uncertainty: Uncertainty
    outcome_detail: OutcomeDetail
    evaluation_detail: EvaluationDetail | None
    fidelity: Fidelity | None
    judge: JudgeDetail | None


class CeilingResult(_Model):
    """The humans scored as if they were a simulator against other humans (paper: 92.9).

    ``leave-one-batch-out``: each batch against the others, averaged. ``split-half``: with
    one batch, each task's sessions are split in two halves, one scored against the other.
    """

    value: float | None
    std: float | None
    method: Literal["leave-one-batch-out", "split-half"]
    n_batches: int
    per_fold: list[float | None]
    components: Components
    n_episodes: int
    reason: str | None = None


class Leaderboard(_Model):
    """Several simulators against the same humans, best first, under the human ceiling."""

    ceiling: CeilingResult
    leaderboard: list[ScoreResult]

"""The JSON of a ``tau-usi`` score: the paper's cells, and what usi adds, labelled as its own."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from usi.metrics.models import Divergence

Cell = tuple[float, float] | None
"""[mean, std] over the human batches (or batch pairs) that gave a value; null when none."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PaperRow(_Model):
    """Every cell in the reference's own units and names (D 0–100, Eval 0–100, ECE 0–1)."""

    D1_conv: Cell
    D2_info: Cell
    D3_clarif: Cell
    D4_react: Cell
    eval_agree: Cell
    ece: Cell
    usi: Cell


class TauUsiValue(_Model):
    value: float | None = Field(description="USI: the mean over human batches (the paper's)")
    std: float | None = Field(description="population std over human batches (the paper's)")
    ci_low: float | None = Field(description="usi's addition: 2.5th percentile, task bootstrap")
    ci_high: float | None = Field(description="usi's addition: 97.5th percentile")
    n_terms: int = Field(description="6 with Eval, 5 without")


class TauUsiComponents(_Model):
    """The paper row's means in [0, 1]: D/100, outcome = 1 − ECE, evaluation = Eval/100."""

    D1: float | None
    D2: float | None
    D3: float | None
    D4: float | None
    outcome: float | None
    evaluation: float | None
    missing: dict[str, str] = Field(default_factory=dict)


class BatchCell(_Model):
    """The simulator against one human batch (or one pair of batches, for the ceiling)."""

    batch: str
    D1_conv: float | None
    D2_info: float | None
    D3_clarif: float | None
    D4_react: float | None
    ece: float | None
    usi: float | None
    n_tasks: int = Field(description="tasks shared with that batch (rows)")


class TaskCounts(_Model):
    counted: dict[str, int] = Field(description="human batch → tasks scored against it")
    left_out: dict[str, int] = Field(
        default_factory=dict, description="reason → entries left out (no index, keep false, …)"
    )
    not_in_map: int = Field(0, description="scored tasks outside the difficulty map (no ECE)")


class PublishedPlacement(_Model):
    """The simulator among the paper's published rows (measured on 495 sessions)."""

    above: str | None
    below: str | None
    rank: int = Field(description="1-based position among the published simulators and it")
    of: int = Field(description="the published simulators plus this one")
    comparable: bool
    note: str | None = None


class Uncertainty(_Model):
    method: Literal["bootstrap over tasks (usi's addition)"] = (
        "bootstrap over tasks (usi's addition)"
    )
    n_bootstrap: int
    confidence: float = 0.95
    seed: int


class TauUsiResult(_Model):
    """``usi score --definitions tau-usi --json`` for one simulator (or the human ceiling)."""

    definitions: Literal["tau-usi"] = "tau-usi"
    simulator: str
    usi: TauUsiValue
    components: TauUsiComponents
    paper_row: PaperRow
    per_batch: list[BatchCell]
    tasks: TaskCounts
    uncertainty: Uncertainty
    signature: str
    notes: list[str] = Field(default_factory=list)
    published: PublishedPlacement | None = None
    provenance: dict[str, list[str]] = Field(
        default_factory=dict, description="run protocol and agent model(s) of the episodes"
    )
    divergences: list[Divergence] = Field(
        default_factory=list,
        description="usi's addition: where the simulator differs most from people, in words, "
        "largest relative gap first (features, success, ratings)",
    )

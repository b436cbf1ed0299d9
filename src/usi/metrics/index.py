"""The User-Sim Index (spec §6): six components, their mean, its uncertainty, the ceiling.

USI = 100 · mean of the components that can be computed among D1–D4, outcome and
evaluative alignment. A missing component is left out with its reason rather than counted
as 0 or 1, so a simulator without a survey is scored on what it has, and says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from usi.metrics.alignment import behavioral_alignment
from usi.metrics.bootstrap import N_BOOTSTRAP, bootstrap_usi, percentile_interval
from usi.metrics.evaluation import EvaluativeAlignment, evaluative_alignment
from usi.metrics.models import COMPONENT_NAMES, CeilingResult, Components, Uncertainty
from usi.metrics.outcome import OutcomeAlignment, outcome_alignment
from usi.metrics.table import task_keys

MIN_BATCHES_FOR_BATCH_UNCERTAINTY = 2
"""With at least this many human batches the interval is mean ± std over batches."""

MIN_BOOTSTRAP_REPLICATES = 2
"""Fewer defined replicates than this (``--bootstrap 1``) give no interval, not a NaN one."""


@dataclass(frozen=True)
class ComponentScores:
    """The components of one simulator-vs-humans comparison, with their details."""

    values: dict[str, float | None]
    missing: dict[str, str]
    features: pd.DataFrame  # index FEATURES; columns human, simulator, dice
    outcome: OutcomeAlignment
    evaluation: EvaluativeAlignment

    @property
    def used(self) -> list[str]:
        return [c for c in COMPONENT_NAMES if self.values.get(c) is not None]

    @property
    def usi(self) -> float | None:
        """100 · mean of the available components; None when none is available."""
        return usi_value(self.values)

    def as_model(self) -> Components:
        return Components(**{c: self.values.get(c) for c in COMPONENT_NAMES}, missing=self.missing)


def usi_value(values: dict[str, float | None]) -> float | None:
    """100 · mean of the non-null components."""
    present = [v for c in COMPONENT_NAMES if (v := values.get(c)) is not None]
    return 100.0 * float(np.mean(present)) if present else None


def compute_components(simulator: pd.DataFrame, human: pd.DataFrame) -> ComponentScores:
    """All six components of ``simulator`` against ``human`` (point estimates)."""
    dimensions, features = behavioral_alignment(simulator, human)
    outcome = outcome_alignment(simulator, human)
    evaluation = evaluative_alignment(simulator, human)
    values: dict[str, float | None] = {**dimensions}
    missing: dict[str, str] = {
        d: "no feature of this dimension is defined on both sides"
        for d, v in dimensions.items()
        if v is None
    }
    values["outcome"] = outcome.value
    if outcome.value is None:
        missing["outcome"] = outcome.reason or "not computable"
    values["evaluation"] = evaluation.value
    if evaluation.value is None:
        missing["evaluation"] = evaluation.reason or "not computable"
    return ComponentScores(values, missing, features, outcome, evaluation)


def human_batches(human: pd.DataFrame) -> list[int]:
    """The distinct batch numbers of the human table, sorted."""
    return sorted(int(b) for b in human["batch"].dropna().unique())


def n_tasks_paired(simulator: pd.DataFrame, human: pd.DataFrame) -> int:
    """Tasks with at least one episode on each side."""
    return len(set(task_keys(simulator).dropna()) & set(task_keys(human).dropna()))


@dataclass(frozen=True)
class UsiEstimate:
    """USI with its interval, the components it is built from, and how the interval was made."""

    value: float | None
    ci_low: float | None
    ci_high: float | None
    components: ComponentScores  # on all humans pooled (features, outcome/evaluation detail)
    reported: dict[str, float | None]  # the component values reported beside ``value``
    missing: dict[str, str]
    uncertainty: Uncertainty

    @property
    def used(self) -> list[str]:
        return [c for c in COMPONENT_NAMES if self.reported.get(c) is not None]


def _mean_std(values: list[float]) -> tuple[float, float | None]:
    mean = float(np.mean(values))
    return mean, (float(np.std(values, ddof=1)) if len(values) > 1 else None)


def estimate_usi(
    simulator: pd.DataFrame,
    human: pd.DataFrame,
    n_bootstrap: int = N_BOOTSTRAP,
    seed: int = 0,
) -> UsiEstimate:
    """USI of a simulator with its uncertainty (spec §6).

    With ≥ 2 human batches the simulator is scored against each batch: the value and each
    reported component are means over batches and the interval is mean ± std. Otherwise
    the value is the point estimate on all humans and the interval a task bootstrap.
    """
    pooled = compute_components(simulator, human)
    batches = human_batches(human)
    if len(batches) >= MIN_BATCHES_FOR_BATCH_UNCERTAINTY:
        per_batch = {
            b: compute_components(simulator, human[human["batch"] == b].reset_index(drop=True))
            for b in batches
        }
        reported: dict[str, float | None] = {}
        missing: dict[str, str] = {}
        for c in COMPONENT_NAMES:
            present = [v for s in per_batch.values() if (v := s.values.get(c)) is not None]
            reported[c] = float(np.mean(present)) if present else None
            if not present:
                missing[c] = next(iter(per_batch.values())).missing.get(c, "not computable")
        scores = {str(b): s.usi for b, s in per_batch.items()}
        defined = [v for v in scores.values() if v is not None]
        uncertainty = Uncertainty(
            method="batches", std=None, n_batches=len(batches), per_batch=scores
        )
        if not defined:
            return UsiEstimate(None, None, None, pooled, reported, missing, uncertainty)
        mean, std = _mean_std(defined)
        uncertainty.std = std
        low, high = (mean - std, mean + std) if std is not None else (None, None)
        return UsiEstimate(mean, low, high, pooled, reported, missing, uncertainty)

    value = pooled.usi
    if value is None or n_bootstrap < 1:
        uncertainty = Uncertainty(method="none", std=None, n_batches=len(batches))
        return UsiEstimate(value, None, None, pooled, pooled.values, pooled.missing, uncertainty)
    replicates = bootstrap_usi(simulator, human, pooled.used, n_bootstrap, seed)
    kept = replicates[~np.isnan(replicates)]
    if kept.size < MIN_BOOTSTRAP_REPLICATES:
        uncertainty = Uncertainty(method="none", std=None, n_batches=len(batches))
        return UsiEstimate(value, None, None, pooled, pooled.values, pooled.missing, uncertainty)
    low, high = percentile_interval(kept)
    uncertainty = Uncertainty(
        method="bootstrap",
        std=float(np.std(kept, ddof=1)),
        n_batches=len(batches),
        n_bootstrap=n_bootstrap,
    )
    return UsiEstimate(value, low, high, pooled, pooled.values, pooled.missing, uncertainty)


def split_half(human: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split sessions in two halves within each task, deterministically.

    Each task's sessions, ordered by episode id, alternate between the halves, so both
    halves cover the same tasks (a split *of* tasks would leave nothing to pair for the
    outcome and evaluation components). Unaligned sessions alternate the same way.
    """
    keys = task_keys(human).fillna("")
    order = human.assign(_key=keys).sort_values(["_key", "episode_id"], kind="stable")
    rank = order.groupby("_key").cumcount()
    first = order[rank % 2 == 0].drop(columns="_key").reset_index(drop=True)
    second = order[rank % 2 == 1].drop(columns="_key").reset_index(drop=True)
    return first, second


def human_ceiling(human: pd.DataFrame) -> CeilingResult:
    """The human ceiling: humans scored against humans (spec §6; the paper: 92.9)."""
    batches = human_batches(human)
    folds: list[ComponentScores] = []
    if len(batches) >= MIN_BATCHES_FOR_BATCH_UNCERTAINTY:
        method: str = "leave-one-batch-out"
        for b in batches:
            held_out = human["batch"] == b
            folds.append(
                compute_components(
                    human[held_out].reset_index(drop=True), human[~held_out].reset_index(drop=True)
                )
            )
    else:
        method = "split-half"
        first, second = split_half(human)
        if len(first) == 0 or len(second) == 0:
            empty = Components(
                D1=None, D2=None, D3=None, D4=None, outcome=None, evaluation=None, missing={}
            )
            return CeilingResult(
                value=None,
                std=None,
                method="split-half",
                n_batches=len(batches),
                per_fold=[],
                components=empty,
                n_episodes=len(human),
                reason="fewer than two human episodes: nothing to split",
            )
        folds.append(compute_components(second, first))
    values: dict[str, float | None] = {}
    missing: dict[str, str] = {}
    for c in COMPONENT_NAMES:
        present = [v for f in folds if (v := f.values.get(c)) is not None]
        values[c] = float(np.mean(present)) if present else None
        if not present:
            missing[c] = folds[0].missing.get(c, "not computable")
    per_fold = [f.usi for f in folds]
    defined = [v for v in per_fold if v is not None]
    value, std = _mean_std(defined) if defined else (None, None)
    return CeilingResult(
        value=value,
        std=std,
        method="leave-one-batch-out" if method == "leave-one-batch-out" else "split-half",
        n_batches=len(batches),
        per_fold=per_fold,
        components=Components(**values, missing=missing),
        n_episodes=len(human),
        reason=None if defined else "no component is computable between the human folds",
    )

"""The report's view of ``usi.metrics`` results: the only module that reads ``ScoreResult``.

Every USI, component, significance and fidelity number shown in the report is computed by
``usi.metrics``; this module only copies those numbers into small, flat records the
sections can draw from, so a change in the metrics API is absorbed in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd

from usi.metrics.models import COMPONENT_LABELS, COMPONENT_NAMES, DEFINITIONS
from usi.report.inputs import TableInput, load_input, same_input

__all__ = ["COMPONENTS", "COMPONENT_LABELS", "DEFINITIONS", "SimScore", "score_all"]

if TYPE_CHECKING:
    from usi.inputs.sides import Input
    from usi.metrics.models import CeilingResult, ScoreResult
    from usi.metrics.tau_usi.models import TauUsiResult

#: Component keys in the order the leaderboard shows them, and their labels: usi.metrics' own.
COMPONENTS: tuple[str, ...] = COMPONENT_NAMES
#: Beyond-USI fidelity measures, in leaderboard order.
FIDELITY: tuple[str, ...] = ("dispersion", "coverage", "discriminator_auc")
FIDELITY_LABELS: dict[str, str] = {
    "dispersion": "Dispersion ratio (median over features)",
    "coverage": "Coverage",
    "discriminator_auc": "Discriminator AUC",
}
FEATURE_COLUMNS: tuple[str, ...] = (
    "feature",
    "dimension",
    "human",
    "simulator",
    "dice",
    "p",
    "p_adj",
    "effect",
    "large_gap",
)
EVALUATION_COLUMNS: tuple[str, ...] = (
    "item",
    "human_mean",
    "sim_mean",
    "delta",
    "relative",
    "n_tasks",
)


@dataclass
class SimScore:
    """One simulator's (or the human ceiling's) scores, as the report shows them."""

    name: str
    usi: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    #: Std of USI over human batches (the capability figure's error bars, the paper's); the
    #: bootstrap std without batches; the fold spread for a leave-one-batch-out ceiling.
    usi_std: float | None = None
    #: The simulator against each human batch alone (robustness detail, never the headline).
    per_batch: dict[str, float | None] = field(default_factory=dict)
    definitions: str = DEFINITIONS
    uncertainty_method: str = ""
    components: dict[str, float | None] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    components_used: list[str] = field(default_factory=list)
    #: One row per feature: FEATURE_COLUMNS.
    features: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=FEATURE_COLUMNS))
    #: One row per survey item: EVALUATION_COLUMNS (Δ = simulator − human).
    evaluation: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=EVALUATION_COLUMNS)
    )
    fidelity: dict[str, float | None] = field(default_factory=dict)
    n_episodes: int = 0
    n_tasks_paired: int = 0
    #: definitions tau-usi: the whole result (paper row, signature, notes, placement).
    tau: TauUsiResult | None = None
    #: usi-v2: where the simulator differs most from people: (sentence, relative gap), top first.
    divergences: list[tuple[str, float]] = field(default_factory=list)


def _features_frame(result: ScoreResult) -> pd.DataFrame:
    rows = [
        {
            "feature": feature,
            "dimension": cmp.dimension,
            "human": cmp.human,
            "simulator": cmp.simulator,
            "dice": cmp.dice,
            "p": cmp.p,
            "p_adj": cmp.p_adj,
            "effect": cmp.effect,
            "large_gap": cmp.large_gap,
        }
        for feature, cmp in result.features.items()
    ]
    frame = pd.DataFrame(rows, columns=list(FEATURE_COLUMNS))
    for col in ("human", "simulator", "dice", "p", "p_adj", "effect"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
    return frame


def _evaluation_frame(result: ScoreResult) -> pd.DataFrame:
    detail = result.evaluation_detail
    if detail is None:
        return pd.DataFrame(columns=list(EVALUATION_COLUMNS))
    rows = [
        {
            "item": item,
            "human_mean": gap.human,
            "sim_mean": gap.simulator,
            "delta": gap.delta,
            "relative": gap.relative_overestimation,
            "n_tasks": gap.n_tasks,
        }
        for item, gap in detail.dimensions.items()
    ]
    frame = pd.DataFrame(rows, columns=list(EVALUATION_COLUMNS))
    frame["relative"] = pd.to_numeric(frame["relative"], errors="coerce").astype("float64")
    return frame


def median_dispersion(ratios: Mapping[str, float | None]) -> float | None:
    """One number for the leaderboard: the median per-feature dispersion ratio."""
    values = [v for v in ratios.values() if v is not None]
    return float(np.median(values)) if values else None


def from_result(name: str, result: ScoreResult) -> SimScore:
    """Copy one ``ScoreResult`` into the report's flat record (no number recomputed)."""
    components = result.components
    fidelity: dict[str, float | None] = dict.fromkeys(FIDELITY)
    if result.fidelity is not None:
        fidelity = {
            "dispersion": median_dispersion(result.fidelity.dispersion),
            "coverage": result.fidelity.coverage.score,
            "discriminator_auc": result.fidelity.discriminator_auc,
        }
    return SimScore(
        name=name,
        usi=result.usi.value,
        ci_low=result.usi.ci_low,
        ci_high=result.usi.ci_high,
        usi_std=(
            result.uncertainty.batch_std
            if result.uncertainty.batch_std is not None
            else result.uncertainty.std
        ),
        uncertainty_method=result.uncertainty.method,
        per_batch=dict(result.uncertainty.per_batch),
        definitions=result.definitions,
        components={c: getattr(components, c) for c in COMPONENTS},
        missing=dict(components.missing),
        components_used=list(result.usi.components_used),
        features=_features_frame(result),
        evaluation=_evaluation_frame(result),
        fidelity=fidelity,
        n_episodes=result.n_episodes.simulator,
        n_tasks_paired=result.n_tasks_paired,
        divergences=[(d.text, d.gap) for d in result.divergences],
    )


def from_ceiling(ceiling: CeilingResult) -> SimScore:
    """The human ceiling as a leaderboard row: its value, interval, components, paired tasks.

    A leave-one-batch-out ceiling has no interval (its ci fields are null) and its spread is
    the folds' (``fold_std``), shown in the row's std column, never as an interval.
    """
    value = ceiling.value
    std = ceiling.fold_std if ceiling.fold_std is not None else ceiling.std
    low, high = ceiling.usi.ci_low, ceiling.usi.ci_high
    components = ceiling.components
    return SimScore(
        name="human ceiling",
        usi=value,
        ci_low=low,
        ci_high=high,
        usi_std=std,
        uncertainty_method=ceiling.method,
        components={c: getattr(components, c) for c in COMPONENTS},
        missing=dict(components.missing),
        components_used=list(ceiling.usi.components_used),
        n_episodes=ceiling.n_episodes,
        n_tasks_paired=ceiling.n_tasks_paired,
        definitions=ceiling.definitions,
    )


#: How the report labels each definition set's spread of USI (the capability figure's bars).
TAU_STD_METHOD = "std over human batches (tau-usi)"


def from_tau_usi(result: TauUsiResult, n_episodes: int = 0) -> SimScore:
    """Copy one ``tau_usi.score`` result into the report's flat record (no number recomputed).

    Components are the paper row's means in [0, 1] (D/100, 1 − ECE, Eval/100), as
    ``usi score --definitions tau-usi --json`` prints them.
    """
    components = result.components
    values = {c: getattr(components, c) for c in COMPONENTS}
    return SimScore(
        name=result.simulator,
        usi=result.usi.value,
        ci_low=result.usi.ci_low,
        ci_high=result.usi.ci_high,
        usi_std=result.usi.std,
        per_batch={b.batch: b.usi for b in result.per_batch},
        definitions=result.definitions,
        uncertainty_method=TAU_STD_METHOD,
        components=values,
        missing=dict(components.missing),
        components_used=[c for c, v in values.items() if v is not None],
        n_episodes=n_episodes,
        n_tasks_paired=max(result.tasks.counted.values(), default=0),
        tau=result,
    )


ScoreProgress = Callable[[str], None]
#: Called with each warning line of :mod:`usi.inputs.sides` (no prefix).
Warn = Callable[[str], None]


class Loaded(NamedTuple):
    """One simulator input, read once: its table, the warnings of the rules, its tables
    under other definition sets and its episodes' audits (file inputs only)."""

    table: pd.DataFrame
    notes: list[str]
    also: dict[str, pd.DataFrame]
    audits: list[Any] | None


def _loaded(read: Input, name: str, is_human_input: bool) -> Loaded:
    from usi.inputs.sides import only_simulator, people_note

    table = only_simulator(read, name)
    notes = read.notes + ([] if is_human_input else people_note(read))
    also = {other: only_simulator(read.under(other), name) for other in read.also}
    return Loaded(table, notes, also, read.per_episode)


def _load(args: tuple[str, TableInput, bool, str, tuple[str, ...], bool]) -> Loaded:
    """Read one simulator input by ``usi score``'s rules (a worker pool's job)."""
    name, source, is_human_input, definitions, also, audit = args
    per_episode = None
    if audit:
        from usi.audit.runner import audit_episode

        per_episode = audit_episode
    read = load_input(source, name, definitions, also, per_episode)
    return _loaded(read, name, is_human_input)


def _is_human_input(source: TableInput, human_input: TableInput | None) -> bool:
    return human_input is not None and same_input(source, human_input)


def load_all(
    sims: Mapping[str, TableInput],
    pool: Executor | None,
    definitions: str = "usi-v2",
    human_input: TableInput | None = None,
    warn: Warn | None = None,
    *,
    also: tuple[str, ...] = (),
    audit: bool = False,
    human_read: Input | None = None,
) -> dict[str, Loaded]:
    """Every simulator input, read (and fingerprinted) in the pool, each file once for all
    it is asked for (``also``, ``audit``); warnings in order. ``human_read``: the people's
    input already read (with the same ``also`` and audit), reused for a simulator in the
    same file instead of reading it again."""
    jobs = []
    for name, source in sims.items():
        is_human = _is_human_input(source, human_input)
        jobs.append((name, source, is_human, definitions, also, audit and _is_file(source)))
    reused = {
        name: _loaded(human_read, name, True)
        for name, _, is_human, *_ in jobs
        if is_human and human_read is not None
    }
    todo = [job for job in jobs if job[0] not in reused]
    outputs: Iterator[Loaded] = map(_load, todo) if pool is None else pool.map(_load, todo)
    read = dict(zip([job[0] for job in todo], outputs, strict=True))
    loaded: dict[str, Loaded] = {}
    for name in sims:
        loaded[name] = reused[name] if name in reused else read[name]
        if warn is not None:
            for note in loaded[name].notes:
                warn(note)
    return loaded


def _is_file(source: TableInput) -> bool:
    return isinstance(source, str | Path)


def _load_all(
    sims: Mapping[str, TableInput],
    pool: Executor | None,
    definitions: str,
    human_input: TableInput | None = None,
    warn: Warn | None = None,
) -> dict[str, pd.DataFrame]:
    """Every simulator's table (:func:`load_all`'s, nothing else asked)."""
    loaded = load_all(sims, pool, definitions, human_input, warn)
    return {name: entry.table for name, entry in loaded.items()}


def score_all(
    human: pd.DataFrame,
    sims: Mapping[str, TableInput],
    progress: ScoreProgress | None = None,
    pool: Executor | None = None,
    *,
    human_input: TableInput | None = None,
    warn: Warn | None = None,
    loaded: Mapping[str, Loaded] | None = None,
) -> tuple[dict[str, pd.DataFrame], dict[str, SimScore], SimScore | None, str]:
    """Load every simulator and score them all, and the human ceiling, by usi-v2.

    ``human`` is the people's table (:func:`usi.inputs.sides.human_side`); each simulator
    input is read by the same rules as ``usi score`` and must hold one simulator (people in
    it are not scored; ``human_input`` names the file they came from, so reading one mixed
    file for both sides warns about nothing). The scores come from the one scoring entry,
    :func:`usi.metrics.score.score`, as ``usi score``'s do: the people's split, noise floors,
    coverage reference and ceiling once. With a ``pool`` (see :mod:`usi.report.workers`)
    each simulator is read, fingerprinted and scored in a worker process. Returns the
    simulators' tables and scores by name, the ceiling (None when it has no value) and why
    it is absent; every warning goes to ``warn``.
    """
    from usi.metrics.models import CeilingResult, ScoreResult
    from usi.metrics.score import score

    if loaded is None:
        tables = _load_all(sims, pool, "usi-v2", human_input, warn)
    else:  # read by the caller (load_all), warnings given then
        tables = {name: loaded[name].table for name in sims}
    scored = score(tables, human, definitions="usi-v2", pool=pool)
    by_name = {r.simulator: r for r in scored.results if isinstance(r, ScoreResult)}
    scores: dict[str, SimScore] = {}
    for name in sims:
        scores[name] = from_result(name, by_name[name])
        if progress is not None:
            progress(name)
    ceiling = scored.ceiling
    if not isinstance(ceiling, CeilingResult) or ceiling.value is None:
        return tables, scores, None, scored.ceiling_reason or "not computable"
    return tables, scores, from_ceiling(ceiling), ""


def score_all_tau_usi(
    human: pd.DataFrame,
    sims: Mapping[str, TableInput],
    ratings: Mapping[str, Path],
    progress: ScoreProgress | None = None,
    pool: Executor | None = None,
    loaded: Mapping[str, Loaded] | None = None,
) -> tuple[dict[str, SimScore], SimScore | None, str]:
    """Every simulator and the ceiling by definitions tau-usi, through the same entry.

    ``human``: the people's tau-usi table; ``ratings``: simulator name → its Eval ratings
    file. The defaults (bootstrap, seed, difficulty map) are ``usi score``'s, so each number
    is the one ``usi score --definitions tau-usi --json`` prints for the same files; the
    ceiling carries its interval, as ``usi score --ceiling`` does. Warnings of the input rules
    were given by :func:`score_all` (same files, same rules).
    """
    from usi.metrics.score import score
    from usi.metrics.tau_usi.models import TauUsiResult
    from usi.metrics.tau_usi.ratings import load_ratings

    if loaded is None:
        tables = _load_all(sims, pool, "tau-usi")
    else:  # read once with the usi-v2 tables (load_all's ``also``); pooled files again
        again = {name: sims[name] for name in sims if "tau-usi" not in loaded[name].also}
        read = _load_all(again, pool, "tau-usi") if again else {}
        tables = {
            name: read[name] if name in read else loaded[name].also["tau-usi"] for name in sims
        }
    rated = {name: load_ratings(path) for name, path in ratings.items()}
    scored = score(tables, human, definitions="tau-usi", ratings=rated, pool=pool)
    by_name = {r.simulator: r for r in scored.results if isinstance(r, TauUsiResult)}
    scores: dict[str, SimScore] = {}
    for name in sims:
        scores[name] = from_tau_usi(by_name[name], len(tables[name]))
        if progress is not None:
            progress(name)
    ceiling = scored.ceiling
    if not isinstance(ceiling, TauUsiResult) or ceiling.usi.value is None:
        return scores, None, scored.ceiling_reason or "not computable"
    return scores, from_tau_usi(ceiling, len(human)), ""

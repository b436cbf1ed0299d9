"""The User-Sim Index (spec §6, usi-v2): one computation from summaries to the result model.

USI = 100 · mean of the components that can be computed among D1–D4, outcome and
evaluative alignment. A missing component is left out with its reason rather than counted
as 0 or 1. The flow is one-way: the two tables are summarised once
(:func:`usi.metrics.summary.summarize`), the components and every detail are read off those
summaries with unit weights of one (:mod:`usi.metrics.components`), and the bootstrap calls
the same functions with resampled weights. Per-batch scores and the human ceiling's folds
(:mod:`usi.metrics.ceiling`) are further runs of the same :func:`score_pair`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from usi.core.survey import ITEMS_BY_ID, SURVEY_ITEM_IDS
from usi.fingerprint.features import DIMENSIONS, FEATURE_DIMENSION, FEATURES
from usi.inputs.table import task_keys
from usi.metrics.bootstrap import (
    BOOTSTRAP_CONFIDENCE,
    INTERVAL_METHOD,
    N_BOOTSTRAP,
    bootstrap_usi,
    centred_interval,
)
from usi.metrics.components import (
    UNSUPPORTED_REASON,
    BoolArray,
    ComponentArrays,
    component_arrays,
    paired_success,
    per_task_ece,
    per_task_mae,
    point_support,
    usi_of,
)
from usi.metrics.divergences import DivergenceRow, build_divergences
from usi.metrics.models import (
    COMPONENT_NAMES,
    MIN_PAIRED_TASKS,
    Components,
    DimensionGap,
    Divergence,
    DivergenceUnit,
    DomainOutcome,
    EpisodeCounts,
    EvaluationDetail,
    FeatureComparison,
    OutcomeDetail,
    ScoreResult,
    Uncertainty,
    UnsupportedFeature,
    UsiValue,
)
from usi.metrics.significance import feature_significance
from usi.metrics.summary import IS_RATE, UNALIGNED_PREFIX, PairedSums, summarize

MIN_BATCHES_FOR_PER_BATCH = 2
"""With at least this many human batches a score also reports its per-batch scores."""

FEATURE_PHRASES: dict[str, tuple[str, DivergenceUnit]] = {
    "words_per_turn": ("words per turn", "number"),
    "short_utterance_rate": ("short (≤ 3 words)", "% of turns"),
    "politeness_rate": ("polite", "% of turns"),
    "formality_rate": ("formal", "% of turns"),
    "acknowledgment_rate": ("only acknowledges", "% of turns"),
    "verbosity_cv": ("turn-length variation (CV)", "number"),
    "repetition_rate": ("repeats itself", "% of turns"),
    "identity_confusion_rate": ("talks like the agent", "% of turns"),
    "front_loading_ratio": ("puts in its first two turns", "% of words"),
    "identifiers_per_turn": ("identifiers per turn", "number"),
    "opening_length": ("words in the opening turn", "number"),
    "uncertainty_rate": ("hedges", "% of turns"),
    "certainty_rate": ("sounds certain", "% of turns"),
    "pushback_rate": ("pushes back", "% of turns"),
    "clarification_question_rate": ("asks what the agent means", "% of turns"),
    "info_seeking_rate": ("asks for information", "% of turns"),
    "emotional_expression_rate": ("shows frustration", "% of turns"),
    "accusatory_rate": ("blames the agent", "% of turns"),
    "strategy_pivot_rate": ("changes course", "% of turns"),
}
"""usi-v2's 19 features in words, for the divergences ("polite in 49% of turns vs 15%")."""

MIN_BOOTSTRAP_REPLICATES = 2
"""Fewer defined replicates than this (``--bootstrap 1``) give no interval, not a NaN one."""


def _number(value: object) -> float | None:
    """A JSON-safe float: NaN and infinities become None."""
    if value is None:
        return None
    number = float(value)  # type: ignore[arg-type]
    return number if math.isfinite(number) else None


def human_batches(human: pd.DataFrame) -> list[int]:
    """The distinct batch numbers of the human table, sorted."""
    return sorted(int(b) for b in human["batch"].dropna().unique())


def n_tasks_paired(paired: PairedSums) -> int:
    """Tasks with at least one episode on each side."""
    both = (paired.simulator.n_episodes > 0) & (paired.human.n_episodes > 0)
    return int(both.sum())


def _why_unpaired(n_simulator: float, n_human: float, empty_side: str, unpaired: str) -> str:
    """The reason a task-paired component is missing: a side has nothing, or nothing pairs."""
    if n_simulator == 0 or n_human == 0:
        return empty_side.format(side="simulator" if n_simulator == 0 else "human")
    return unpaired


def _missing(paired: PairedSums, arrays: ComponentArrays) -> dict[str, str]:
    """Why each component that is NaN could not be computed."""
    values = arrays.values()
    out: dict[str, str] = {}
    dice = arrays.profiles.dice[0]
    for dimension, features in DIMENSIONS.items():
        if not np.isnan(values[dimension][0]):
            continue
        columns = [FEATURES.index(f) for f in features]
        defined = ~np.isnan(dice[columns])
        out[dimension] = (
            UNSUPPORTED_REASON
            if defined.any()
            else "no feature of this dimension is defined on both sides"
        )
    sim, hum = paired.simulator, paired.human
    if np.isnan(values["outcome"][0]):
        out["outcome"] = _why_unpaired(
            sim.rewarded.sum(),
            hum.rewarded.sum(),
            "no {side} episode has a reward and a task id",
            "no task has rewarded episodes on both sides",
        )
    if np.isnan(values["evaluation"][0]):
        out["evaluation"] = _why_unpaired(
            sim.survey_count.sum(),
            hum.survey_count.sum(),
            "no {side} survey answers",
            "no task has survey answers on both sides",
        )
    return out


def _features(
    arrays: ComponentArrays, simulator: pd.DataFrame, human: pd.DataFrame
) -> tuple[dict[str, FeatureComparison], list[UnsupportedFeature]]:
    p = arrays.profiles
    tests = feature_significance(simulator, human)
    features: dict[str, FeatureComparison] = {}
    unsupported: list[UnsupportedFeature] = []
    for j, f in enumerate(FEATURES):
        rate = bool(IS_RATE[j])
        sim_cues = round(float(p.simulator_cue_turns[0, j])) if rate else None
        hum_cues = round(float(p.human_cue_turns[0, j])) if rate else None
        supported = bool(p.supported[0, j])
        features[f] = FeatureComparison(
            dimension=FEATURE_DIMENSION[f],
            kind="rate" if rate else "mean",
            human=_number(p.human[0, j]),
            simulator=_number(p.simulator[0, j]),
            dice=_number(p.dice[0, j]),
            supported=supported,
            human_cue_turns=hum_cues,
            simulator_cue_turns=sim_cues,
            p=_number(tests.at[f, "p"]),
            p_adj=_number(tests.at[f, "p_adj"]),
            effect=_number(tests.at[f, "effect"]),
            large_gap=bool(tests.at[f, "large_gap"]),
        )
        if rate and not supported:
            unsupported.append(
                UnsupportedFeature(
                    feature=f,
                    dimension=FEATURE_DIMENSION[f],
                    human_cue_turns=hum_cues or 0,
                    simulator_cue_turns=sim_cues or 0,
                )
            )
    return features, unsupported


def _outcome_detail(
    paired: PairedSums, arrays: ComponentArrays, noise_floor: float | None
) -> OutcomeDetail:
    outcome = arrays.outcome
    s, h = _number(outcome.simulator[0]), _number(outcome.human[0])
    by_domain: dict[str, DomainOutcome] = {}
    domains = np.array([d or "" for d in paired.domains], dtype=object)
    for domain in sorted({d for d in paired.domains if d is not None}):
        part = paired_success(paired, paired.ones(), mask=domains == domain)
        ds, dh = _number(part.simulator[0]), _number(part.human[0])
        if ds is None or dh is None:
            continue
        by_domain[domain] = DomainOutcome(
            simulator=ds,
            human=dh,
            delta=ds - dh,
            alignment=1.0 - abs(ds - dh),
            n_tasks=int(part.n_tasks[0]),
        )
    return OutcomeDetail(
        ece=None if s is None or h is None else abs(s - h),
        n_tasks=int(outcome.n_tasks[0]),
        simulator_success=s,
        human_success=h,
        delta=None if s is None or h is None else s - h,
        by_domain=by_domain,
        per_task_ece=per_task_ece(paired),
        per_task_ece_noise_floor=noise_floor,
    )


def _evaluation_detail(
    paired: PairedSums, arrays: ComponentArrays, noise_floor: float | None
) -> EvaluationDetail | None:
    evaluation = arrays.evaluation
    dimensions: dict[str, DimensionGap] = {}
    for j, d in enumerate(SURVEY_ITEM_IDS):
        s, h = _number(evaluation.simulator[0, j]), _number(evaluation.human[0, j])
        if s is None or h is None:
            continue
        dimensions[d] = DimensionGap(
            human=h,
            simulator=s,
            delta=s - h,
            relative_overestimation=None if h == 0.0 else (s - h) / h,
            n_tasks=int(evaluation.n_tasks[0, j]),
        )
    if not dimensions:
        return None
    cells = ~np.isnan(paired.simulator.task_survey) & ~np.isnan(paired.human.task_survey)
    return EvaluationDetail(
        mae=float(np.mean([abs(g.delta) for g in dimensions.values()])),
        n_pairs=int(cells.sum()),
        n_tasks=int(cells.any(axis=1).sum()),
        dimensions=dimensions,
        per_task_mae=per_task_mae(paired),
        per_task_mae_noise_floor=noise_floor,
    )


def divergences(
    features: dict[str, FeatureComparison],
    outcome: OutcomeDetail,
    evaluation: EvaluationDetail | None,
) -> list[Divergence]:
    """usi-v2's divergences: every feature, the success rate and each survey dimension.

    Read off the reported values (a feature's two sides, ŝ and ĥ, S̄_sim and S̄_hum), so each
    sentence shows numbers the same output holds. Unsupported features are included: a
    simulator overdoing a cue people rarely show is not scored, but it is named here.
    """
    rows: list[DivergenceRow] = []
    for name, c in features.items():
        if c.simulator is not None and c.human is not None:
            phrase, unit = FEATURE_PHRASES.get(name, (name.replace("_", " "), "number"))
            rows.append(DivergenceRow(name, phrase, c.simulator, c.human, unit))
    if outcome.simulator_success is not None and outcome.human_success is not None:
        rows.append(
            DivergenceRow(
                "task_success",
                "succeeds",
                outcome.simulator_success,
                outcome.human_success,
                "% of tasks",
                "outcome",
            )
        )
    if evaluation is not None:
        for item, gap in evaluation.dimensions.items():
            phrase = f"rates {ITEMS_BY_ID[item].dimension.lower()}"
            rows.append(
                DivergenceRow(item, phrase, gap.simulator, gap.human, "score", "evaluation")
            )
    return build_divergences(rows)


def noise_floors(
    human: pd.DataFrame, halves: tuple[pd.DataFrame, pd.DataFrame] | None = None
) -> tuple[float | None, float | None]:
    """The v1 per-task ECE and MAE between two halves of the humans (their noise floor).

    ``halves``: :func:`split_half` of ``human``, when the caller has it already (the
    scoring entry splits the people once per call).
    """
    first, second = split_half(human) if halves is None else halves
    if len(first) == 0 or len(second) == 0:
        return None, None
    paired = summarize(second, first)
    return per_task_ece(paired), per_task_mae(paired)


def _interval(
    paired: PairedSums,
    used: list[str],
    value: float | None,
    n_bootstrap: int,
    seed: int,
    support: BoolArray,
) -> tuple[float | None, float | None, float | None, float | None]:
    """(low, high, replicate std, replicate mean − estimate) of the task bootstrap.

    Nones when it cannot be made. The replicates use the point estimate's feature set.
    """
    if value is None or n_bootstrap < 1:
        return None, None, None, None
    replicates = bootstrap_usi(paired, used, n_bootstrap, seed, support)
    kept = replicates[~np.isnan(replicates)]
    if kept.size < MIN_BOOTSTRAP_REPLICATES:
        return None, None, None, None
    low, high = centred_interval(kept, value)
    return low, high, float(np.std(kept, ddof=1)), float(np.mean(kept)) - value


def per_batch_scores(
    simulator: pd.DataFrame, human: pd.DataFrame, used: list[str], support: BoolArray
) -> tuple[dict[str, float | None], str | None]:
    """The simulator against each human batch alone, on the pooled score's definition.

    Every batch is scored on the same feature set (``support``, from all the people) and the
    same components (``used``): a batch that cannot compute one of them has no score (None,
    and the returned note says which) rather than a mean over fewer components, so the
    per-batch scores, and their std, compare like with like.
    """
    scores: dict[str, float | None] = {}
    lacking: list[str] = []
    for b in human_batches(human):
        part = summarize(simulator, human[human["batch"] == b])
        values = component_arrays(part, part.ones(), support).values()
        absent = [c for c in used if np.isnan(values[c][0])]
        if absent:
            scores[str(b)] = None
            lacking.append(f"batch {b} ({', '.join(absent)})")
        else:
            scores[str(b)] = _number(usi_of(values, used)[0])
    note = (
        "no per-batch score where a component of the headline cannot be computed against "
        "that batch alone: " + "; ".join(lacking)
        if lacking
        else None
    )
    return scores, note


def _few_tasks_note(n_paired: int) -> str | None:
    if n_paired >= MIN_PAIRED_TASKS:
        return None
    return (
        f"only {n_paired} tasks are paired (fewer than {MIN_PAIRED_TASKS}): "
        "the task-bootstrap interval is wide"
    )


def score_pair(
    simulator: pd.DataFrame,
    human: pd.DataFrame,
    name: str,
    *,
    n_bootstrap: int = N_BOOTSTRAP,
    seed: int = 0,
    per_batch: bool = True,
    floors: tuple[float | None, float | None] | None = None,
) -> ScoreResult:
    """``simulator`` against ``human`` pooled: point estimate, interval, every detail.

    ``per_batch`` adds the simulator's score against each human batch alone (robustness
    detail). ``floors`` are the humans' v1 noise floors (:func:`noise_floors`), computed
    here unless given. Fidelity and the judge are added by the scoring entry
    (:mod:`usi.metrics.score`).
    """
    paired = summarize(simulator, human)
    support = point_support(paired)
    arrays = component_arrays(paired, paired.ones(), support)
    values = {c: _number(v[0]) for c, v in arrays.values().items()}
    used = [c for c in COMPONENT_NAMES if values[c] is not None]
    value = _number(usi_of(arrays.values())[0])
    low, high, std, bias = _interval(paired, used, value, n_bootstrap, seed, support)
    batches = human_batches(human)
    scores: dict[str, float | None] = {}
    batch_note: str | None = None
    if per_batch and len(batches) >= MIN_BATCHES_FOR_PER_BATCH:
        scores, batch_note = per_batch_scores(simulator, human, used, support)
    defined = [v for v in scores.values() if v is not None]
    n_paired = n_tasks_paired(paired)
    uncertainty = Uncertainty(
        method="bootstrap" if low is not None else "none",
        std=std,
        n_batches=len(batches),
        n_bootstrap=n_bootstrap if low is not None else None,
        confidence=BOOTSTRAP_CONFIDENCE if low is not None else None,
        n_tasks_resampled=paired.n_units if low is not None else None,
        interval=INTERVAL_METHOD if low is not None else None,
        replicate_bias=bias if low is not None else None,
        per_batch=scores,
        batch_std=float(np.std(defined, ddof=1)) if len(defined) > 1 else None,
        per_batch_note=batch_note,
        note=_few_tasks_note(n_paired) if low is not None else None,
    )
    ece_floor, mae_floor = floors if floors is not None else noise_floors(human)
    features, unsupported = _features(arrays, simulator, human)
    outcome_detail = _outcome_detail(paired, arrays, ece_floor)
    evaluation_detail = _evaluation_detail(paired, arrays, mae_floor)
    return ScoreResult(
        simulator=name,
        usi=UsiValue(value=value, ci_low=low, ci_high=high, components_used=used),
        components=Components(**values, missing=_missing(paired, arrays)),
        features=features,
        unsupported=unsupported,
        n_episodes=EpisodeCounts(human=len(human), simulator=len(simulator)),
        n_tasks_paired=n_paired,
        uncertainty=uncertainty,
        outcome_detail=outcome_detail,
        evaluation_detail=evaluation_detail,
        fidelity=None,
        judge=None,
        divergences=divergences(features, outcome_detail, evaluation_detail),
    )


def split_half(human: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two halves of the sessions, deterministically (spec §6).

    A task with several sessions alternates them (ordered by episode id) between the
    halves, so both halves cover it and it can be paired; tasks with a single session (and
    unaligned sessions) alternate over tasks instead, so a batch with one session per task
    still splits in two — with nothing paired for outcome and evaluation, which then say so.
    """
    keys = task_keys(human)
    own = UNALIGNED_PREFIX + human["episode_id"].astype(str)
    order = human.assign(_key=keys.where(keys.notna(), own)).sort_values(
        ["_key", "episode_id"], kind="stable"
    )
    rank = order.groupby("_key").cumcount().to_numpy()
    size = order.groupby("_key")["_key"].transform("size").to_numpy()
    single = size == 1
    half = rank % 2
    half[single] = np.arange(int(single.sum())) % 2
    first = order[half == 0].drop(columns="_key").reset_index(drop=True)
    second = order[half == 1].drop(columns="_key").reset_index(drop=True)
    return first, second

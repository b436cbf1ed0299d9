"""The human ceiling: how well one group of people matches another, for both definition sets.

usi-v2 (spec §6): :func:`human_ceiling` scores the people against themselves with the same
:func:`usi.metrics.index.score_pair` a simulator goes through (leave-one-batch-out, batch
against batch, or split-half). tau-usi (spec §10.7): :func:`tau_usi_ceiling` is the paper's
inter-annotator row, every pair of batches, from :func:`usi.metrics.tau_usi.compute.ceiling_cells`.
Both depend on the people alone: the scoring entry (:mod:`usi.metrics.score`) computes the
ceiling once per call, whatever the number of simulators.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from usi.errors import UsiInputError
from usi.inputs.table import task_keys
from usi.metrics.bootstrap import N_BOOTSTRAP
from usi.metrics.components import usi_of
from usi.metrics.index import _number, human_batches, noise_floors, score_pair, split_half
from usi.metrics.models import (
    COMPONENT_NAMES,
    CeilingResult,
    Components,
    ScoreResult,
    Uncertainty,
    UsiValue,
)
from usi.metrics.tau_usi.compute import DIMENSION_NAMES, Tables, ceiling_cells, ceiling_usi
from usi.metrics.tau_usi.evaluation import Ratings, session_agreements
from usi.metrics.tau_usi.models import PaperRow, TaskCounts, TauUsiResult
from usi.metrics.tau_usi.models import Uncertainty as TauUncertainty
from usi.metrics.tau_usi.score import (
    CEILING_NAME,
    DEFAULT_SEED,
    _batch_cell,
    _bootstrap_weights,
    _cell,
    _column,
    _components,
    _human_survey,
    _interval,
    _size_note,
    _tables,
    _usi_value,
    load_difficulty,
    signature,
)
from usi.metrics.tau_usi.score import (
    N_BOOTSTRAP as TAU_N_BOOTSTRAP,
)
from usi.metrics.tau_usi.sides import HumanSide, human_side

MIN_BATCHES_FOR_LEAVE_ONE_OUT = 3
"""With two batches the two leave-one-out folds are mirror images (every v2 component is
symmetric in its two sides once the feature set is fixed; only the support rule, which reads
the reference side, tells them apart), so their spread would measure the support rule, not
agreement between people."""


def _fold_means(folds: list[ScoreResult]) -> Components:
    """Each component averaged over the folds that define it (the features stay per fold).

    A fold's D_k follows from that fold's features; a mean of fold Dice values beside
    fold-mean sides would not follow from the sides shown (``accusatory_rate`` 0.00130 vs
    0.00128 shown with Dice 0.0), so the ceiling shows no pooled feature block.
    """
    values: dict[str, float | None] = {}
    missing: dict[str, str] = {}
    for c in COMPONENT_NAMES:
        present = [v for f in folds if (v := getattr(f.components, c)) is not None]
        values[c] = float(np.mean(present)) if present else None
        if not present:
            missing[c] = folds[0].components.missing.get(c, "not computable")
    return Components(**values, missing=missing)


def tasks_in_several_batches(human: pd.DataFrame) -> int:
    """Tasks with sessions in at least two batches: those some leave-one-out fold pairs."""
    keys = task_keys(human)
    batches = human.loc[keys.notna(), "batch"]
    return int((batches.groupby(keys[keys.notna()]).nunique() >= 2).sum())


def _empty_ceiling(human: pd.DataFrame, n_batches: int, reason: str) -> CeilingResult:
    missing = dict.fromkeys(COMPONENT_NAMES, reason)
    return CeilingResult(
        value=None,
        std=None,
        method="split-half",
        n_batches=n_batches,
        per_fold=[],
        usi=UsiValue(value=None, ci_low=None, ci_high=None, components_used=[]),
        components=Components(**dict.fromkeys(COMPONENT_NAMES), missing=missing),
        features={},
        uncertainty=Uncertainty(method="none", std=None, n_batches=n_batches),
        n_episodes=len(human),
        reason=reason,
    )


def human_ceiling(
    human: pd.DataFrame,
    *,
    n_bootstrap: int = N_BOOTSTRAP,
    seed: int = 0,
    floors: tuple[float | None, float | None] | None = None,
    halves: tuple[pd.DataFrame, pd.DataFrame] | None = None,
) -> CeilingResult:
    """The human ceiling: how well one group of people matches another (spec §6; paper 92.9).

    Not an upper bound: a simulator can exceed it (an exact copy of the people scores 100),
    since two groups of people differ by sampling. Each fold is scored exactly as a simulator
    would be against that fold's reference people (their cue turns decide the features; all
    the people's would keep D4 in more small samples but drift the ceiling from 79.6 at 16
    sessions per batch to 85.1 on all 89, against 84.7 → 84.3 this way). ≥ 3 batches:
    leave-one-batch-out, the mean over folds and their spread (``fold_std``, only when every
    fold uses the same components; no bootstrap, so no interval). 2 batches: one batch
    against the other (the two leave-one-out folds would be mirror images), with a task
    bootstrap. 1 batch: :func:`split_half`, one half against the other, with a task bootstrap.
    ``floors`` (the humans' v1 noise floors, :func:`~usi.metrics.index.noise_floors`) and
    ``halves`` (:func:`~usi.metrics.index.split_half` of ``human``) are computed here unless
    given: the scoring entry (:mod:`usi.metrics.score`) computes them once per call.
    """
    batches = human_batches(human)
    if halves is None and len(batches) < 2:
        halves = split_half(human)
    if floors is None:
        floors = noise_floors(human, halves)
    if len(batches) >= MIN_BATCHES_FOR_LEAVE_ONE_OUT:
        folds = [
            score_pair(
                human[human["batch"] == b].reset_index(drop=True),
                human[human["batch"] != b].reset_index(drop=True),
                f"batch {b} vs the others",
                n_bootstrap=0,
                per_batch=False,
                floors=floors,
            )
            for b in batches
        ]
        components = _fold_means(folds)
        values = {c: getattr(components, c) for c in COMPONENT_NAMES}
        value = _number(usi_of(values)[0])
        per_fold = [f.usi.value for f in folds]
        defined = [v for v in per_fold if v is not None]
        one_set = len({tuple(f.usi.components_used) for f in folds}) == 1
        spread = float(np.std(defined, ddof=1)) if len(defined) > 1 and one_set else None
        return CeilingResult(
            value=value,
            std=None,
            fold_std=spread,
            method="leave-one-batch-out",
            n_batches=len(batches),
            per_fold=per_fold,
            usi=UsiValue(
                value=value,
                ci_low=None,
                ci_high=None,
                components_used=[c for c in COMPONENT_NAMES if values[c] is not None],
            ),
            components=components,
            features={},
            unsupported=[],
            uncertainty=Uncertainty(
                method="folds", std=None, fold_std=spread, n_batches=len(batches)
            ),
            folds=folds,
            n_episodes=len(human),
            n_tasks_paired=tasks_in_several_batches(human),
            per_fold_tasks_paired=[f.n_tasks_paired for f in folds],
            reason=None if value is not None else "no component is computable between the folds",
        )
    if len(batches) == 2:
        held_out = human["batch"] == batches[0]
        one = human[held_out].reset_index(drop=True)
        other = human[~held_out].reset_index(drop=True)
        method: str = "batch-vs-batch"
        name = f"batch {batches[0]} vs batch {batches[1]}"
    else:
        one, other = split_half(human) if halves is None else halves
        if len(one) == 0 or len(other) == 0:
            return _empty_ceiling(
                human,
                len(batches),
                f"{len(human)} human episode{'s' if len(human) != 1 else ''}: "
                "nothing to split in two halves",
            )
        method, name = "split-half", "half 2 vs half 1"
        one, other = other, one
    fold = score_pair(
        one, other, name, n_bootstrap=n_bootstrap, seed=seed, per_batch=False, floors=floors
    )
    return CeilingResult(
        value=fold.usi.value,
        std=fold.uncertainty.std,
        method="batch-vs-batch" if method == "batch-vs-batch" else "split-half",
        n_batches=len(batches),
        per_fold=[fold.usi.value],
        usi=fold.usi,
        components=fold.components,
        features=fold.features,
        unsupported=fold.unsupported,
        uncertainty=fold.uncertainty.model_copy(update={"n_batches": len(batches)}),
        folds=[fold],
        n_episodes=len(human),
        n_tasks_paired=fold.n_tasks_paired,
        per_fold_tasks_paired=[fold.n_tasks_paired],
        reason=None
        if fold.usi.value is not None
        else "no component is computable between the two halves",
    )


def tau_usi_ceiling(
    human: pd.DataFrame,
    *,
    ratings: Ratings | None = None,
    difficulty: tuple[dict[str, float], str] | None = None,
    n_bootstrap: int = TAU_N_BOOTSTRAP,
    seed: int = DEFAULT_SEED,
) -> TauUsiResult:
    """People against people (§10.7): every pair of batches; Eval from a second rater.

    ``ratings``: a second person's ratings of the first batch's conversations (the paper's
    97.4 came from such a set); its mean and std are over sessions, as in the reference.
    """
    diff, diff_label = difficulty or load_difficulty()
    both, tables, tasks = _tables(human, None, None)
    hum = human_side(both)
    if len(hum.batches) < 2:
        raise UsiInputError(
            f"the tau-usi ceiling needs at least 2 human batches, this file has "
            f"{len(hum.batches)}: use --definitions usi-v2 (split-half ceiling)",
            None,
            "--ceiling",
        )
    evaluation = None
    if ratings:
        first = HumanSide(hum.batches[:1], hum.rows[:1], hum.rewards[:1], hum.ids[:1])
        per = session_agreements(first, _human_survey(both), ratings)
        evaluation = _cell([a for _, a in per[0]])
    cells = ceiling_cells(tables, hum, diff)
    eval_mean = None if evaluation is None else evaluation[0]
    usis = ceiling_usi(cells, eval_mean)[0]
    dims = {d: _column(cells.dims[0, :, i]) for i, d in enumerate(DIMENSION_NAMES)}
    row = PaperRow(
        **{d: _cell(v) for d, v in dims.items()},
        eval_agree=evaluation,
        ece=_cell(_column(cells.ece[0])),
        usi=_cell(usis),
    )
    low = high = None
    if n_bootstrap > 0 and tasks:
        w = _bootstrap_weights(len(tasks), n_bootstrap, seed)
        boot = ceiling_cells(Tables(tables.features, tables.task_of, w), hum, diff)
        reps = np.array([np.mean(v) if v else np.nan for v in ceiling_usi(boot, eval_mean)])
        low, high = _interval(reps, row.usi[0] if row.usi else None)
    pairs = [(i, j) for i in range(len(hum.batches)) for j in range(i + 1, len(hum.batches))]
    per_pair = []
    for p, (i, j) in enumerate(pairs):
        shared = len(set(hum.rows[i]) & set(hum.rows[j]))
        usi_p = usis[p] if p < len(usis) else float("nan")
        per_pair.append(
            _batch_cell(
                f"{hum.batches[i]}-{hum.batches[j]}",
                cells.dims[0, p],
                cells.ece[0, p],
                usi_p,
                shared,
            )
        )
    size_note = _size_note(hum)
    notes = [
        "the ceiling is how well one batch of people matches another on the tasks they share; "
        "a simulator can exceed it"
    ]
    if evaluation is None:
        notes.append("no second human rating (--ratings): Eval is out, 5 terms")
    if size_note:
        notes.append(size_note)
    return TauUsiResult(
        simulator=CEILING_NAME,
        usi=_usi_value(row, low, high, evaluation is not None),
        components=_components(row),
        paper_row=row,
        per_batch=per_pair,
        tasks=TaskCounts(counted={p.batch: p.n_tasks for p in per_pair}, left_out=hum.left_out),
        uncertainty=TauUncertainty(n_bootstrap=n_bootstrap, seed=seed),
        signature=signature(diff_label, hum, evaluation is not None),
        notes=notes,
    )


def tau_usi_ceiling_or_reason(
    human: pd.DataFrame,
    *,
    ratings: Ratings | None = None,
    difficulty: tuple[dict[str, float], str] | None = None,
    n_bootstrap: int = TAU_N_BOOTSTRAP,
    seed: int = DEFAULT_SEED,
) -> tuple[TauUsiResult | None, str]:
    """The human ceiling, or None and why not (one human batch has no batch pairs)."""
    try:
        ceiling = tau_usi_ceiling(
            human, ratings=ratings, difficulty=difficulty, n_bootstrap=n_bootstrap, seed=seed
        )
    except UsiInputError as exc:
        return None, exc.message
    return ceiling, ""

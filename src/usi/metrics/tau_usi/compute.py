"""The paper's USI table cells (spec §10.4–§10.7), on task weights so the bootstrap reuses them.

Port of the aggregation of the paper's ``compute_all_with_variance`` (``sunnweiwei/OdysSim``,
``agents/tau_usi/usi_metric.py``, Apache-2.0), written over a (B, T) block of task weights:
one row of ones is the point estimate and equals the reference to 1e-9 on every cell; B
multinomial rows are usi's task bootstrap (§10.9), computed by the very same functions.
Every mean over sessions is a weighted mean with the session's task weight; a set of
sessions whose weights sum to 0 is "empty" exactly where the reference finds no overlap.

Quirks of the reference kept here, each part of the published numbers:

- a simulator's feature row is the mean of its *run* rows, each over the tasks that run
  shares with the batch; the human row is over the union of those tasks;
- Dice is 1.0 when both values are 0 — and also when either is NaN (a row whose sessions all
  lack user turns), since the reference tests ``h + m > 0``;
- a batch with feature rows but no ECE still adds its D1–D4 (they are averaged over more
  batches than the ECE and the USI);
- in the human ceiling, the pair USIs are formed by *position* in the list of pairs that gave
  an ECE, so a pair without ECE shifts the D1–D4 used for the later pairs;
- std is the population std (ddof 0) over batches (or pairs).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from usi.fingerprint.tau_usi.features import DIMENSIONS, PERCENT, SCORED
from usi.metrics.tau_usi.sides import HumanSide, SimulatorSide

FloatArray = npt.NDArray[np.float64]

B_CUTOFFS: tuple[float, ...] = (0.20, 0.40, 0.60, 0.80)
"""Difficulty cut-offs of the ECE's 5 bins; a value below a cut-off falls in the bin below."""
N_BINS = len(B_CUTOFFS) + 1
DIMENSION_NAMES: tuple[str, ...] = tuple(DIMENSIONS)
_SCALE = np.array([100.0 if f in PERCENT else 1.0 for f in SCORED])
_DIM_COLUMNS = [[SCORED.index(f) for f in keys] for keys in DIMENSIONS.values()]


def bin_index(value: float) -> int:
    """The ECE bin of a difficulty value (the reference's ``bin_index``)."""
    for i, cut in enumerate(B_CUTOFFS):
        if value < cut:
            return i
    return N_BINS - 1


@dataclass(frozen=True)
class Tables:
    """What the cells are computed from: features per row, the task of each row, weights."""

    features: FloatArray  # (n_rows, 19) scored features, NaN where the row has none
    task_of: Mapping[str, int]  # task key → column of the weight block
    weights: FloatArray  # (B, T)


def _task_weights(tables: Tables, keys: Sequence[str]) -> FloatArray:
    """(B, len(keys)) weights of the tasks of ``keys`` (instance keys map by task)."""
    from usi.metrics.tau_usi.sides import task_key

    columns = [tables.task_of[task_key(k)] for k in keys]
    return tables.weights[:, columns]


def weighted_row(tables: Tables, rows: Sequence[int], keys: Sequence[str]) -> FloatArray:
    """(B, 19) the paper's summary row over the sessions ``rows`` (NaN where none counts)."""
    w = _task_weights(tables, keys)
    values = tables.features[list(rows)]
    valid = ~np.isnan(values[:, 0])
    wv = w[:, valid]
    total = wv.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (wv @ values[valid]) / total[:, None]
    return mean * _SCALE


def dice_dimensions(human_row: FloatArray, model_row: FloatArray) -> FloatArray:
    """(B, 4) Dice per dimension × 100, as ``compute_dimension_dice``."""
    h, m = np.abs(human_row), np.abs(model_row)
    total = h + m
    with np.errstate(invalid="ignore", divide="ignore"):
        sims = np.where(total > 0, 2.0 * np.minimum(h, m) / total, 1.0)
    return np.stack([sims[:, cols].mean(axis=1) * 100 for cols in _DIM_COLUMNS], axis=1)


def ece_pair(
    tables: Tables,
    sim: Mapping[str, int],
    hum: Mapping[str, int],
    difficulty: Mapping[str, float],
) -> FloatArray:
    """(B,) the difficulty-binned ECE of two reward maps (NaN: no task in all three)."""
    tasks = [t for t in sim if t in hum and t in difficulty]
    n_rep = tables.weights.shape[0]
    if not tasks:
        return np.full(n_rep, np.nan)
    w = tables.weights[:, [tables.task_of[t] for t in tasks]]
    s = np.array([sim[t] for t in tasks], dtype=np.float64)
    h = np.array([hum[t] for t in tasks], dtype=np.float64)
    bins = np.array([bin_index(difficulty[t]) for t in tasks])
    n = w.sum(axis=1)
    ece = np.zeros(n_rep)
    for b in range(N_BINS):
        inside = bins == b
        if not inside.any():
            continue
        wb = w[:, inside]
        nb = wb.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            gap = np.abs(wb @ s[inside] / nb - wb @ h[inside] / nb)
            ece += np.where(nb > 0, (nb / n) * gap, 0.0)
    return np.where(n > 0, ece, np.nan)


@dataclass
class BatchCells:
    """Per replicate and batch: D1–D4 (B, J, 4), ECE (B, J) and USI (B, J); NaN = no value."""

    dims: FloatArray
    ece: FloatArray
    usi: FloatArray


def simulator_cells(
    tables: Tables,
    sim: SimulatorSide,
    human: HumanSide,
    difficulty: Mapping[str, float],
    eval_mean: FloatArray | None,
) -> BatchCells:
    """The simulator against each human batch (§10.5), every replicate at once."""
    n_rep, n_batch = tables.weights.shape[0], len(human.batches)
    dims = np.full((n_rep, n_batch, 4), np.nan)
    ece = np.full((n_rep, n_batch), np.nan)
    usi = np.full((n_rep, n_batch), np.nan)
    for j, batch in enumerate(human.rows):
        run_rows: list[FloatArray] = []
        used: list[FloatArray] = []
        union: dict[str, int] = {}
        for run in sim.row_runs:
            overlap = sorted(set(run) & set(batch))
            if not overlap:
                continue
            present = _task_weights(tables, overlap).sum(axis=1) > 0
            run_rows.append(weighted_row(tables, [run[k] for k in overlap], overlap))
            used.append(present)
            union.update({k: batch[k] for k in overlap})
        if not run_rows:
            continue
        mask = np.stack(used, axis=1)  # (B, R)
        stacked = np.stack(run_rows, axis=1)  # (B, R, 19)
        with np.errstate(invalid="ignore", divide="ignore"):
            pooled = np.where(mask[:, :, None], stacked, 0.0).sum(axis=1) / mask.sum(
                axis=1, keepdims=True
            )
        keys = sorted(union)
        human_row = weighted_row(tables, [union[k] for k in keys], keys)
        any_run: npt.NDArray[np.bool_] = np.asarray(mask.any(axis=1))
        dims[:, j] = np.where(any_run[:, None], dice_dimensions(human_row, pooled), np.nan)
        run_eces = (
            np.stack(
                [
                    ece_pair(tables, sim.ece_runs[r], human.rewards[j], difficulty)
                    for r in sorted(sim.ece_runs)
                ],
                axis=1,
            )
            if sim.ece_runs
            else np.full((n_rep, 1), np.nan)
        )
        with np.errstate(invalid="ignore"):
            ece_j = np.where(
                np.isnan(run_eces).all(axis=1), np.nan, np.nanmean(_quiet(run_eces), axis=1)
            )
        ece_j = np.where(any_run, ece_j, np.nan)
        ece[:, j] = ece_j
        usi[:, j] = _usi(dims[:, j], ece_j, eval_mean)
    return BatchCells(dims, ece, usi)


def _quiet(values: FloatArray) -> FloatArray:
    """``values`` with all-NaN rows filled, so nanmean stays silent (they are masked after)."""
    out = values.copy()
    out[np.isnan(values).all(axis=1)] = 0.0
    return out


def _usi(dims: FloatArray, ece: FloatArray, eval_mean: FloatArray | None) -> FloatArray:
    terms = dims.sum(axis=1) + (1 - ece) * 100
    if eval_mean is None:
        return terms / 5
    return (terms + eval_mean) / 6


@dataclass
class PairCells:
    """Per replicate and batch pair: D1–D4 (B, P, 4) and ECE (B, P); NaN = no value."""

    dims: FloatArray
    ece: FloatArray


def ceiling_cells(tables: Tables, human: HumanSide, difficulty: Mapping[str, float]) -> PairCells:
    """Every pair of human batches (§10.7): rows on the shared tasks, Dice, ECE."""
    pairs = [(i, j) for i in range(len(human.rows)) for j in range(i + 1, len(human.rows))]
    n_rep = tables.weights.shape[0]
    dims = np.full((n_rep, len(pairs), 4), np.nan)
    ece = np.full((n_rep, len(pairs)), np.nan)
    for p, (i, j) in enumerate(pairs):
        overlap = sorted(set(human.rows[i]) & set(human.rows[j]))
        if not overlap:
            continue
        present = _task_weights(tables, overlap).sum(axis=1) > 0
        row_i = weighted_row(tables, [human.rows[i][k] for k in overlap], overlap)
        row_j = weighted_row(tables, [human.rows[j][k] for k in overlap], overlap)
        dims[:, p] = np.where(present[:, None], dice_dimensions(row_i, row_j), np.nan)
        pair_ece = ece_pair(tables, human.rewards[i], human.rewards[j], difficulty)
        ece[:, p] = np.where(present, pair_ece, np.nan)
    return PairCells(dims, ece)


def ceiling_usi(cells: PairCells, eval_mean: float | None) -> list[list[float]]:
    """Per replicate, the pair USIs formed by position, as the reference does (module doc)."""
    out: list[list[float]] = []
    for b in range(cells.ece.shape[0]):
        dims = [d for d in cells.dims[b] if not np.isnan(d).any()]
        eces = [e for e in cells.ece[b] if not np.isnan(e)]
        values = []
        for idx, e in enumerate(eces):
            if idx >= len(dims):
                break
            total = float(sum(dims[idx])) + (1 - e) * 100
            values.append((total + eval_mean) / 6 if eval_mean is not None else total / 5)
        out.append(values)
    return out

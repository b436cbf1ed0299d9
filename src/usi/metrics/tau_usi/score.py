"""``tau-usi`` scores: a simulator against the human batches (§10).

Tables in (``load_table(..., definitions="tau-usi")``), :class:`TauUsiResult` out. The cells
are the paper's (:mod:`.compute`, point estimate = the reference to 1e-9); the interval, the
published placement, the notes and the signature are usi's additions, labelled as such. The
human ceiling is :func:`usi.metrics.ceiling.tau_usi_ceiling` (built from this module's row
helpers); commands reach both through the one scoring entry, :mod:`usi.metrics.score`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from usi.errors import UsiInputError
from usi.fingerprint.tau_usi.features import SCORED
from usi.inputs.frame import SURVEY_COLUMNS
from usi.metrics.bootstrap import centred_interval
from usi.metrics.tau_usi.compute import (
    DIMENSION_NAMES,
    FloatArray,
    Tables,
    simulator_cells,
)
from usi.metrics.tau_usi.divergences import tau_usi_divergences
from usi.metrics.tau_usi.evaluation import Ratings, session_agreements
from usi.metrics.tau_usi.models import (
    BatchCell,
    PaperRow,
    PublishedPlacement,
    TaskCounts,
    TauUsiComponents,
    TauUsiResult,
    TauUsiValue,
    Uncertainty,
)
from usi.metrics.tau_usi.sides import HumanSide, human_side, simulator_side, task_key
from usi.version import __version__

N_BOOTSTRAP = 1000
DEFAULT_SEED = 0
PAPER_TASKS = 165
PAPER_BATCHES = 3
PAPER_PROTOCOL = "tau-usi"
PAPER_AGENT = "gpt-5.2"
CEILING_NAME = "Human (inter-ann.)"


@cache
def _packaged(name: str) -> str:
    return resources.files("usi.metrics.tau_usi").joinpath(name).read_text(encoding="utf-8")


def load_difficulty(path: str | Path | None = None) -> tuple[dict[str, float], str]:
    """The difficulty map (task key → pooled success) and its name with a short hash.

    Accepts the structured ``{"difficulty": {...}}`` payload or a flat map, as the reference.
    """
    text = _packaged("difficulty.json") if path is None else Path(path).read_text("utf-8")
    label = "frozen-31" if path is None else Path(path).name
    try:
        data = json.loads(text)
        raw = data["difficulty"] if isinstance(data, dict) and "difficulty" in data else data
        difficulty = {str(k): float(v) for k, v in raw.items()}
    except (ValueError, TypeError, AttributeError) as exc:
        raise UsiInputError(f"not a difficulty map ({exc})", path, "--difficulty") from None
    digest = hashlib.sha256(json.dumps(sorted(difficulty.items())).encode("utf-8")).hexdigest()[:8]
    return difficulty, f"{label}:{digest}"


def published_rows() -> dict[str, Any]:
    """The paper's published rows shipped with usi (see ``published.json``'s provenance)."""
    rows: dict[str, Any] = json.loads(_packaged("published.json"))
    return rows


def _tables(
    human: pd.DataFrame, simulator: pd.DataFrame | None, weights: FloatArray | None
) -> tuple[pd.DataFrame, Tables, list[str]]:
    both = human if simulator is None else pd.concat([human, simulator], ignore_index=True)
    tasks = sorted(
        {task_key(k) for k in both["tau_key"].dropna()}
        | {task_key(k) for k in both["instance_id"].dropna()}
    )
    task_of = {t: i for i, t in enumerate(tasks)}
    w = np.ones((1, len(tasks))) if weights is None else weights
    return both, Tables(both[list(SCORED)].to_numpy(np.float64), task_of, w), tasks


def _cell(values: Sequence[float]) -> tuple[float, float] | None:
    return (float(np.mean(values)), float(np.std(values))) if len(values) else None


def _column(matrix: FloatArray) -> list[float]:
    return [float(v) for v in matrix if not np.isnan(v)]


def _human_survey(both: pd.DataFrame) -> dict[int, list[float]]:
    positions = both[list(SURVEY_COLUMNS)].to_numpy(np.float64)
    return {row: list(positions[row]) for row in range(len(both))}


def eval_term(
    both: pd.DataFrame, human: HumanSide, ratings: Ratings | None
) -> tuple[tuple[float, float] | None, list[list[tuple[str, float]]]]:
    """Eval = [mean, std] over batches of the mean session agreement (None: no ratings)."""
    if not ratings:
        return None, []
    per_batch = session_agreements(human, _human_survey(both), ratings)
    means = [float(np.mean([a for _, a in s])) for s in per_batch if s]
    return _cell(means), per_batch


def _bootstrap_weights(n_tasks: int, n_bootstrap: int, seed: int) -> FloatArray:
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_tasks, size=(n_bootstrap, n_tasks))
    return np.stack([np.bincount(d, minlength=n_tasks) for d in draws]).astype(np.float64)


def _weighted_eval(
    per_batch: list[list[tuple[str, float]]], task_of: Mapping[str, int], w: FloatArray
) -> FloatArray | None:
    if not any(per_batch):
        return None
    means = []
    for sessions in per_batch:
        if not sessions:
            continue
        cols = [task_of[task_key(k)] for k, _ in sessions]
        values = np.array([a for _, a in sessions])
        ws = w[:, cols]
        with np.errstate(invalid="ignore", divide="ignore"):
            means.append(ws @ values / ws.sum(axis=1))
    return np.nanmean(np.stack(means, axis=1), axis=1)


def signature(
    difficulty_label: str,
    human: HumanSide,
    with_eval: bool,
    protocols: Sequence[str] = (),
    agents: Sequence[str] = (),
) -> str:
    """A sacrebleu-style line naming everything that makes two numbers comparable."""
    per_batch = "+".join(str(len(rows)) for rows in human.rows)
    parts = [
        "defs:tau-usi",
        f"map:{difficulty_label}",
        f"batches:{len(human.batches)}",
        f"tasks:{per_batch}",
        f"eval:{'yes' if with_eval else 'no'}",
    ]
    if protocols:
        parts.append(f"protocol:{','.join(protocols)}")
    if agents:
        parts.append(f"agent:{','.join(agents)}")
    parts.append(f"usi:{__version__}")
    return "|".join(parts)


def _size_note(human: HumanSide) -> str | None:
    n_tasks = len(set().union(*human.rows)) if human.rows else 0
    if n_tasks >= PAPER_TASKS and len(human.batches) >= PAPER_BATCHES:
        return None
    return (
        f"the published numbers were measured on {PAPER_TASKS} tasks × {PAPER_BATCHES} batches; "
        f"this human reference has {n_tasks} tasks in {len(human.batches)} batch(es), so they are "
        "not comparable with it: the same definitions give a smaller ceiling on fewer, "
        "less-shared sessions (74.3, not 92.9, on 144 real sessions)"
    )


def _provenance(simulator: pd.DataFrame | None) -> dict[str, list[str]]:
    if simulator is None or "protocol" not in simulator.columns:
        return {}
    out: dict[str, list[str]] = {}
    for column in ("protocol", "agent_model"):
        values = sorted({str(v) for v in simulator[column].dropna()})
        if values:
            out[column] = values
    return out


def _placement(usi: float | None, comparable: bool, note: str | None) -> PublishedPlacement | None:
    if usi is None:
        return None
    rows = sorted(
        ((r["name"], r["usi"][0]) for r in published_rows()["simulators"]),
        key=lambda r: -r[1],
    )
    rank = 1 + sum(1 for _, v in rows if v > usi)
    above = rows[rank - 2][0] if rank >= 2 else None
    below = rows[rank - 1][0] if rank - 1 < len(rows) else None
    return PublishedPlacement(
        above=above, below=below, rank=rank, of=len(rows) + 1, comparable=comparable, note=note
    )


def _interval(replicates: FloatArray, estimate: float | None) -> tuple[float | None, float | None]:
    """usi's 95% interval: the replicates' percentiles centred on the estimate (usi-v2's too,
    :func:`usi.metrics.bootstrap.centred_interval`): a Dice of resampled means falls short
    of the estimate, so plain percentiles would put the estimate near the top."""
    values = replicates[~np.isnan(replicates)]
    if not len(values) or estimate is None:
        return None, None
    return centred_interval(values, estimate)


def _batch_mean(cells: FloatArray) -> FloatArray:
    """(B, J) → (B,) mean over the batches that gave a value (NaN when none)."""
    present = ~np.isnan(cells)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(present, cells, 0.0).sum(axis=1) / present.sum(axis=1)


def score_simulator(
    simulator: pd.DataFrame,
    human: pd.DataFrame,
    name: str,
    *,
    ratings: Ratings | None = None,
    difficulty: tuple[dict[str, float], str] | None = None,
    n_bootstrap: int = N_BOOTSTRAP,
    seed: int = DEFAULT_SEED,
) -> TauUsiResult:
    """The paper's row of one simulator (one run or several) against the human batches."""
    diff, diff_label = difficulty or load_difficulty()
    both, tables, tasks = _tables(human, simulator, None)
    offset = len(human)
    hum = human_side(both.iloc[:offset])
    sim = simulator_side(simulator.reset_index(drop=True))
    sim.row_runs = [{k: v + offset for k, v in run.items()} for run in sim.row_runs]
    evaluation, per_batch_eval = eval_term(both, hum, ratings)
    eval_mean = None if evaluation is None else np.array([evaluation[0]])
    cells = simulator_cells(tables, sim, hum, diff, eval_mean)
    dims = {d: _column(cells.dims[0, :, i]) for i, d in enumerate(DIMENSION_NAMES)}
    eces, usis = _column(cells.ece[0]), _column(cells.usi[0])
    row = PaperRow(
        **{d: _cell(v) for d, v in dims.items()},
        eval_agree=evaluation,
        ece=_cell(eces),
        usi=_cell(usis),
    )
    low = high = None
    if n_bootstrap > 0 and tasks:
        w = _bootstrap_weights(len(tasks), n_bootstrap, seed)
        boot_tables = Tables(tables.features, tables.task_of, w)
        boot_eval = _weighted_eval(per_batch_eval, tables.task_of, w)
        boot = simulator_cells(boot_tables, sim, hum, diff, boot_eval)
        low, high = _interval(_batch_mean(boot.usi), row.usi[0] if row.usi else None)
    per_batch = []
    for j, batch in enumerate(hum.batches):
        shared = set().union(*(set(run) & set(hum.rows[j]) for run in sim.row_runs))
        per_batch.append(
            _batch_cell(str(batch), cells.dims[0, j], cells.ece[0, j], cells.usi[0, j], len(shared))
        )
    not_in_map = len({task_key(k) for r in sim.row_runs for k in r} - set(diff))
    size_note = _size_note(hum)
    notes = (
        []
        if evaluation is not None
        else [
            "no --ratings: Eval is out and USI has 5 terms (the paper's has 6: the simulator's "
            "model rating the human conversations, `usi judge --model M HUMAN`)"
        ]
    )
    if size_note:
        notes.append(size_note)
    provenance = _provenance(simulator)
    notes.extend(_protocol_notes(provenance))
    usi_cell = row.usi
    return TauUsiResult(
        simulator=name,
        usi=_usi_value(row, low, high, evaluation is not None),
        components=_components(row),
        paper_row=row,
        per_batch=per_batch,
        tasks=TaskCounts(
            counted={p.batch: p.n_tasks for p in per_batch},
            left_out={**hum.left_out, **{f"simulator: {k}": v for k, v in sim.left_out.items()}},
            not_in_map=not_in_map,
        ),
        uncertainty=Uncertainty(n_bootstrap=n_bootstrap, seed=seed),
        signature=signature(
            diff_label,
            hum,
            evaluation is not None,
            provenance.get("protocol", []),
            provenance.get("agent_model", []),
        ),
        notes=notes,
        published=_placement(
            None if usi_cell is None else usi_cell[0],
            size_note is None and not _protocol_notes(provenance),
            size_note,
        ),
        provenance=provenance,
        divergences=tau_usi_divergences(both, sim, hum, ratings),
    )


def _protocol_notes(provenance: Mapping[str, list[str]]) -> list[str]:
    notes = []
    protocols = provenance.get("protocol")
    if protocols and protocols != [PAPER_PROTOCOL]:
        notes.append(
            f"run protocol {', '.join(protocols)}: the paper's simulators ran protocol "
            f"{PAPER_PROTOCOL} (`usi run --protocol tau-usi`); the numbers are not comparable"
        )
    agents = provenance.get("agent_model")
    if agents and [a.split("/")[-1].lower() for a in agents] != [PAPER_AGENT]:
        notes.append(
            f"agent {', '.join(agents)}: the paper's agent was GPT-5.2; outcome (ECE) depends on it"
        )
    return notes


def _batch_cell(label: str, dims: FloatArray, ece: float, usi: float, n_tasks: int) -> BatchCell:
    def value(x: float) -> float | None:
        return None if np.isnan(x) else float(x)

    return BatchCell(
        batch=label,
        **{d: value(dims[i]) for i, d in enumerate(DIMENSION_NAMES)},
        ece=value(ece),
        usi=value(usi),
        n_tasks=n_tasks,
    )


def _usi_value(
    row: PaperRow, low: float | None, high: float | None, with_eval: bool
) -> TauUsiValue:
    """The headline: the paper's mean ± std over batches, and usi's interval beside it."""
    return TauUsiValue(
        value=None if row.usi is None else row.usi[0],
        std=None if row.usi is None else row.usi[1],
        ci_low=low,
        ci_high=high,
        n_terms=6 if with_eval else 5,
    )


def _components(row: PaperRow) -> TauUsiComponents:
    missing: dict[str, str] = {}

    def scaled(cell: tuple[float, float] | None, name: str, reason: str) -> float | None:
        if cell is None or np.isnan(cell[0]):
            missing[name] = reason
            return None
        return cell[0] / 100

    dims = {
        f"D{i + 1}": scaled(getattr(row, d), f"D{i + 1}", "no task shared with any human batch")
        for i, d in enumerate(DIMENSION_NAMES)
    }
    outcome = None
    if row.ece is None:
        missing["outcome"] = "no shared task in the difficulty map"
    else:
        outcome = 1 - row.ece[0]
    evaluation = scaled(row.eval_agree, "evaluation", "no --ratings")
    return TauUsiComponents(**dims, outcome=outcome, evaluation=evaluation, missing=missing)

"""``usi score --definitions tau-usi``: the paper's table, placed among the published rows."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from usi.errors import UsiInputError
from usi.layout import PIPE_WIDTH

DIVERGENCES_SHOWN = 5
"""Divergences in words under the table, per simulator (all of them in the JSON)."""

if TYPE_CHECKING:
    from usi.inputs.sides import Sides
    from usi.metrics.tau_usi.evaluation import Ratings
    from usi.metrics.tau_usi.models import PaperRow, TauUsiResult


def run_tau_usi(
    simulators: list[Path],
    human: Path | None,
    ceiling: Path | None,
    ratings: list[Path],
    difficulty_file: Path | None,
    *,
    as_json: bool,
    n_bootstrap: int,
    seed: int,
    workers: int | None,
    read: Callable[[list[Path], Path], Sides],
    with_audit: bool = True,
) -> None:
    """Score with the paper's definitions; print the table or one JSON object."""
    from usi.metrics.score import score
    from usi.metrics.tau_usi.models import TauUsiResult
    from usi.metrics.tau_usi.ratings import load_ratings
    from usi.metrics.tau_usi.score import load_difficulty

    if ceiling is not None and (simulators or human is not None):
        raise UsiInputError("--ceiling HUMAN takes no SIM files and no --human")
    if ceiling is None and not simulators:
        raise UsiInputError("give SIM files and --human HUMAN, or --ceiling HUMAN")
    if ceiling is None and human is None:
        raise UsiInputError("--human HUMAN is required to score simulators")
    expected = 1 if ceiling is not None else len(simulators)
    if ratings and len(ratings) != expected:
        raise UsiInputError(
            f"{len(ratings)} --ratings files for {expected} "
            f"{'ceiling' if ceiling is not None else 'SIM file(s)'}: give one each, in order",
            None,
            "--ratings",
        )
    difficulty = load_difficulty(difficulty_file)
    loaded = [load_ratings(p) for p in ratings]
    out = Console()
    if not out.is_terminal:
        out = Console(width=PIPE_WIDTH)
    if ceiling is not None:
        alone = score(
            {},
            read([], ceiling).human,
            definitions="tau-usi",
            difficulty=difficulty,
            n_bootstrap=n_bootstrap,
            seed=seed,
            ceiling_ratings=loaded[0] if loaded else None,
        )
        if not isinstance(alone.ceiling, TauUsiResult):  # one batch: no pair of batches
            raise UsiInputError(alone.ceiling_reason, None, "--ceiling")
        _emit([alone.ceiling], None, as_json, out, None, ceiling_only=True)
        return
    assert human is not None
    sides = read(simulators, human)
    by_file = dict(zip(simulators, loaded, strict=False))
    per_sim: dict[str, Ratings | None] = {}
    for name in sides.simulators:
        file_ratings = None
        if loaded:
            origin = _origin(sides, name)
            file_ratings = by_file.get(origin) if origin is not None else None
            if file_ratings is None and len(loaded) == 1:
                file_ratings = loaded[0]
        per_sim[name] = file_ratings
    scored = score(
        sides.simulators,
        sides.human,
        definitions="tau-usi",
        ratings=per_sim,
        difficulty=difficulty,
        n_bootstrap=n_bootstrap,
        seed=seed,
        ceiling_bootstrap=0,  # the terminal table shows no ceiling interval
    )
    results = [r for r in scored.results if isinstance(r, TauUsiResult)]
    ceiling_row = scored.ceiling if isinstance(scored.ceiling, TauUsiResult) else None
    audits = None
    if as_json and with_audit:  # beside USI, never in it (the same block as usi-v2's)
        from usi.audit.summary import score_audit

        audits = score_audit(sides, human)
    _emit(results, ceiling_row, as_json, out, audits)


def _origin(sides: Sides, name: str) -> Path | None:
    origin = sides.origins.get(name)
    return None if origin is None else origin.path


def _emit(
    results: list[TauUsiResult],
    ceiling: TauUsiResult | None,
    as_json: bool,
    out: Console,
    audits: dict[str, dict[str, object]] | None,
    *,
    ceiling_only: bool = False,
) -> None:
    if not as_json:  # the terminal view prints the notes under its table
        render(results, ceiling, out)
        return
    for result in results:
        for note in result.notes:
            typer.echo(f"usi: note: {result.simulator}: {note}", err=True)
    ceiling_json = None if ceiling is None else ceiling.model_dump(mode="json")
    if ceiling_only:  # usi score --ceiling
        document: dict[str, object] = results[0].model_dump(mode="json")
    elif len(results) == 1:
        single = results[0]
        document = {
            **single.model_dump(mode="json"),
            "ceiling": ceiling_json,
            "audit": None if audits is None else audits.get(single.simulator),
        }
    else:
        document = {
            "definitions": "tau-usi",
            "ceiling": ceiling_json,
            "leaderboard": [r.model_dump(mode="json") for r in results],
            "audit": audits,
        }
    typer.echo(json.dumps(document))


def _fmt(cell: tuple[float, float] | None, scale: float = 1.0, digits: int = 1) -> str:
    if cell is None:
        return "—"
    mean, std = cell
    return f"{mean * scale:.{digits}f}±{std * scale:.{digits}f}"


def render(results: list[TauUsiResult], ceiling: TauUsiResult | None, out: Console) -> None:
    """The paper's table: the user's rows (bold) among the published ones, then the notes."""
    from usi.metrics.tau_usi.score import published_rows

    table = Table(title="User-Sim Index — definitions tau-usi (the paper's)", title_justify="left")
    for column in ("simulator", "D1", "D2", "D3", "D4", "Eval", "ECE×100", "USI", "95% CI*"):
        table.add_column(column, justify="left" if column == "simulator" else "right")
    published = published_rows()
    rows: list[tuple[float, list[str], str]] = []
    for r in results:
        ci = (
            f"{r.usi.ci_low:.1f}–{r.usi.ci_high:.1f}"
            if r.usi.ci_low is not None and r.usi.ci_high is not None
            else "—"
        )
        cells = _cells(r.simulator, r.paper_row, ci)
        rows.append((r.usi.value if r.usi.value is not None else -1.0, cells, "bold"))
    for row in [published["human"], *published["simulators"]]:
        cells = [f"{row['name']} (published)"]
        for key in ("D1_conv", "D2_info", "D3_clarif", "D4_react", "eval_agree"):
            cells.append(_published(row[key]))
        cells.append(_published(row["ece"], 100, 2))
        cells.append(_published(row["usi"], 1, 2))
        cells.append("")
        rows.append((row["usi"][0], cells, "dim"))
    if ceiling is not None:
        table.add_row(
            *_cells(f"{ceiling.simulator} (this data)", ceiling.paper_row, ""), style="italic"
        )
    for _, cells, style in sorted(rows, key=lambda r: -r[0]):
        table.add_row(*cells, style=style)
    out.print(table)
    out.print(
        "cells: mean±std over the human batches (the paper's); *usi's addition: task bootstrap"
    )
    for r in results:
        if r.published is not None:
            where = (
                f"between {r.published.above} and {r.published.below}"
                if r.published.above and r.published.below
                else (
                    f"below {r.published.above}"
                    if r.published.above
                    else f"above {r.published.below}"
                )
            )
            caveat = "" if r.published.comparable else " — not comparable, see the notes"
            out.print(
                f"{r.simulator}: USI {r.usi.value:.1f}, {where} "
                f"(rank {r.published.rank} of {r.published.of} with the published){caveat}"
            )
        if r.divergences:
            out.print(f"{r.simulator} differs most from people:")
            for d in r.divergences[:DIVERGENCES_SHOWN]:
                out.print(f"  • {d.text}")
        for note in r.notes:
            out.print(f"note: {note}")
        left_out = dict(r.tasks.left_out)
        if r.tasks.not_in_map:
            left_out["outside the difficulty map (no ECE)"] = r.tasks.not_in_map
        if left_out:
            counts = ", ".join(f"{reason} {n}" for reason, n in left_out.items())
            out.print(f"left out: {counts}")
        out.print(f"signature: {r.signature}")


def _cells(name: str, p: PaperRow, ci: str) -> list[str]:
    """One table row: the paper's cells in its units (ECE shown × 100), then usi's interval."""
    return [
        name,
        _fmt(p.D1_conv),
        _fmt(p.D2_info),
        _fmt(p.D3_clarif),
        _fmt(p.D4_react),
        _fmt(p.eval_agree),
        _fmt(p.ece, 100, 2),
        _fmt(p.usi, 1, 2),
        ci,
    ]


def _published(cell: list[float | None] | None, scale: float = 1.0, digits: int = 1) -> str:
    if cell is None or cell[0] is None:
        return "—"
    mean, std = cell[0], cell[1]
    if std is None:
        return f"{mean * scale:.{digits}f}"
    return f"{mean * scale:.{digits}f}±{std * scale:.{digits}f}"

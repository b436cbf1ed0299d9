"""Commands of the ``metrics`` capability: ``usi score``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from usi.errors import UsiInputError

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_BOOTSTRAP = 1000  # mirrors usi.metrics.bootstrap.N_BOOTSTRAP without importing numpy
PIPE_WIDTH = 160


def _load(path: Path, console: Console, workers: int | None) -> pd.DataFrame:
    """The table of one file, with a status line on stderr while it is read."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from usi.metrics.table import load_table

    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        TextColumn("{task.completed:,.0f} episodes"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,  # a log file gets the error line, not spinner debris
    ) as progress:
        task = progress.add_task(f"fingerprinting {path.name}", total=None)
        try:
            return load_table(
                path, progress=lambda n: progress.update(task, completed=n), workers=workers
            )
        except OSError as exc:
            raise UsiInputError(exc.strerror or str(exc), path) from None


def _tables(
    paths: list[Path], console: Console, workers: int | None = None
) -> dict[Path, pd.DataFrame]:
    """Each distinct file read once (``usi score corpus.jsonl --human corpus.jsonl`` is fine)."""
    tables: dict[Path, pd.DataFrame] = {}
    for path in paths:
        key = path.resolve()
        if key not in tables:
            tables[key] = _load(path, console, workers)
    return tables


def _human_table(path: Path, tables: dict[Path, pd.DataFrame]) -> pd.DataFrame:
    from usi.metrics.table import human_rows

    human = human_rows(tables[path.resolve()])
    if human.empty:
        raise UsiInputError('no human episodes (source "human")', path)
    return human


def _simulator_tables(
    paths: list[Path], tables: dict[Path, pd.DataFrame]
) -> dict[str, pd.DataFrame]:
    """Every non-human source of the SIM files; one source spread over files is merged."""
    import pandas as pd

    from usi.metrics.table import simulator_sources

    parts: dict[str, list[pd.DataFrame]] = {}
    for path in paths:
        table = tables[path.resolve()]
        names = simulator_sources(table)
        if not names:
            raise UsiInputError('no simulator episodes (every source is "human")', path)
        for name in names:
            parts.setdefault(name, []).append(table[table["source"] == name])
    return {n: pd.concat(p, ignore_index=True) for n, p in parts.items()}


def _run(
    simulators: list[Path],
    human: Path | None,
    ceiling: Path | None,
    as_json: bool,
    n_bootstrap: int,
    seed: int,
    workers: int | None = None,
) -> None:
    from usi.audit.summary import score_audit
    from usi.metrics.index import human_ceiling
    from usi.metrics.render import render_ceiling, render_leaderboard, render_score
    from usi.metrics.score import score_leaderboard, score_simulator

    status = Console(stderr=True)
    out = Console()
    if not out.is_terminal:
        out = Console(width=PIPE_WIDTH)  # a file or a pipe: don't squeeze the tables to 80
    if ceiling is not None:
        if simulators or human is not None:
            raise UsiInputError("--ceiling HUMAN takes no SIM files and no --human")
        result = human_ceiling(_human_table(ceiling, _tables([ceiling], status, workers)))
        if as_json:
            typer.echo(json.dumps(result.model_dump()))
        else:
            render_ceiling(result, out)
        return
    if not simulators:
        raise UsiInputError("give SIM files and --human HUMAN, or --ceiling HUMAN")
    if human is None:
        raise UsiInputError("--human HUMAN is required to score simulators")
    tables = _tables([human, *simulators], status, workers)
    human_table = _human_table(human, tables)
    sims = _simulator_tables(simulators, tables)
    del tables
    if len(sims) == 1:
        name, table = next(iter(sims.items()))
        score = score_simulator(table, human_table, name, n_bootstrap=n_bootstrap, seed=seed)
        if as_json:  # the audit goes beside USI, never into it
            typer.echo(
                json.dumps({**score.model_dump(), "audit": score_audit(simulators, human)[name]})
            )
        else:
            render_score(score, out)
        return
    board = score_leaderboard(sims, human_table, n_bootstrap=n_bootstrap, seed=seed)
    if as_json:
        typer.echo(json.dumps({**board.model_dump(), "audit": score_audit(simulators, human)}))
    else:
        render_leaderboard(board, out)


def register(app: typer.Typer) -> None:
    """Add this capability's commands to the ``usi`` app."""

    @app.command("score")
    def score(
        simulators: Annotated[
            list[Path] | None,
            typer.Argument(
                metavar="SIM...",
                help="Episode files of one or more simulators (each non-human source is "
                "scored separately).",
                show_default=False,
            ),
        ] = None,
        human: Annotated[
            Path | None, typer.Option("--human", help="Episode file with the human sessions.")
        ] = None,
        ceiling: Annotated[
            Path | None,
            typer.Option("--ceiling", help="Score the humans against themselves (the ceiling)."),
        ] = None,
        as_json: Annotated[
            bool, typer.Option("--json", help="Print one JSON object on stdout.")
        ] = False,
        n_bootstrap: Annotated[
            int, typer.Option("--bootstrap", min=0, help="Task-bootstrap replicates (one batch).")
        ] = DEFAULT_BOOTSTRAP,
        seed: Annotated[
            int, typer.Option(help="Seed of the bootstrap and the fidelity checks.")
        ] = 0,
        workers: Annotated[
            int,
            typer.Option(
                min=0, help="Processes reading a large JSONL file (0 = 2 above 16 MiB, else 1)."
            ),
        ] = 0,
    ) -> None:
        """Score simulators against humans: the User-Sim Index and everything behind it.

        usi score SIM [SIM ...] --human HUMAN [--json]    one simulator, or a leaderboard
        usi score --ceiling HUMAN [--json]                the human ceiling
        """
        try:
            _run(
                list(simulators or []), human, ceiling, as_json, n_bootstrap, seed, workers or None
            )
        except UsiInputError as exc:
            typer.echo(f"usi: error: {exc.one_line()}", err=True)
            raise typer.Exit(2) from None

"""Commands of the ``metrics`` capability: ``usi score``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from usi.cli.options import Definitions as DefinitionsOption
from usi.cli.options import Json, OptionalHuman
from usi.errors import UsiInputError
from usi.layout import PIPE_WIDTH
from usi.options import DEFAULT_DEFINITIONS
from usi.options import DefinitionsName as Definitions
from usi.outputs import check_input_file

if TYPE_CHECKING:
    from collections.abc import Callable

    from usi.core.episode import Episode
    from usi.inputs.sides import Input, Sides

DEFAULT_BOOTSTRAP = 1000  # mirrors usi.metrics.bootstrap.N_BOOTSTRAP without importing numpy


def _read(
    path: Path,
    console: Console,
    workers: int | None,
    definitions: str = "usi-v2",
    audit: bool = False,
) -> Input:
    """One file read by the rules of ``usi.inputs.sides``, with a status line on stderr.

    ``audit``: each kept episode is audited in the same pass (the ``--json`` audit block),
    so the conversations are read once; what the block counts of each is kept (its tally).
    """
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from usi.inputs.sides import read_input

    per_episode: Callable[[Episode], object] | None = None
    if audit:
        from usi.audit.runner import tally_episode

        per_episode = tally_episode
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
        return read_input(
            path,
            progress=lambda n: progress.update(task, completed=n),
            workers=workers,
            definitions=definitions,
            per_episode=per_episode,
        )


def _sides(
    simulators: list[Path],
    human: Path,
    console: Console,
    workers: int | None,
    definitions: str = "usi-v2",
    audit: bool = False,
) -> Sides:
    """The people and each simulator by the shared rules; their warnings go to stderr."""
    from usi.inputs.sides import WARNING_PREFIX, read_sides

    sides = read_sides(
        simulators, human, lambda path: _read(path, console, workers, definitions, audit)
    )
    for note in sides.notes:
        typer.echo(WARNING_PREFIX + note, err=True)
    return sides


def _notes(notes: list[tuple[str, str | None]]) -> None:
    """With --json, the one-line notes the table would show (few paired tasks) go to stderr."""
    for name, note in notes:
        if note:
            typer.echo(f"usi: note: {name}: {note}", err=True)


def _run(
    simulators: list[Path],
    human: Path | None,
    ceiling: Path | None,
    as_json: bool,
    n_bootstrap: int,
    seed: int,
    workers: int | None = None,
    with_audit: bool = True,
) -> None:
    from usi.audit.summary import score_audit
    from usi.metrics.models import CeilingResult, ScoreResult
    from usi.metrics.render import render_ceiling, render_leaderboard, render_score
    from usi.metrics.score import score

    status = Console(stderr=True)
    out = Console()
    if not out.is_terminal:
        out = Console(width=PIPE_WIDTH)  # a file or a pipe: don't squeeze the tables to 80
    if ceiling is not None:
        if simulators or human is not None:
            raise UsiInputError("--ceiling HUMAN takes no SIM files and no --human")
        scored = score(
            {},
            _sides([], ceiling, status, workers).human,
            definitions="usi-v2",
            n_bootstrap=n_bootstrap,
            seed=seed,
            with_fidelity=False,
        )
        result = scored.ceiling
        assert isinstance(result, CeilingResult)  # usi-v2 always returns its ceiling
        if as_json:
            _notes([("humans (ceiling)", result.uncertainty.note)])
            typer.echo(json.dumps(result.model_dump()))
        else:
            render_ceiling(result, out)
        return
    if not simulators:
        raise UsiInputError("give SIM files and --human HUMAN, or --ceiling HUMAN")
    if human is None:
        raise UsiInputError("--human HUMAN is required to score simulators")
    sides = _sides(simulators, human, status, workers, audit=as_json and with_audit)
    human_table, sims = sides.human, sides.simulators
    scored = score(
        sims,
        human_table,
        definitions="usi-v2",
        ceiling=len(sims) > 1,  # one simulator: its own summary, no ceiling
        n_bootstrap=n_bootstrap,
        seed=seed,
    )
    if len(sims) == 1:
        single = scored.results[0]
        assert isinstance(single, ScoreResult)
        if as_json:  # the audit goes beside USI, never into it
            _notes([(single.simulator, single.uncertainty.note)])
            audit = score_audit(sides, human).get(single.simulator) if with_audit else None
            typer.echo(json.dumps({**single.model_dump(), "audit": audit}))
        else:
            render_score(single, out)
        return
    board = scored.leaderboard()
    if as_json:
        _notes([(r.simulator, r.uncertainty.note) for r in board.leaderboard])
        audits = score_audit(sides, human) if with_audit else None
        typer.echo(json.dumps({**board.model_dump(), "audit": audits}))
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
                help="Episode files of one or more simulators (each non-human source of each "
                "file is scored separately: one source in two files is two rows).",
                show_default=False,
            ),
        ] = None,
        human: OptionalHuman = None,
        ceiling: Annotated[
            Path | None,
            typer.Option("--ceiling", help="Score the humans against themselves (the ceiling)."),
        ] = None,
        as_json: Json = False,
        n_bootstrap: Annotated[
            int,
            typer.Option(
                "--bootstrap",
                min=0,
                help="Task-bootstrap replicates of the 95% interval (0 = no interval).",
            ),
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
        definitions: DefinitionsOption = DEFAULT_DEFINITIONS,
        ratings: Annotated[
            list[Path] | None,
            typer.Option(
                "--ratings",
                help="tau-usi Eval: the simulator model's ratings of the HUMAN conversations "
                "(`usi judge --model M HUMAN` output or the paper's survey_comparable JSON), "
                "one per SIM in order; with --ceiling, a second person's ratings.",
            ),
        ] = None,
        difficulty: Annotated[
            Path | None,
            typer.Option(
                "--difficulty",
                help="tau-usi: another ECE difficulty map of the shipped one's shape.",
            ),
        ] = None,
        audit: Annotated[
            bool,
            typer.Option(
                "--audit/--no-audit",
                help="With --json: the audit block beside USI (usi audit's rates, human baseline). "
                'Computed as the conversations are read; --no-audit gives "audit": null.',
            ),
        ] = True,
    ) -> None:
        """Score simulators against humans: the User-Sim Index and everything behind it.

        usi score SIM [SIM ...] --human HUMAN [--json]    one simulator, or a leaderboard
        usi score --ceiling HUMAN [--json]                the human ceiling

        Failed runs (metadata.error) are left out, with a warning.
        A source in several files is one row per file, "SOURCE (FILE)".
        """
        try:
            for path in (*(simulators or []), human, ceiling, *(ratings or []), difficulty):
                if path is not None:
                    check_input_file(path)
            if definitions is Definitions.TAU_USI:
                from usi.cli.score_tau_usi import run_tau_usi

                run_tau_usi(
                    list(simulators or []),
                    human,
                    ceiling,
                    list(ratings or []),
                    difficulty,
                    as_json=as_json,
                    n_bootstrap=n_bootstrap,
                    seed=seed,
                    workers=workers or None,
                    read=lambda sims, hum: _sides(
                        sims,
                        hum,
                        Console(stderr=True),
                        workers or None,
                        "tau-usi",
                        audit=as_json and audit and bool(sims),
                    ),
                    with_audit=audit,
                )
                return
            if ratings or difficulty is not None:
                raise UsiInputError(
                    "--ratings and --difficulty belong to --definitions tau-usi", None, "--ratings"
                )
            _run(
                list(simulators or []),
                human,
                ceiling,
                as_json,
                n_bootstrap,
                seed,
                workers or None,
                with_audit=audit,
            )
        except UsiInputError as exc:
            typer.echo(f"usi: error: {exc.one_line()}", err=True)
            raise typer.Exit(2) from None

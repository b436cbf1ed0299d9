"""Commands of the ``report`` capability."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add this capability's commands to the ``usi`` app."""

    @app.command("report")
    def report(
        human: Annotated[
            Path, typer.Option("--human", help="Human episodes (any format usi reads).")
        ],
        sim: Annotated[
            list[str],
            typer.Option(
                "--sim", help="NAME=FILE: one simulator's episodes; repeat per simulator."
            ),
        ],
        out: Annotated[Path, typer.Option("-o", "--out", help="Output folder.")],
        capability: Annotated[
            Path | None,
            typer.Option(
                "--capability", help="CSV with columns model,family,score (model = a --sim NAME)."
            ),
        ] = None,
        focus: Annotated[
            list[str] | None,
            typer.Option(
                "--focus",
                help="A --sim NAME to show in the detailed views (repeatable; default: the "
                "best, median and worst by USI).",
            ),
        ] = None,
    ) -> None:
        """Write the study's analyses, figures and leaderboard as one HTML report.

        Files are read by the rules of `usi score`: the same numbers.
        --human must hold human episodes; each --sim FILE holds one simulator
        (people in it are not counted); failed runs are left out, with a warning.
        """
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        from usi.data.sides import WARNING_PREFIX
        from usi.report.build import SECTIONS, build_report
        from usi.report.inputs import parse_sim_specs

        sims = parse_sim_specs(sim)
        console = Console(stderr=True)
        # One step per table loaded (simulators: and scored), section drawn, and the write.
        total = 1 + len(sims) + len(SECTIONS) + 1
        columns = (
            TextColumn("report"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
        )
        with Progress(
            *columns, console=console, transient=True, disable=not console.is_terminal
        ) as bar:
            task = bar.add_task("starting", total=total)

            def progress(stage: str, detail: str) -> None:
                bar.update(task, advance=1, description=f"{stage} {detail}")

            def warn(note: str) -> None:
                console.print(WARNING_PREFIX + note, markup=False, highlight=False, soft_wrap=True)

            result = build_report(human, sims, out, capability, focus or None, progress, warn=warn)
        console.print(
            f"report: {len(sims)} simulator(s), {len(result.sections)} sections, "
            f"{result.timings['total']:.1f} s"
        )
        typer.echo(str(result.path))

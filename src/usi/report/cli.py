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
        """Write the study's analyses, figures and leaderboard as one HTML report."""
        from rich.console import Console

        from usi.report.build import build_report
        from usi.report.inputs import parse_sim_specs

        sims = parse_sim_specs(sim)
        console = Console(stderr=True)
        with console.status("report: starting") as status:

            def progress(stage: str, detail: str) -> None:
                status.update(f"report: {stage} {detail}")

            result = build_report(human, sims, out, capability, focus or None, progress)
        console.print(
            f"[green]report[/green] {len(sims)} simulator(s), {result.timings['total']:.1f} s"
        )
        typer.echo(str(result.path))

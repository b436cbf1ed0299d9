"""Commands of the ``report`` capability."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from usi.cli.options import Definitions as DefinitionsOption
from usi.cli.options import Human, Out, Overwrite
from usi.errors import UsiInputError
from usi.options import DEFAULT_DEFINITIONS
from usi.options import DefinitionsName as Definitions
from usi.outputs import check_input_file, check_output_dir

REPORT_MARKER = "report.html"  # usi.report.build.REPORT_FILE, without importing matplotlib


def register(app: typer.Typer) -> None:
    """Add this capability's commands to the ``usi`` app."""

    @app.command("report")
    def report(
        human: Human,
        sim: Annotated[
            list[str],
            typer.Option(
                "--sim",
                help="NAME=FILE[:RATINGS]: one simulator's episodes; repeat per simulator. "
                "RATINGS (tau-usi): that simulator model's ratings of the HUMAN conversations "
                "(`usi judge --model M HUMAN` output or the paper's survey_comparable JSON), "
                "the Eval term; without it USI has 5 terms.",
            ),
        ],
        out: Out,
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
        overwrite: Overwrite = False,
        definitions: DefinitionsOption = DEFAULT_DEFINITIONS,
    ) -> None:
        """Write the study's analyses, figures and leaderboard as one HTML report.

        OUT (-o): the report folder. --definitions decides the leaderboard's and capability
        figure's USI; the per-feature, survey and fidelity analyses are usi-v2's and say so.

        Files are read by the rules of `usi score`: the same numbers.
        --human must hold human episodes; each --sim FILE holds one simulator
        (people in it are not counted); failed runs are left out, with a warning.
        """
        # The folder and the inputs first: pandas, matplotlib and scipy take seconds to load.
        check_output_dir(out, overwrite=overwrite, marker=REPORT_MARKER)
        check_input_file(human)
        from usi.report.specs import parse_sim_specs

        sims = parse_sim_specs(sim)
        for spec in sims.values():
            check_input_file(spec.path)
            if spec.ratings is not None:
                check_input_file(spec.ratings)
        ratings = {name: s.ratings for name, s in sims.items() if s.ratings is not None}
        if ratings and definitions is not Definitions.TAU_USI:
            raise UsiInputError(
                "RATINGS belong to --definitions tau-usi (the Eval term)", where="--sim"
            )
        if capability is not None:
            check_input_file(capability)
        from rich.console import Console
        from rich.progress import Progress

        from usi.inputs.sides import WARNING_PREFIX
        from usi.layout import progress_columns
        from usi.report.build import SECTIONS, build_report

        console = Console(stderr=True)
        # One step per table loaded (simulators: and scored), section drawn, and the write.
        total = 1 + len(sims) * (2 if definitions is Definitions.TAU_USI else 1) + len(SECTIONS) + 1
        with Progress(
            *progress_columns(console.width, stats=False),
            console=console,
            transient=True,
            disable=not console.is_terminal,
        ) as bar:
            task = bar.add_task("report: starting", total=total)

            def progress(stage: str, detail: str) -> None:
                bar.update(task, advance=1, description=f"report: {stage} {detail}")

            def warn(note: str) -> None:
                console.print(WARNING_PREFIX + note, markup=False, highlight=False, soft_wrap=True)

            result = build_report(
                human,
                {name: spec.path for name, spec in sims.items()},
                out,
                capability,
                focus or None,
                progress,
                warn=warn,
                definitions=definitions.value,
                ratings=ratings,
            )
        console.print(
            f"report: {len(sims)} simulator(s), {len(result.sections)} sections, "
            f"{result.timings['total']:.1f} s"
        )
        typer.echo(str(result.path))

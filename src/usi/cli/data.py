"""Commands of the ``data`` capability: ``usi data convert`` and ``usi data fetch``.

Both write canonical episodes atomically (a failure leaves no output file), print the path
they wrote on stdout and what they wrote as one summary line on stderr, and surface every
task-alignment warning as its own line naming the session, so unaligned sessions are never
dropped silently.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from usi.cli.options import Episodes, Output, Overwrite
from usi.errors import UsiInputError
from usi.outputs import check_input_file, check_output_file, check_parent

data_app = typer.Typer(
    name="data",
    help="Bring episodes into usi: convert any supported format, fetch the human study.",
    no_args_is_help=True,
)
_stderr = Console(stderr=True, highlight=False, soft_wrap=True)


class FormatChoice(StrEnum):
    AUTO = "auto"
    CANONICAL = "canonical"
    TAU_USI = "tau-usi"
    TAU2_RESULTS = "tau2-results"
    TAU_USI_RESULTS = "tau-usi-results"


class TargetChoice(StrEnum):
    CANONICAL = "canonical"
    TAU_USI_RESULTS = "tau-usi-results"


@contextlib.contextmanager
def _warnings_on_stderr() -> Iterator[None]:
    """Show each alignment warning as one rich line as it happens."""

    from usi.tau.align import AlignmentWarning

    def show(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> None:
        _stderr.print(f"[yellow]warning:[/] {escape(str(message))}")

    with warnings.catch_warnings():
        warnings.simplefilter("always", AlignmentWarning)
        warnings.showwarning = show
        yield


@data_app.command("convert")
def convert_command(
    source: Episodes,
    output: Output,
    fmt: Annotated[
        FormatChoice,
        typer.Option("--format", help="Input format; auto detects it from the content."),
    ] = FormatChoice.AUTO,
    overwrite: Overwrite = False,
    to: Annotated[
        TargetChoice,
        typer.Option(
            "--to",
            help="canonical JSONL, or the paper's results JSON (one simulator's runs, keys "
            "{domain}_{index}[_{run}]) to share a run or check it against the reference.",
        ),
    ] = TargetChoice.CANONICAL,
) -> None:
    """Convert episodes in any supported format to canonical JSON Lines (or --to another)."""
    check_input_file(source)
    check_output_file(output, overwrite=overwrite)
    if to is TargetChoice.TAU_USI_RESULTS:
        _to_results(source, output, None if fmt is FormatChoice.AUTO else fmt.value)
        return
    from usi.data.fetch import ConversionSummary
    from usi.data.io import atomic_writer, episode_line
    from usi.data.readers import EpisodeFormat, iter_episodes

    chosen = None if fmt is FormatChoice.AUTO else EpisodeFormat(fmt.value)
    summary = ConversionSummary()
    with _warnings_on_stderr(), atomic_writer(output) as handle:
        for episode in iter_episodes(source, chosen):
            handle.write(episode_line(episode) + "\n")
            summary.add(episode)
        if summary.episodes == 0:
            raise UsiInputError("no episodes", source)
    _stderr.print(f"converted {escape(summary.one_line())} → {escape(str(output))}")
    typer.echo(str(output))  # the result on stdout, like fetch and report


def _to_results(source: Path, output: Path, fmt: str | None) -> None:
    import json

    from usi.data.io import atomic_writer
    from usi.data.paper_results import ResultsWriter
    from usi.data.readers import EpisodeFormat, iter_episodes

    writer = ResultsWriter(source)
    with _warnings_on_stderr():
        for episode in iter_episodes(source, None if fmt is None else EpisodeFormat(fmt)):
            if episode.infrastructure_error is None:
                writer.add(episode)
    document = writer.document()
    if not document:
        raise UsiInputError("no simulator episode with a tau-usi index to write", source)
    with atomic_writer(output) as handle:
        handle.write(json.dumps(document, ensure_ascii=False))
    if writer.unkeyed:
        _stderr.print(
            f"[yellow]warning:[/] {writer.unkeyed} episode(s) without a tau-usi index left out"
        )
    if writer.small_multirun:
        _stderr.print(
            "[yellow]warning:[/] several runs in at most 170 entries: the paper's scorer splits "
            "runs by suffix only above 170 entries and reads this file as one run"
        )
    _stderr.print(f"converted {len(document)} entries → {escape(str(output))}")
    typer.echo(str(output))


@data_app.command("fetch")
def fetch_command(
    dest: Annotated[
        Path | None,
        typer.Option(
            "--dest", help="Folder for the snapshot and human.jsonl (default: user cache)."
        ),
    ] = None,
    source: Annotated[
        Path | None,
        typer.Option(
            "--from", help="Convert a local copy (file or folder) instead of downloading."
        ),
    ] = None,
    revision: Annotated[
        str | None, typer.Option("--revision", help="Dataset revision: branch, tag or commit.")
    ] = None,
    overwrite: Overwrite = False,
) -> None:
    """Download the human-study dataset (cmu-lti/tau-usi) and convert it to canonical episodes.

    Prints the path of the episodes file it wrote (DEST/human.jsonl) on stdout.
    """
    from usi.data.fetch import HUMAN_FILE, default_dest, fetch

    if source is not None and revision is not None:
        raise UsiInputError(
            "has no effect with --from PATH (it picks a version of the dataset on the Hub)",
            where="--revision",
        )
    if source is not None and not source.exists():
        raise UsiInputError("no such file or folder", source, "--from")
    out_dir = dest if dest is not None else default_dest()
    if out_dir.exists() and not out_dir.is_dir():
        raise UsiInputError("exists and is not a folder", out_dir, "--dest")
    if dest is not None and not out_dir.exists():
        check_parent(out_dir)
    check_output_file(out_dir / HUMAN_FILE, overwrite=overwrite, create_parent=True)
    endpoint = os.environ.get("HF_ENDPOINT") or None
    with _warnings_on_stderr():
        result = fetch(dest=dest, source=source, revision=revision, endpoint=endpoint)
    files = ", ".join(
        p.name if p == result.snapshot else str(p.relative_to(result.snapshot))
        for p in result.files
    )
    _stderr.print(f"read {escape(files)} from {escape(str(result.snapshot))}")
    _stderr.print(f"wrote {escape(result.summary.one_line())}")
    typer.echo(str(result.output))


def register(app: typer.Typer) -> None:
    """Add this capability's commands to the ``usi`` app."""
    app.add_typer(data_app, name="data")

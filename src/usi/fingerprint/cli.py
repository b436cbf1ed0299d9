"""Commands of the ``fingerprint`` capability: ``usi fingerprint EPISODES [--json]``."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Annotated

import numpy as np
import numpy.typing as npt
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from usi.data.episode import HUMAN_SOURCE, Episode
from usi.data.readers import iter_episodes
from usi.data.sides import WARNING_PREFIX, Screening, screen_episodes
from usi.fingerprint.extract import CHUNK_EPISODES, fingerprint_turn_lists
from usi.fingerprint.features import DIMENSION_NAMES, DIMENSIONS, FEATURES


def _chunks(episodes: Iterable[Episode], size: int) -> Iterator[list[Episode]]:
    """Episodes in lists of ``size``: only one chunk of conversations is in memory at a time."""
    iterator = iter(episodes)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _fingerprinted(
    path: Path, screening: Screening | None
) -> Iterator[tuple[list[Episode], npt.NDArray[np.float64]]]:
    """Fingerprints chunk by chunk of the episodes the shared rules keep (failed runs out)."""
    episodes = screen_episodes(iter_episodes(path, agent=False), screening or Screening(str(path)))
    for chunk in _chunks(episodes, CHUNK_EPISODES):
        yield chunk, fingerprint_turn_lists([episode.user_turns() for episode in chunk])


def write_json_lines(path: Path, screening: Screening | None = None) -> int:
    """One JSON object per episode kept by the rules on stdout; return how many episodes."""
    count = 0
    out = sys.stdout
    for chunk, values in _fingerprinted(path, screening):
        for episode, row in zip(chunk, values.tolist(), strict=True):
            record = {
                "episode_id": episode.episode_id,
                "source": episode.source,
                "task_id": episode.task_id,
                "features": dict(zip(FEATURES, row, strict=True)),
            }
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        count += len(chunk)
    out.flush()
    return count


def source_profiles(
    path: Path, progress: Progress | None = None, screening: Screening | None = None
) -> dict[str, tuple[int, list[float]]]:
    """Per source: number of episodes and the profile (per-feature mean), streaming the file."""
    sums: dict[str, npt.NDArray[np.float64]] = {}
    counts: dict[str, int] = {}
    task = progress.add_task("fingerprinting", total=None) if progress else None
    for chunk, values in _fingerprinted(path, screening):
        sources = np.array([episode.source for episode in chunk], dtype=object)
        for source in dict.fromkeys(sources.tolist()):
            rows = sources == source
            sums[source] = sums.get(source, np.zeros(len(FEATURES))) + values[rows].sum(axis=0)
            counts[source] = counts.get(source, 0) + int(rows.sum())
        if progress is not None and task is not None:
            progress.advance(task, len(chunk))
    return {s: (counts[s], (sums[s] / counts[s]).tolist()) for s in _source_order(counts)}


def _source_order(sources: Iterable[str]) -> list[str]:
    """People first (the reference every simulator is compared with), then simulators by name."""
    return sorted(sources, key=lambda s: (s != HUMAN_SOURCE, s))


def profile_table(profiles: dict[str, tuple[int, list[float]]]) -> Table:
    """Rows: features grouped by dimension; columns: one per source; first row: episodes."""
    table = Table(title="Behavioral fingerprint: per-source profiles (mean per episode)")
    table.add_column("Dimension")
    table.add_column("Feature", no_wrap=True)
    for source in profiles:
        table.add_column(source, justify="right", no_wrap=True)
    table.add_row("", "episodes", *(str(n) for n, _ in profiles.values()))
    index = {feature: i for i, feature in enumerate(FEATURES)}
    for dimension, features in DIMENSIONS.items():
        table.add_section()
        for position, feature in enumerate(features):
            label = f"{dimension} {DIMENSION_NAMES[dimension]}" if position == 0 else ""
            values = (f"{profile[index[feature]]:.3f}" for _, profile in profiles.values())
            table.add_row(label, feature, *values)
    return table


def register(app: typer.Typer) -> None:
    """Add this capability's commands to the ``usi`` app."""

    @app.command("fingerprint")
    def fingerprint_command(
        episodes: Annotated[
            Path,
            typer.Argument(
                help="Episodes: canonical JSONL, tau-usi JSON, or a `tau2 run` results JSON."
            ),
        ],
        as_json: Annotated[
            bool,
            typer.Option(
                "--json",
                help="One JSON object per episode on stdout "
                '({"episode_id", "source", "task_id", "features": {19 features}}).',
            ),
        ] = False,
    ) -> None:
        """Behavioral fingerprint (19 features) of every episode, or per-source profiles.

        Episodes are read by the rules of `usi score`: failed runs are left out,
        a repeated episode_id is an error, a task τ² lacks becomes task_id null.
        """
        screening = Screening(str(episodes))
        profiles: dict[str, tuple[int, list[float]]] = {}
        if as_json:
            count = write_json_lines(episodes, screening)
        else:
            stderr = Console(stderr=True)
            columns = (
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.completed} episodes"),
                TimeElapsedColumn(),
            )
            with Progress(
                *columns, console=stderr, transient=True, disable=not stderr.is_terminal
            ) as progress:
                profiles = source_profiles(episodes, progress, screening)
            count = sum(n for n, _ in profiles.values())
        if count == 0:
            raise screening.nothing_left("episodes")
        for note in screening.notes():
            typer.echo(WARNING_PREFIX + note, err=True)
        if profiles:
            Console().print(profile_table(profiles))

"""Commands of the ``fingerprint`` capability: ``usi fingerprint EPISODES [--json]``."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from usi.cli.options import Definitions, Episodes, Json
from usi.fingerprint.features import CHUNK_EPISODES, DIMENSION_NAMES, DIMENSIONS, FEATURES
from usi.layout import PIPE_WIDTH
from usi.options import DEFAULT_DEFINITIONS, DefinitionsName
from usi.outputs import check_input_file

if TYPE_CHECKING:  # numpy, pandas and the extractor load only once the arguments are good
    import numpy as np
    import numpy.typing as npt
    from rich.console import RenderableType
    from rich.progress import Progress
    from rich.table import Table

    from usi.core.episode import Episode
    from usi.inputs.sides import Screening


def iter_episodes(path: Path) -> Iterator[Episode]:
    """The user turns of the episodes of ``path`` in any format (the reader loads on first use)."""
    from usi.data.readers import iter_episodes as read

    return read(path, agent=False)


def _fingerprinted(
    path: Path, screening: Screening | None
) -> Iterator[tuple[list[Episode], npt.NDArray[np.float64]]]:
    """Fingerprints chunk by chunk of the episodes the shared rules keep (failed runs out)."""
    from usi.fingerprint.extract import fingerprint_turn_lists
    from usi.inputs.frame import batches
    from usi.inputs.sides import Screening, screen_episodes

    episodes = screen_episodes(iter_episodes(path), screening or Screening(str(path)))
    for chunk in batches(episodes, CHUNK_EPISODES):
        yield chunk, fingerprint_turn_lists([episode.user_turns() for episode in chunk])


def _definition_rows(
    path: Path, screening: Screening | None, definitions: str
) -> Iterator[tuple[list[Episode], npt.NDArray[np.float64], tuple[str, ...]]]:
    """Chunks with their feature rows under ``definitions`` (usi-v2: the fast turn-list path)."""
    if definitions == "usi-v2":
        for chunk, values in _fingerprinted(path, screening):
            yield chunk, values, FEATURES
        return
    import numpy as np

    from usi.fingerprint.definitions import get_definitions
    from usi.inputs.frame import batches
    from usi.inputs.sides import Screening, screen_episodes

    chosen = get_definitions(definitions)
    episodes = screen_episodes(iter_episodes(path), screening or Screening(str(path)))
    for chunk in batches(episodes, CHUNK_EPISODES):
        frame = chosen.feature_frame(chunk)
        yield chunk, frame[list(chosen.features)].to_numpy(np.float64), chosen.features


def write_json_lines(
    path: Path, screening: Screening | None = None, definitions: str = "usi-v2"
) -> int:
    """One JSON object per episode kept by the rules on stdout; return how many episodes.

    A tau-usi feature is null for a conversation with no user turn (the paper has none).
    """
    count = 0
    out = sys.stdout
    for chunk, values, names in _definition_rows(path, screening, definitions):
        for episode, row in zip(chunk, values.tolist(), strict=True):
            record = {
                "episode_id": episode.episode_id,
                "source": episode.source,
                "task_id": episode.task_id,
                "definitions": definitions,
                "features": {
                    name: (None if value != value else value)  # NaN → null
                    for name, value in zip(names, row, strict=True)
                },
            }
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        count += len(chunk)
    out.flush()
    return count


def source_profiles(
    path: Path, progress: Progress | None = None, screening: Screening | None = None
) -> dict[str, tuple[int, list[float]]]:
    """Per source: number of episodes and the profile (per-feature mean), streaming the file."""
    import numpy as np

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
    from usi.core.episode import HUMAN_SOURCE

    return sorted(sources, key=lambda s: (s != HUMAN_SOURCE, s))


TITLE = "Behavioral fingerprint: per-source profiles (mean per episode)"


def _profile_grid(
    profiles: dict[str, tuple[int, list[float]]],
    sources: list[str],
    *,
    dimension_column: bool,
    headers: dict[str, str],
    title: str | None,
    caption: str | None = None,
) -> Table:
    """One table of ``sources``' profiles: dimensions as a column, or as label rows."""
    from rich.table import Table

    table = Table(title=title, caption=caption, caption_justify="left")
    if dimension_column:
        table.add_column("Dimension")
    table.add_column("Feature", no_wrap=True)
    for source in sources:
        table.add_column(headers[source], justify="right", no_wrap=True)
    lead = ("",) if dimension_column else ()
    table.add_row(*lead, "episodes", *(str(profiles[s][0]) for s in sources))
    index = {feature: i for i, feature in enumerate(FEATURES)}
    for dimension, features in DIMENSIONS.items():
        table.add_section()
        name = f"{dimension} {DIMENSION_NAMES[dimension]}"
        if not dimension_column:
            table.add_row(f"[bold]{name}[/bold]", *("" for _ in sources))
        for position, feature in enumerate(features):
            values = (f"{profiles[s][1][index[feature]]:.3f}" for s in sources)
            label = (name if position == 0 else "",) if dimension_column else ()
            table.add_row(*label, feature, *values)
    return table


def profile_table(
    profiles: dict[str, tuple[int, list[float]]], width: int | None = None
) -> RenderableType:
    """Rows: features grouped by dimension; columns: one per source; first row: episodes.

    At ``width`` columns the table never cuts a value: it drops the dimension column (the
    dimensions become label rows), then names the sources S1, S2, … with a legend, then
    stacks groups of sources in several tables.
    """
    from rich.console import Console, Group

    from usi.layout import chunks, first_fitting

    sources = list(profiles)
    full = {s: s for s in sources}
    short = {s: f"S{i}" for i, s in enumerate(sources, start=1)}
    legend = "\n".join(f"{short[s]} = {s}" for s in sources)
    if width is None:
        return _profile_grid(profiles, sources, dimension_column=True, headers=full, title=TITLE)
    console = Console(width=width)

    def stacked(size: int) -> RenderableType:
        groups = chunks(sources, size)
        tables = [
            _profile_grid(
                profiles,
                group,
                dimension_column=False,
                headers=short,
                title=TITLE if i == 0 else None,
                caption=legend if i == len(groups) - 1 else None,
            )
            for i, group in enumerate(groups)
        ]
        return Group(*tables)

    def stack_of(size: int) -> Callable[[], RenderableType]:
        return lambda: stacked(size)

    layouts: list[Callable[[], RenderableType]] = [
        lambda: _profile_grid(profiles, sources, dimension_column=True, headers=full, title=TITLE),
        lambda: _profile_grid(profiles, sources, dimension_column=False, headers=full, title=TITLE),
        lambda: _profile_grid(
            profiles, sources, dimension_column=False, headers=short, title=TITLE, caption=legend
        ),
        *(stack_of(size) for size in range(len(sources) - 1, 0, -1)),
    ]
    return first_fitting(console, layouts)


def register(app: typer.Typer) -> None:
    """Add this capability's commands to the ``usi`` app."""

    @app.command("fingerprint")
    def fingerprint_command(
        episodes: Episodes,
        as_json: Json = False,
        definitions: Definitions = DEFAULT_DEFINITIONS,
    ) -> None:
        """Behavioral features of every episode (tau-usi: 20, usi-v2: 19), or per-source profiles.

        --json: one JSON object per episode, {"episode_id", "source", "task_id",
        "definitions", "features": {…}}; --definitions tau-usi gives the paper's 20 features
        with its names, usi-v2 usi's 19.

        Episodes are read by the rules of `usi score`: failed runs are left out,
        a repeated episode_id is an error, a task τ² lacks becomes task_id null.
        """
        check_input_file(episodes)
        from usi.inputs.sides import WARNING_PREFIX, Screening

        screening = Screening(str(episodes))
        profiles: dict[str, tuple[int, list[float]]] = {}
        if as_json:
            count = write_json_lines(episodes, screening, definitions.value)
        elif definitions is not DefinitionsName.USI_V2:
            count = _print_means(episodes, screening, definitions.value)
        else:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )

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
            from rich.console import Console

            stdout = Console()
            width = stdout.width if stdout.is_terminal else PIPE_WIDTH
            Console(width=width).print(profile_table(profiles, width))


def _print_means(path: Path, screening: Screening, definitions: str) -> int:
    """Per source, the mean of each feature over its conversations (the paper's row, × 1)."""
    import numpy as np
    from rich.console import Console
    from rich.table import Table

    from usi.fingerprint.definitions import get_definitions

    names = get_definitions(definitions).features
    sums: dict[str, tuple[int, npt.NDArray[np.float64]]] = {}
    count = 0
    for chunk, values, _ in _definition_rows(path, screening, definitions):
        for episode, row in zip(chunk, values, strict=True):
            n, total = sums.get(episode.source, (0, np.zeros(len(row))))
            if not np.isnan(row).any():
                sums[episode.source] = (n + 1, total + row)
            else:
                sums.setdefault(episode.source, (n, total))
        count += len(chunk)
    stdout = Console()
    width = stdout.width if stdout.is_terminal else PIPE_WIDTH
    table = Table(title=f"Mean per conversation — definitions {definitions}", title_justify="left")
    table.add_column("feature")
    sources = _source_order(sums)
    for source in sources:
        table.add_column(f"{source} (n={sums[source][0]})", justify="right")
    for i, name in enumerate(names):
        table.add_row(
            name,
            *(f"{sums[s][1][i] / sums[s][0]:.3f}" if sums[s][0] else "—" for s in sources),
        )
    Console(width=width).print(table)
    return count

"""Terminal layout shared by the commands: tables that fit the width, progress bars that keep
their count, elapsed time and ETA, and the width used when output goes to a file or a pipe.

Rich cuts a cell with "…" when a table is wider than the console, which turns ``73.4`` into
``73…``. The tables here are therefore built in several layouts, widest first, and the first
one whose natural width fits the console is printed (:func:`first_fitting`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.progress import ProgressColumn

PIPE_WIDTH = 160
"""Width of tables written to a file or a pipe: no terminal to squeeze them into."""


def natural_width(console: Console, renderable: RenderableType) -> int:
    """The width ``renderable`` needs to show every cell whole."""
    from rich.measure import Measurement

    options = console.options.update_width(10_000)
    return Measurement.get(console, options, renderable).maximum


def fits(console: Console, renderable: RenderableType) -> bool:
    """True when ``renderable`` prints at ``console``'s width without cutting a cell."""
    return natural_width(console, renderable) <= console.width


def first_fitting(
    console: Console, layouts: Iterable[Callable[[], RenderableType]]
) -> RenderableType:
    """The first layout (widest first) that fits; the last one whatever its width."""
    chosen: RenderableType | None = None
    for build in layouts:
        chosen = build()
        if fits(console, chosen):
            return chosen
    assert chosen is not None, "no layout given"
    return chosen


def chunks(items: Sequence[str], size: int) -> list[list[str]]:
    """``items`` in consecutive groups of at most ``size`` (at least one per group)."""
    size = max(1, size)
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def progress_columns(width: int, *, stats: bool = True) -> list[ProgressColumn]:
    """Columns of a progress bar for a terminal ``width`` columns wide.

    Count, elapsed time and ETA are always there; the bar shrinks first, then the
    description is cut (rich's ellipsis), then the statistics go (the run's summary line
    repeats them at the end).
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.table import Column

    fixed = 11 + 7 + 4 + 7 + 6  # "1000/1000", elapsed, "ETA", remaining, the gaps
    bar = max(10, min(40, width - fixed - 30))
    description = max(8, width - fixed - bar - 2)
    show_stats = stats and width >= 120
    columns: list[ProgressColumn] = [
        TextColumn(
            "[bold]{task.description}",
            table_column=Column(no_wrap=True, overflow="ellipsis", max_width=description),
        ),
        BarColumn(bar_width=bar),
        MofNCompleteColumn(table_column=Column(no_wrap=True)),
        TimeElapsedColumn(table_column=Column(no_wrap=True)),
        TextColumn("ETA", table_column=Column(no_wrap=True)),
        TimeRemainingColumn(table_column=Column(no_wrap=True)),
    ]
    if show_stats:
        columns.append(
            TextColumn("{task.fields[stats]}", table_column=Column(no_wrap=True, ratio=1))
        )
    return columns

"""Terminal layout at 80 and 200 columns: every number whole, nothing wider than the screen.

Rich cuts a cell that does not fit with "…" (``73.4`` → ``73…``); the tables adapt instead
(fewer columns with a legend, or stacked tables), and progress bars keep count, elapsed
time and ETA. Rendered with rich's own ``Console(width=…)`` and read back as plain text.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from rich.console import Console
from rich.progress import Progress

from usi.cli.fingerprint import profile_table
from usi.fingerprint.features import FEATURES
from usi.layout import progress_columns
from usi.metrics.models import COMPONENT_NAMES, Leaderboard
from usi.metrics.render import render_leaderboard, render_score

WIDTHS = (80, 200)


def _text(width: int, draw: object) -> str:
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    if callable(draw):
        draw(console)
    else:
        console.print(draw)
    return console.export_text()


def _assert_fits(text: str, width: int) -> None:
    widest = max(len(line) for line in text.splitlines())
    assert widest <= width, f"{widest} columns at width {width}:\n{text}"
    assert "…" not in text, text


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> Leaderboard:
    """A real leaderboard: the demo corpus scored (two simulators and the ceiling)."""
    from usi.demo.corpus import write_demo_corpus
    from usi.demo.pipeline import simulator_tables
    from usi.metrics import score_leaderboard

    corpus = write_demo_corpus(Path(tmp_path_factory.mktemp("demo")))
    human, sims = simulator_tables(corpus, {})
    return score_leaderboard(sims, human, n_bootstrap=50)


def _cells(board: Leaderboard) -> list[str]:
    """Every number the leaderboard shows, formatted as the table formats it."""
    values = [f"{board.ceiling.value:.1f}"]
    for r in board.leaderboard:
        assert r.usi.value is not None
        values.append(f"{r.usi.value:.1f}")
        if r.usi.ci_low is not None and r.usi.ci_high is not None:
            values.append(f"{r.usi.ci_low:.1f}–{r.usi.ci_high:.1f}")
        values += [
            f"{getattr(r.components, c):.3f}"
            for c in COMPONENT_NAMES
            if getattr(r.components, c) is not None
        ]
        values.append(f"{r.n_episodes.simulator:,}")
    return values


@pytest.mark.parametrize("width", WIDTHS)
def test_leaderboard_shows_every_number_whole(board: Leaderboard, width: int) -> None:
    text = _text(width, lambda c: render_leaderboard(board, c))
    _assert_fits(text, width)
    for value in _cells(board):
        assert re.search(rf"(?<![\d.]){re.escape(value)}(?![\d])", text), (value, text)
    for r in board.leaderboard:
        assert r.simulator in text


def test_leaderboard_is_one_wide_table_at_200_and_stacked_with_a_legend_at_80(
    board: Leaderboard,
) -> None:
    wide = _text(200, lambda c: render_leaderboard(board, c))
    header = next(line for line in wide.splitlines() if "USI" in line and "#" in line)
    assert "evaluation" in header and "coverage" in header and "episodes" in header
    narrow = _text(80, lambda c: render_leaderboard(board, c))
    headers = [line for line in narrow.splitlines() if line.startswith("┃")]
    assert len(headers) >= 2  # stacked: the index table, then its components
    assert "Eval = evaluation" in narrow and "Cov = coverage" in narrow


@pytest.mark.parametrize("width", WIDTHS)
def test_score_tables_fit(board: Leaderboard, width: int) -> None:
    text = _text(width, lambda c: render_score(board.leaderboard[0], c))
    _assert_fits(text, width)


def _profiles(names: list[str]) -> dict[str, tuple[int, list[float]]]:
    return {
        name: (10 + i, [round(1000 * (i + 1) + j / 7, 3) for j in range(len(FEATURES))])
        for i, name in enumerate(names)
    }


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("n_sources", [2, 5, 9])
def test_fingerprint_table_fits_with_every_value(width: int, n_sources: int) -> None:
    names = ["human", *(f"litellm/vendor-model-{i}-2025-preview" for i in range(n_sources - 1))]
    profiles = _profiles(names)
    text = _text(width, profile_table(profiles, width))
    _assert_fits(text, width)
    for name, (count, values) in profiles.items():
        assert name in text  # as a header, or in the legend
        assert str(count) in text
        for value in values:
            assert f"{value:.3f}" in text
    for feature in FEATURES:
        assert feature in text


def test_fingerprint_table_keeps_the_dimension_column_when_there_is_room() -> None:
    profiles = _profiles(["human", "sim-a"])
    wide = _text(200, profile_table(profiles, 200))
    assert "Dimension" in wide and "D1 Communication style" in wide
    many = _profiles(["human", *(f"litellm/vendor-model-{i}-2025-preview" for i in range(8))])
    narrow = _text(80, profile_table(many, 80))
    assert "S2 = litellm/vendor-model-0-2025-preview" in narrow  # short headers, a legend
    assert "D1 Communication style" in narrow  # the dimension as a label row


@pytest.mark.parametrize("width", WIDTHS)
def test_progress_keeps_count_elapsed_and_eta(width: int) -> None:
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    progress = Progress(*progress_columns(width), console=console, auto_refresh=False)
    task = progress.add_task("retail · litellm/a-rather-long-model-name-here", total=120, stats="")
    progress.update(task, completed=37, stats="tokens 12,947 · $0.0000 · success 30/37")
    console.print(progress.get_renderable())
    line = console.export_text().splitlines()[0]
    assert len(line) <= width
    assert "37/120" in line
    assert re.search(r"\d:\d\d:\d\d", line)  # elapsed
    assert "ETA" in line
    assert ("tokens 12,947" in line) == (width >= 120)  # statistics only where they fit

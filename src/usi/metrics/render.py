"""Readable terminal output of ``usi score`` (the JSON is the contract; this is for people)."""

from __future__ import annotations

from rich.console import Console, Group, RenderableType
from rich.table import Table

from usi.fingerprint.features import DIMENSION_NAMES
from usi.layout import first_fitting
from usi.metrics.models import (
    COMPONENT_NAMES,
    CeilingResult,
    Components,
    Leaderboard,
    ScoreResult,
)
from usi.metrics.significance import LARGE_EFFECT, SIGNIFICANCE_LEVEL

NARROW_DISPERSION = 0.5
"""Dispersion ratios below this are called out: less than half the human spread."""

COMPONENT_LABELS: dict[str, str] = {
    **{d: f"{d} {name}" for d, name in DIMENSION_NAMES.items()},
    "outcome": "Outcome alignment (1 − ECE)",
    "evaluation": "Evaluative alignment (1 − MAE)",
}


def _num(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _usi_text(value: float | None, low: float | None, high: float | None) -> str:
    if value is None:
        return "n/a"
    if low is None or high is None:
        return f"{value:.1f}"
    return f"{value:.1f}  [{low:.1f}, {high:.1f}]"


def _components_table(components: Components, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("component")
    table.add_column("value", justify="right")
    table.add_column("note")
    for c in COMPONENT_NAMES:
        value = getattr(components, c)
        table.add_row(COMPONENT_LABELS[c], _num(value), components.missing.get(c, ""))
    return table


def _interval_note(result: ScoreResult) -> str:
    u = result.uncertainty
    if u.method == "batches":
        return f"mean ± std over {u.n_batches} human batches"
    if u.method == "bootstrap":
        return f"95% task-bootstrap interval, {u.n_bootstrap} replicates"
    return "no interval"


def render_score(result: ScoreResult, console: Console) -> None:
    """One simulator: USI ± interval, components, flagged features, evaluation, fidelity."""
    console.print(
        f"[bold]{result.simulator}[/bold]  USI [bold]"
        f"{_usi_text(result.usi.value, result.usi.ci_low, result.usi.ci_high)}[/bold]"
        f"  ({_interval_note(result)})"
    )
    console.print(
        f"episodes: {result.n_episodes.simulator:,} simulator, {result.n_episodes.human:,} human; "
        f"{result.n_tasks_paired} tasks on both sides; components used: "
        f"{', '.join(result.usi.components_used) or 'none'}"
    )
    console.print(_components_table(result.components, "Components"))

    flagged = [(f, c) for f, c in result.features.items() if c.large_gap]
    gaps = Table(
        title=f"Large gaps (Holm p < {SIGNIFICANCE_LEVEL}, |Cliff's δ| ≥ {LARGE_EFFECT})",
        title_justify="left",
    )
    for column in ("feature", "dim", "human", "simulator", "dice", "p_adj", "effect"):
        gaps.add_column(column, justify="left" if column in ("feature", "dim") else "right")
    for name, c in sorted(flagged, key=lambda item: -abs(item[1].effect or 0.0)):
        gaps.add_row(
            name,
            c.dimension,
            _num(c.human),
            _num(c.simulator),
            _num(c.dice),
            f"{c.p_adj:.1e}" if c.p_adj is not None else "—",
            f"{c.effect:+.2f}" if c.effect is not None else "—",
        )
    if flagged:
        console.print(gaps)
    else:
        console.print("No feature shows a large, significant gap.")

    if result.evaluation_detail is not None:
        survey = Table(title="Survey: simulator vs human (Δ = sim − human)", title_justify="left")
        for column in ("dimension", "human", "simulator", "Δ", "relative"):
            survey.add_column(column, justify="left" if column == "dimension" else "right")
        for dim, g in result.evaluation_detail.dimensions.items():
            rel = "—" if g.relative_overestimation is None else f"{g.relative_overestimation:+.0%}"
            survey.add_row(dim, _num(g.human), _num(g.simulator), f"{g.delta:+.3f}", rel)
        console.print(survey)

    if result.fidelity is not None:
        fid = result.fidelity
        narrow = [f for f, r in fid.dispersion.items() if r is not None and r < NARROW_DISPERSION]
        console.print(
            "Fidelity (beside USI): coverage "
            f"{_num(fid.coverage.score)} (humans vs humans {_num(fid.coverage.human_reference)}), "
            f"discriminator AUC {_num(fid.discriminator_auc)} (0.5 = indistinguishable)"
        )
        if narrow:
            console.print(f"  less than half the human spread: {', '.join(narrow)}")
    if result.judge is not None and result.judge.human is not None:
        j = result.judge.human
        console.print(
            f"LLM judge vs participants: MAE {j.mae:.3f} over {j.n_episodes} conversations"
        )


def render_ceiling(result: CeilingResult, console: Console) -> None:
    """The human ceiling and how it was made."""
    how = (
        f"each of {result.n_batches} batches against the others"
        if result.method == "leave-one-batch-out"
        else "one half of each task's sessions against the other"
    )
    spread = "" if result.std is None else f" ± {result.std:.1f}"
    value = "n/a" if result.value is None else f"{result.value:.1f}{spread}"
    console.print(f"[bold]Human ceiling[/bold] USI {value}  ({how}; {result.n_episodes} sessions)")
    if result.reason:
        console.print(result.reason)
    console.print(_components_table(result.components, "Components (humans vs humans)"))


SHORT_HEADERS: dict[str, str] = {
    "outcome": "Out",
    "evaluation": "Eval",
    "coverage": "Cov",
    "episodes": "n",
}
"""Column names of the narrow leaderboard, explained by its legend."""

LEADERBOARD_TITLE = "User-Sim Index leaderboard"


def _leaderboard_rows(board: Leaderboard) -> tuple[dict[str, str], list[dict[str, str]]]:
    """The ceiling row and the ranked rows, each cell by column name (one formatting)."""
    ceiling = board.ceiling
    reference = next(
        (r.fidelity.coverage.human_reference for r in board.leaderboard if r.fidelity), None
    )
    top = {
        "#": "",
        "user": "[italic]humans (ceiling)[/italic]",
        "USI": _num(ceiling.value, 1),
        "interval": "—" if ceiling.std is None else f"± {ceiling.std:.1f}",
        **{c: _num(getattr(ceiling.components, c)) for c in COMPONENT_NAMES},
        "coverage": _num(reference),
        "AUC": "",
        "episodes": f"{ceiling.n_episodes:,}",
    }
    rows = []
    for rank, r in enumerate(board.leaderboard, start=1):
        fid = r.fidelity
        rows.append(
            {
                "#": str(rank),
                "user": r.simulator,
                "USI": _num(r.usi.value, 1),
                "interval": "—"
                if r.usi.ci_low is None or r.usi.ci_high is None
                else f"{r.usi.ci_low:.1f}–{r.usi.ci_high:.1f}",
                **{c: _num(getattr(r.components, c)) for c in COMPONENT_NAMES},
                "coverage": _num(fid.coverage.score if fid else None),
                "AUC": _num(fid.discriminator_auc if fid else None),
                "episodes": f"{r.n_episodes.simulator:,}",
            }
        )
    return top, rows


def _leaderboard_table(
    top: dict[str, str],
    rows: list[dict[str, str]],
    columns: list[str],
    *,
    short: bool,
    title: str | None,
    caption: str | None = None,
) -> Table:
    table = Table(title=title, title_justify="left", caption=caption, caption_justify="left")
    for name in columns:
        header = SHORT_HEADERS.get(name, name) if short else name
        if name == "user":
            table.add_column(header, overflow="fold")  # a long name wraps; numbers never do
        else:
            table.add_column(header, justify="right", no_wrap=True)
    table.add_row(*(top[c] for c in columns), end_section=True)
    for row in rows:
        table.add_row(*(row[c] for c in columns))
    return table


def leaderboard_renderable(board: Leaderboard, width: int) -> RenderableType:
    """The leaderboard laid out for ``width`` columns, widest layout that fits first.

    One table when it fits (with short column names and a legend if need be); else stacked
    tables joined by the rank ``#``: the index, then its components and fidelity.
    """
    top, rows = _leaderboard_rows(board)
    ranked = ["#", "user", "USI", "interval"]
    components = [*COMPONENT_NAMES, "coverage", "AUC"]
    every = [*ranked, *components, "episodes"]
    legend = "Out = outcome, Eval = evaluation, Cov = coverage, n = episodes"
    console = Console(width=width)

    def one(short: bool) -> RenderableType:
        return _leaderboard_table(
            top,
            rows,
            every,
            short=short,
            title=LEADERBOARD_TITLE,
            caption=legend if short else None,
        )

    def stacked(parts: list[list[str]]) -> RenderableType:
        tables = [
            _leaderboard_table(
                top,
                rows,
                part,
                short=True,
                title=LEADERBOARD_TITLE if i == 0 else None,
                caption=legend if i == len(parts) - 1 else None,
            )
            for i, part in enumerate(parts)
        ]
        return Group(*tables)

    half = len(components) // 2
    return first_fitting(
        console,
        [
            lambda: one(False),
            lambda: one(True),
            lambda: stacked([[*ranked, "episodes"], ["#", *components]]),
            lambda: stacked(
                [[*ranked, "episodes"], ["#", *components[:half]], ["#", *components[half:]]]
            ),
        ],
    )


def render_leaderboard(board: Leaderboard, console: Console) -> None:
    """Simulators by USI, with the human ceiling as the reference row on top."""
    console.print(leaderboard_renderable(board, console.width))

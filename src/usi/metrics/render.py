"""Readable terminal output of ``usi score`` (the JSON is the contract; this is for people)."""

from __future__ import annotations

from rich.console import Console, Group, RenderableType
from rich.table import Table

from usi.layout import first_fitting
from usi.metrics.alignment import MIN_CUE_TURNS
from usi.metrics.models import (
    COMPONENT_LABELS,
    COMPONENT_NAMES,
    CeilingResult,
    Components,
    Leaderboard,
    ScoreResult,
    Uncertainty,
    UnsupportedFeature,
)
from usi.metrics.significance import LARGE_EFFECT, SIGNIFICANCE_LEVEL

CEILING_MEANING = (
    "The ceiling is how well one group of people matches another: a reference, not an upper "
    "bound — a simulator can exceed it (an exact copy of the people scores 100)."
)
"""What the human ceiling is, in the terminal view (the report's guide says the same)."""

TOP_DIVERGENCES = 5
"""How many divergences the terminal view names (the JSON has them all, ranked)."""

NARROW_DISPERSION = 0.5
"""Dispersion ratios below this are called out: less than half the human spread."""


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


def _interval_note(u: Uncertainty) -> str:
    if u.method == "folds":
        spread = "" if u.fold_std is None else f", fold spread (std) {u.fold_std:.1f}"
        return f"mean over {u.n_batches} leave-one-batch-out folds{spread}; no interval"
    if u.method == "bootstrap":
        return (
            f"{u.confidence or 0.95:.0%} task-bootstrap interval ({u.interval}), "
            f"{u.n_bootstrap} replicates over {u.n_tasks_resampled} tasks"
        )
    return "no interval"


def _per_batch_line(u: Uncertainty) -> str | None:
    if not u.per_batch:
        return None
    scores = ", ".join(
        f"batch {b} {'n/a' if v is None else f'{v:.1f}'}" for b, v in u.per_batch.items()
    )
    spread = "" if u.batch_std is None else f" (std {u.batch_std:.1f})"
    why = "" if u.per_batch_note is None else f"; {u.per_batch_note}"
    return f"robustness: against each human batch alone: {scores}{spread}{why}"


def _unsupported_line(unsupported: list[UnsupportedFeature]) -> str | None:
    if not unsupported:
        return None
    items = ", ".join(
        f"{u.feature} ({u.simulator_cue_turns} vs {u.human_cue_turns})" for u in unsupported
    )
    return (
        f"unsupported (fewer than {MIN_CUE_TURNS} cue turns on the human side, left out of "
        f"their dimension; simulator vs human cue turns): {items}"
    )


def _header_lines(u: Uncertainty, unsupported: list[UnsupportedFeature], console: Console) -> None:
    for line in (u.note, _per_batch_line(u), _unsupported_line(unsupported)):
        if line:
            console.print(line)


def _divergence_lines(result: ScoreResult, console: Console) -> None:
    """The behaviours where the simulator differs most from people, top first, in words."""
    top = result.divergences[:TOP_DIVERGENCES]
    if not top:
        return
    console.print("Where the simulator differs most from people (largest relative gap first):")
    for rank, d in enumerate(top, start=1):
        console.print(f"  {rank}. {d.text}")


def render_score(result: ScoreResult, console: Console) -> None:
    """One simulator: USI ± interval, components, flagged features, evaluation, fidelity."""
    console.print(
        f"[bold]{result.simulator}[/bold]  USI [bold]"
        f"{_usi_text(result.usi.value, result.usi.ci_low, result.usi.ci_high)}[/bold]"
        f"  ({_interval_note(result.uncertainty)})  definitions {result.definitions}"
    )
    console.print(
        f"episodes: {result.n_episodes.simulator:,} simulator, {result.n_episodes.human:,} human; "
        f"{result.n_tasks_paired} tasks on both sides; components used: "
        f"{', '.join(result.usi.components_used) or 'none'}"
    )
    _header_lines(result.uncertainty, result.unsupported, console)
    console.print(_components_table(result.components, "Components"))
    _divergence_lines(result, console)
    outcome = result.outcome_detail
    if outcome.delta is not None:
        domains = "".join(
            f"; {d} {o.simulator:.2f} vs {o.human:.2f}" for d, o in outcome.by_domain.items()
        )
        console.print(
            f"Outcome: success {outcome.simulator_success:.2f} simulator vs "
            f"{outcome.human_success:.2f} human over {outcome.n_tasks} paired tasks "
            f"(Δ {outcome.delta:+.2f}{domains})"
        )
        if outcome.per_task_ece is not None:
            console.print(
                f"  diagnostic, v1 per-task ECE {outcome.per_task_ece:.3f} (humans vs humans "
                f"{_num(outcome.per_task_ece_noise_floor)})"
            )

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
        detail = result.evaluation_detail
        if detail.per_task_mae is not None:
            console.print(
                f"  diagnostic, v1 per-task MAE {detail.per_task_mae:.3f} (humans vs humans "
                f"{_num(detail.per_task_mae_noise_floor)})"
            )

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
    how = {
        "leave-one-batch-out": f"each of {result.n_batches} batches against the others",
        "batch-vs-batch": "one batch against the other",
        "split-half": "one half of the sessions against the other",
    }[result.method]
    usi = result.usi
    console.print(
        f"[bold]Human ceiling[/bold] USI {_usi_text(usi.value, usi.ci_low, usi.ci_high)}  "
        f"({how}; {result.n_episodes} sessions; {_interval_note(result.uncertainty)})  "
        f"definitions {result.definitions}"
    )
    console.print(CEILING_MEANING)
    paired = "/".join(str(n) for n in result.per_fold_tasks_paired)
    console.print(
        f"tasks paired: {result.n_tasks_paired}"
        + (f" (per fold {paired})" if len(result.per_fold_tasks_paired) > 1 else "")
    )
    if result.method == "leave-one-batch-out":
        console.print(
            "folds: "
            + ", ".join("n/a" if v is None else f"{v:.1f}" for v in result.per_fold)
            + " (each fold's features: usi score --ceiling --json, folds[i].features)"
        )
    if result.reason:
        console.print(result.reason)
    _header_lines(result.uncertainty, result.unsupported, console)
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
        "interval": "—"
        if ceiling.usi.ci_low is None or ceiling.usi.ci_high is None
        else f"{ceiling.usi.ci_low:.1f}–{ceiling.usi.ci_high:.1f}",
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
    title = f"{LEADERBOARD_TITLE} (definitions {board.definitions})"
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
            title=title,
            caption=legend if short else None,
        )

    def stacked(parts: list[list[str]]) -> RenderableType:
        tables = [
            _leaderboard_table(
                top,
                rows,
                part,
                short=True,
                title=title if i == 0 else None,
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


LEADERBOARD_DIVERGENCES = 3
"""Divergences per simulator under the leaderboard (one line each)."""


def render_leaderboard(board: Leaderboard, console: Console) -> None:
    """Simulators by USI, with the human ceiling as the reference row on top; then, per
    simulator, where it differs most from people."""
    console.print(leaderboard_renderable(board, console.width))
    console.print(CEILING_MEANING)
    lines = [
        f"  {r.simulator}: " + "; ".join(d.text for d in r.divergences[:LEADERBOARD_DIVERGENCES])
        for r in board.leaderboard
        if r.divergences
    ]
    if lines:
        console.print("Where each simulator differs most from people:")
        for line in lines:
            console.print(line)

"""The USI leaderboard: one row per simulator, people's own consistency as the top row."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from usi.report.context import ReportData
from usi.report.model import Section, Table
from usi.report.scores import (
    COMPONENT_LABELS,
    COMPONENTS,
    FIDELITY,
    SimScore,
)
from usi.report.style import HUMAN_COLOUR, OKABE_ITO, new_figure, render

HUMAN_ROW = "Humans (ceiling)"

GUIDE = (
    "Each row scores one simulator against all the human episodes pooled, with usi.metrics "
    "(definitions usi-v2). USI is 100 × the mean of the six components that could be computed "
    "(listed under 'Used'); its interval is a 95% bootstrap over tasks, and batch_std is the "
    "spread of the simulator's scores against each human batch alone (the paper's error bars; "
    "the bootstrap std when the humans have no batches). "
    "Components are shown on the same 0–100 scale: D1–D4 are the behavioural alignment of the "
    "four fingerprint dimensions (mean Sørensen–Dice of the two sides' pooled turn rates and "
    "episode means, over the features with enough cue turns to be supported), Outcome is "
    "1 − |ŝ − ĥ| of the task-paired success rates, Evaluation is 1 − the mean over survey "
    "dimensions of |S̄_sim − S̄_hum|, task-paired. The top row is the human ceiling: one human "
    "batch (or half of the sessions) scored against the rest — how well one group of people "
    "matches another. It is a reference, not an upper bound: a simulator can exceed it (an "
    "exact copy of the people scores 100). With three or more batches it is the mean over "
    "leave-one-batch-out folds: it has no bootstrap interval, and its batch_std is the spread "
    "of the folds; its paired_tasks counts the tasks paired in at least one fold. The last "
    "columns go beyond USI: the dispersion ratio (simulator spread of the features over the human "
    "spread; 1 is ideal, below 1 means too uniform users), coverage (share of the human behaviour "
    "range the simulator reaches; higher is better) and the AUC of a classifier telling simulator "
    "from human episodes (0.5 = indistinguishable, 1 = trivially told apart). The last table "
    "names, per simulator, the behaviours where it differs most from people, in words, ranked "
    "by the relative gap |simulator − people| / the larger of the two (shares below 10 points "
    "count as 10): what to fix first."
)


def _row(label: str, score: SimScore, rank: int | str) -> dict[str, object]:
    row: dict[str, object] = {
        "rank": rank,
        "simulator": label,
        "USI": score.usi,
        "ci_low": score.ci_low,
        "ci_high": score.ci_high,
        "batch_std": score.usi_std,
    }
    for key in COMPONENTS:
        value = score.components.get(key)
        row[key] = None if value is None else 100.0 * value
    for key in FIDELITY:
        row[key] = score.fidelity.get(key)
    row["episodes"] = score.n_episodes
    row["paired_tasks"] = score.n_tasks_paired
    row["used"] = " ".join(score.components_used)
    return row


def leaderboard_frame(data: ReportData) -> pd.DataFrame:
    """The leaderboard as a table: ceiling first, then simulators by USI."""
    rows = []
    if data.ceiling is not None:
        rows.append(_row(HUMAN_ROW, data.ceiling, "–"))
    for rank, name in enumerate(data.ranked(), start=1):
        rows.append(_row(name, data.scores[name], rank))
    frame = pd.DataFrame(rows)
    for col in ("USI", "ci_low", "ci_high", "batch_std", *COMPONENTS, *FIDELITY):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
    return frame


def _usi_figure(data: ReportData, frame: pd.DataFrame) -> Figure:
    sims = frame[frame["simulator"] != HUMAN_ROW].iloc[::-1]
    fig = new_figure(height=max(3.0, 0.32 * len(sims) + 1.9))
    ax = fig.add_subplot()
    y = np.arange(len(sims))
    usi = sims["USI"].to_numpy(dtype=float)
    low = sims["ci_low"].to_numpy(dtype=float)
    high = sims["ci_high"].to_numpy(dtype=float)
    has_ci = ~(np.isnan(low) | np.isnan(high))
    err = np.vstack([usi - low, high - usi])
    err[:, ~has_ci] = 0.0
    ax.errorbar(
        usi,
        y,
        xerr=np.clip(err, 0.0, None),
        fmt="o",
        color=OKABE_ITO["blue"],
        ecolor=OKABE_ITO["blue"],
        elinewidth=1.5,
        capsize=3,
        label="Simulator USI (interval)",
    )
    ax.set_yticks(y, [str(s) for s in sims["simulator"]])
    if data.ceiling is not None and data.ceiling.usi is not None:
        ax.axvline(
            data.ceiling.usi,
            color=HUMAN_COLOUR,
            linestyle="--",
            linewidth=1.5,
            label=f"Human ceiling ({data.ceiling.usi:.1f})",
        )
    finite = np.concatenate([usi[~np.isnan(usi)], low[has_ci], high[has_ci]])
    if data.ceiling is not None and data.ceiling.usi is not None:
        finite = np.append(finite, data.ceiling.usi)
    if finite.size:
        lo, hi = float(finite.min()), float(finite.max())
        pad = max(2.0, 0.08 * (hi - lo))
        ax.set_xlim(max(0.0, lo - pad), min(100.0, hi + pad))
    ax.set_xlabel("User-Sim Index (USI, 0–100; higher = more human-like)")
    ax.set_ylabel("Simulator")
    ax.set_title("USI leaderboard")
    ax.grid(axis="y", visible=False)
    fig.legend(loc="outside lower center", ncol=2)
    return fig


def _component_figure(frame: pd.DataFrame) -> Figure:
    matrix = frame[list(COMPONENTS)].to_numpy(dtype=float)
    labels = [str(s) for s in frame["simulator"]]
    fig = new_figure(height=max(2.6, 0.32 * len(labels) + 1.6))
    ax = fig.add_subplot()
    masked = np.ma.masked_invalid(matrix)
    image = ax.imshow(masked, cmap="cividis", vmin=0, vmax=100, aspect="auto")
    ax.set_xticks(range(len(COMPONENTS)), [COMPONENT_LABELS[c] for c in COMPONENTS])
    ax.tick_params(axis="x", labelrotation=20)
    ax.set_yticks(range(len(labels)), labels)
    ax.grid(False)
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            value = matrix[i, j]
            text = "n/a" if np.isnan(value) else f"{value:.0f}"
            colour = "black" if np.isnan(value) or value > 55 else "white"
            ax.text(j, i, text, ha="center", va="center", fontsize=9, color=colour)
    fig.colorbar(image, ax=ax, label="Component score (0–100)", shrink=0.8)
    ax.set_title("USI components per simulator (top row: human ceiling)")
    return fig


REPORT_DIVERGENCES = 3
"""Divergences per simulator in the report's table (``usi score --json`` has them all)."""


def divergence_frame(data: ReportData) -> pd.DataFrame:
    """Per simulator (ranked as the leaderboard), its top divergences from people in words."""
    rows = [
        {"simulator": name, "rank": rank, "divergence": text, "relative_gap": gap}
        for name in data.ranked()
        for rank, (text, gap) in enumerate(
            data.scores[name].divergences[:REPORT_DIVERGENCES], start=1
        )
    ]
    frame = pd.DataFrame(rows, columns=["simulator", "rank", "divergence", "relative_gap"])
    frame["relative_gap"] = frame["relative_gap"].astype("float64")
    return frame


def missing_notes(data: ReportData) -> list[str]:
    """One note per (component, reason), naming the simulators it applies to."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for name in data.ranked():
        for component, reason in data.scores[name].missing.items():
            grouped.setdefault((component, reason), []).append(name)
    notes = []
    for (component, reason), names in grouped.items():
        who = "all simulators" if len(names) == len(data.sims) else ", ".join(names)
        notes.append(
            f"{COMPONENT_LABELS.get(component, component)} not computed for {who}: {reason}."
        )
    return notes


def build(data: ReportData) -> Section:
    """The leaderboard section: figure of USI with intervals, component heatmap, table."""
    frame = leaderboard_frame(data)
    section = Section(key="leaderboard", title="USI leaderboard", guide=GUIDE)
    if data.ceiling is None:
        section.notes.append(f"No human ceiling row: {data.ceiling_note or 'not computable'}.")
    section.notes.extend(missing_notes(data))
    section.figures.append(
        render(
            _usi_figure(data, frame),
            "leaderboard_usi",
            "USI with its interval",
            "Dots: USI; bars: 95% task-bootstrap interval; dashed line: human ceiling.",
        )
    )
    section.figures.append(
        render(
            _component_figure(frame),
            "leaderboard_components",
            "The six USI components",
            "Each cell is one component on a 0–100 scale; n/a = not computable from the inputs.",
        )
    )
    section.tables.append(
        Table(
            "leaderboard",
            "Leaderboard",
            frame,
            digits=1,
            column_digits={"batch_std": 2, **dict.fromkeys(FIDELITY, 2)},
        )
    )
    divergences = divergence_frame(data)
    if len(divergences):
        section.tables.append(
            Table(
                "divergences",
                "Where each simulator differs most from people",
                divergences,
                digits=2,
            )
        )
    return section

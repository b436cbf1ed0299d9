"""The USI leaderboard: one row per simulator, people's own consistency as the top row."""

from __future__ import annotations

from typing import Any, cast

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
    if data.definitions == "tau-usi":
        return build_tau_usi(data)
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


# -- definitions tau-usi -------------------------------------------------------------------

TAU_COLUMNS: tuple[str, ...] = (
    "rank",
    "simulator",
    "USI",
    "usi_std",
    "ci_low",
    "ci_high",
    *COMPONENTS,
    "ece",
    "n_terms",
    "episodes",
    "tasks_per_batch",
    "published_rank",
)
PUBLISHED_SESSIONS = 495
"""The paper's human reference: 165 tasks × 3 batches (published rows, §10)."""

TAU_GUIDE = (
    "Definitions tau-usi: the paper's User-Sim Index, exactly as `usi score --definitions "
    "tau-usi` computes it (the paper's reference scorer, to 1e-9). Each simulator is scored "
    "against each human batch; USI is the mean over the batches and usi_std their population "
    "std (the paper's ± and error bars). ci_low–ci_high is usi's addition: a 95% bootstrap "
    "over tasks. Components on 0–100: D1–D4 are the paper's dimension scores over its 20 "
    "per-conversation features, outcome is 100 × (1 − ECE) with ECE the difficulty-binned "
    "calibration error of success (ece, 0–1), evaluation is Eval, the agreement of the "
    "simulator model's ratings of the human conversations with the people's own (absent "
    "without --sim NAME=FILE:RATINGS: USI then has 5 terms, n_terms). The top row is the "
    "human ceiling, every pair of human batches against each other. The figure also draws "
    f"the paper's published rows, measured on its {PUBLISHED_SESSIONS} human sessions: "
    "reference marks, comparable only when the signature shows the same human reference. "
    "Fidelity beyond USI (dispersion, coverage, discriminator AUC) is usi-v2's and has its "
    "own table."
)


def _tau_row(label: str, score: SimScore, rank: int | str) -> dict[str, object]:
    tau = score.tau
    assert tau is not None
    row: dict[str, object] = {
        "rank": rank,
        "simulator": label,
        "USI": score.usi,
        "usi_std": score.usi_std,
        "ci_low": score.ci_low,
        "ci_high": score.ci_high,
    }
    for key in COMPONENTS:
        value = score.components.get(key)
        row[key] = None if value is None else 100.0 * value
    row["ece"] = None if tau.paper_row.ece is None else tau.paper_row.ece[0]
    row["n_terms"] = tau.usi.n_terms
    row["episodes"] = score.n_episodes
    row["tasks_per_batch"] = " ".join(f"{b}:{n}" for b, n in tau.tasks.counted.items())
    row["published_rank"] = None if tau.published is None else tau.published.rank
    return row


def tau_usi_frame(data: ReportData) -> pd.DataFrame:
    """The tau-usi leaderboard: ceiling first, then simulators by USI (leaderboard.csv)."""
    rows = []
    if data.ceiling is not None:
        rows.append(_tau_row(HUMAN_ROW, data.ceiling, "–"))
    for rank, name in enumerate(data.ranked(), start=1):
        rows.append(_tau_row(name, data.scores[name], rank))
    frame = pd.DataFrame(rows, columns=list(TAU_COLUMNS))
    for col in ("USI", "usi_std", "ci_low", "ci_high", *COMPONENTS, "ece"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
    frame["published_rank"] = frame["published_rank"].astype("Int64")
    return frame


def published_frame() -> pd.DataFrame:
    """The paper's published rows (name, USI mean and std, source), best first."""
    from usi.metrics.tau_usi.score import published_rows

    rows = cast("list[dict[str, Any]]", published_rows()["simulators"])
    frame = pd.DataFrame(
        [
            {
                "name": r["name"],
                "usi": r["usi"][0],
                "usi_std": r["usi"][1],
                "source": r["source"],
            }
            for r in rows
        ]
    )
    frame["usi_std"] = pd.to_numeric(frame["usi_std"], errors="coerce").astype("float64")
    return frame.sort_values("usi", ascending=False, kind="stable").reset_index(drop=True)


def _tau_figure(data: ReportData, frame: pd.DataFrame) -> Figure:
    sims = frame[frame["simulator"] != HUMAN_ROW]
    published = published_frame()
    entries = [
        (float(v), str(n), float(sd), False)
        for n, v, sd in zip(sims["simulator"], sims["USI"], sims["usi_std"], strict=True)
        if not np.isnan(v)
    ] + [
        (float(v), f"{n} (published)", float(sd), True)
        for n, v, sd in zip(published["name"], published["usi"], published["usi_std"], strict=True)
    ]
    entries.sort(key=lambda e: e[0])
    fig = new_figure(height=max(3.0, 0.24 * len(entries) + 2.0))
    ax = fig.add_subplot()
    for is_published, colour, marker, label in (
        (False, OKABE_ITO["blue"], "o", "Simulator USI (± std over human batches)"),
        (
            True,
            "#999999",
            "D",
            f"Published (the paper, measured on {PUBLISHED_SESSIONS} human sessions)",
        ),
    ):
        points = [(i, e) for i, e in enumerate(entries) if e[3] is is_published]
        if not points:
            continue
        ax.errorbar(
            [e[0] for _, e in points],
            [i for i, _ in points],
            xerr=[0.0 if np.isnan(e[2]) else e[2] for _, e in points],
            fmt=marker,
            color=colour,
            ecolor=colour,
            markersize=6 if not is_published else 4,
            elinewidth=1.2,
            capsize=2,
            label=label,
        )
    ax.set_yticks(range(len(entries)), [e[1] for e in entries], fontsize=7)
    for tick, entry in zip(ax.get_yticklabels(), entries, strict=True):
        tick.set_color("#777777" if entry[3] else "black")
    if data.ceiling is not None and data.ceiling.usi is not None:
        ax.axvline(
            data.ceiling.usi,
            color=HUMAN_COLOUR,
            linestyle="--",
            linewidth=1.5,
            label=f"Human ceiling, this data ({data.ceiling.usi:.1f})",
        )
    ax.set_xlabel("User-Sim Index (tau-usi, 0–100; higher = more human-like)")
    ax.set_title("USI leaderboard (definitions tau-usi) among the published simulators")
    ax.grid(axis="y", visible=False)
    fig.legend(loc="outside lower center", ncol=1)
    return fig


def _fidelity_frame(data: ReportData) -> pd.DataFrame:
    rows = [
        {"simulator": name, **{k: data.analyses[name].fidelity.get(k) for k in FIDELITY}}
        for name in data.ranked()
    ]
    frame = pd.DataFrame(rows, columns=["simulator", *FIDELITY])
    for col in FIDELITY:
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
    return frame


def build_tau_usi(data: ReportData) -> Section:
    """The tau-usi leaderboard: figure among the published rows, components, table."""
    frame = tau_usi_frame(data)
    section = Section(key="leaderboard", title="USI leaderboard (tau-usi)", guide=TAU_GUIDE)
    if data.ceiling is None:
        section.notes.append(f"No tau-usi human ceiling: {data.ceiling_note or 'not computable'}.")
    section.notes.extend(missing_notes(data))
    section.figures.append(
        render(
            _tau_figure(data, frame),
            "leaderboard_usi",
            "USI among the published simulators",
            "Dots: this report's simulators, USI ± std over human batches; grey diamonds: the "
            f"paper's published rows (measured on its {PUBLISHED_SESSIONS} human sessions), "
            "reference marks only; dashed line: this data's human ceiling.",
        )
    )
    section.figures.append(
        render(
            _component_figure(frame),
            "leaderboard_components",
            "The six tau-usi components",
            "D1–D4, 100 × (1 − ECE) and Eval on a 0–100 scale; n/a = not computable "
            "(Eval needs --sim NAME=FILE:RATINGS).",
        )
    )
    section.tables.append(
        Table(
            "leaderboard",
            "Leaderboard (definitions tau-usi)",
            frame,
            digits=1,
            column_digits={"usi_std": 2, "ece": 3},
        )
    )
    section.tables.append(
        Table(
            "fidelity",
            "Fidelity beyond USI (definitions usi-v2)",
            _fidelity_frame(data),
            digits=2,
        )
    )
    return section

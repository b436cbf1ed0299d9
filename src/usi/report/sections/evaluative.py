"""The evaluative gap: do simulators rate the agent the way people do?"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from usi.core.survey import ITEMS_BY_ID, SURVEY_ITEM_IDS
from usi.report.context import ReportData, v2_title
from usi.report.model import Section, Table
from usi.report.sections.common import (
    draw_shares,
    has_survey,
    item_label,
    option_shares,
    survey_column,
)
from usi.report.style import DIVERGING_CMAP, new_figure, render

GUIDE = (
    "After every episode the user, person or simulator, answers the same 8-item survey; an "
    "answer at position i of k options scores i/(k−1). The first figure shows, per survey "
    "dimension, the share of answers on each option (dark = lowest, light = highest) for people "
    "and for the simulators in focus. Each simulator's label carries Δ, the simulator's mean score "
    "minus the humans' over the tasks both answered (each task weighted equally), and the "
    "relative over-estimation Δ / human mean, both from usi.metrics (spec §5, usi-v2). The "
    "heatmap gives the relative over-estimation for every simulator "
    "and dimension: orange cells are dimensions a simulator rates higher than people do, purple "
    "ones lower. A simulator that rates everything as excellent is a lenient, uninformative "
    "evaluator even if its conversations look human."
)


def evaluation_frame(data: ReportData, names: list[str]) -> pd.DataFrame:
    """Per simulator and survey item: human mean, simulator mean, Δ, relative over-estimation."""
    frames = []
    for name in names:
        evaluation = data.analyses[name].evaluation
        if evaluation.empty:
            continue
        part = evaluation.set_index("item").reindex(list(SURVEY_ITEM_IDS)).reset_index()
        part.insert(0, "simulator", name)
        part.insert(2, "dimension", part["item"].map(item_label))
        frames.append(part)
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True)


def _distribution_figure(data: ReportData, names: list[str], detail: pd.DataFrame) -> Figure:
    rows = ["Humans", *names]
    fig = new_figure(height=4 * (0.42 * len(rows) + 1.35))
    axes = fig.subplots(4, 2)
    for ax, item_id in zip(axes.flat, SURVEY_ITEM_IDS, strict=True):
        item = ITEMS_BY_ID[item_id]
        column = survey_column(item_id)
        shares = [option_shares(data.human[column], item)]
        labels = [f"Humans (n={int(data.human[column].notna().sum())})"]
        for name in names:
            table = data.sims[name]
            shares.append(option_shares(table[column], item))
            row = detail[(detail["simulator"] == name) & (detail["item"] == item_id)]
            label = name
            if not row.empty and pd.notna(row["delta"].iloc[0]):
                delta = float(row["delta"].iloc[0])
                relative = row["relative"].iloc[0]
                label += f"\nΔ {delta:+.2f}"
                if pd.notna(relative):
                    label += f" ({100 * float(relative):+.0f}%)"
            labels.append(label)
        draw_shares(ax, np.array(shares), labels, item)
        ax.set_title(item.dimension, fontsize=11)
    fig.supxlabel("Share of answers (0–1)")
    fig.suptitle("Survey answers per dimension: people vs simulators in focus", fontweight="bold")
    return fig


def _relative_figure(detail: pd.DataFrame, names: list[str]) -> Figure:
    matrix = np.array(
        [
            detail[detail["simulator"] == n]
            .set_index("item")
            .reindex(list(SURVEY_ITEM_IDS))["relative"]
            .to_numpy(dtype=float)
            for n in names
        ]
    )
    percent = 100 * matrix
    finite = np.abs(percent[np.isfinite(percent)])
    bound = float(max(10.0, np.percentile(finite, 95))) if finite.size else 10.0
    fig = new_figure(height=max(2.8, 0.3 * len(names) + 2.2))
    ax = fig.add_subplot()
    image = ax.imshow(
        np.ma.masked_invalid(percent), cmap=DIVERGING_CMAP, vmin=-bound, vmax=bound, aspect="auto"
    )
    ax.set_xticks(range(len(SURVEY_ITEM_IDS)), [item_label(i) for i in SURVEY_ITEM_IDS])
    ax.tick_params(axis="x", labelrotation=20)
    ax.set_yticks(range(len(names)), names)
    ax.grid(False)
    for i in range(percent.shape[0]):
        for j in range(percent.shape[1]):
            value = percent[i, j]
            text = "n/a" if np.isnan(value) else f"{value:+.0f}%"
            strong = np.isfinite(value) and abs(value) > 0.6 * bound
            ax.text(
                j,
                i,
                text,
                ha="center",
                va="center",
                fontsize=8,
                color="white" if strong else "black",
            )
    fig.colorbar(image, ax=ax, label="Relative over-estimation Δ / human mean (%)", shrink=0.8)
    ax.set_ylabel("Simulator (best USI on top)")
    ax.set_title("How much each simulator over- (orange) or under-rates (purple) the agent")
    return fig


def build(data: ReportData) -> Section:
    """The evaluative-gap section, or a note when survey answers are missing."""
    section = Section(key="evaluative", title=v2_title("The evaluative gap", data), guide=GUIDE)
    if (label := data.v2_label()) is not None:
        section.notes.append(label)
    if not has_survey(data.human):
        section.notes.append(
            "No survey answers in the human episodes: the evaluative gap cannot be shown."
        )
        return section
    silent = [n for n in data.ranked() if not has_survey(data.sims[n])]
    if silent:
        section.notes.append(f"No survey answers from: {', '.join(silent)} (left out).")
    answered = [n for n in data.ranked() if n not in silent]
    detail = evaluation_frame(data, answered)
    if detail.empty:
        section.notes.append("No simulator answered the survey: only people's answers exist.")
        return section
    focus = [n for n in data.focus if n in answered]
    section.figures.append(
        render(
            _distribution_figure(data, focus, detail),
            "evaluative_distributions",
            "Survey answer distributions, people vs simulators in focus",
            "Bars: share of answers per option, lowest option darkest. Δ = simulator − human mean.",
        )
    )
    with_detail = [n for n in answered if n in set(detail["simulator"])]
    section.figures.append(
        render(
            _relative_figure(detail, with_detail),
            "evaluative_overestimation",
            "Relative over-estimation per dimension, all simulators",
            "Cells: Δ / human mean in percent; orange = simulator rates higher than people.",
        )
    )
    focus_detail = detail[detail["simulator"].isin(focus)]
    section.tables.append(
        Table("evaluative_focus", "Evaluative gap, simulators in focus", focus_detail, 3)
    )
    section.tables.append(
        Table("evaluative_all", "Evaluative gap, all simulators", detail, 3, in_html=False)
    )
    return section

""" "Easy mode": does the agent look better when its users are simulators?"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from usi.metrics.outcome import task_success_rates
from usi.report.context import ReportData
from usi.report.model import Section, Table
from usi.report.sections.common import SUCCESS_REWARD, success
from usi.report.style import (
    HUMAN_COLOUR,
    OKABE_ITO,
    new_figure,
    render,
    series_colour,
    series_marker,
)

GUIDE = (
    "The same agent on the same tasks, once with people and once with each simulator. Success is "
    f"the rule-based reward (success when ≥ {SUCCESS_REWARD:g}); a task's success rate is the "
    "share of its episodes that succeeded. Only tasks with rewarded episodes on both sides are "
    "compared. The first figure gives, per simulator, the mean over those tasks of the agent's "
    "success rate with the simulator (coloured) and with people (black), joined by a line; the "
    "inflation is the difference in percentage points: positive means the simulator makes the "
    "agent look better than it is with real users. The second figure places every task of the "
    "simulators in focus at (success with people, success with the simulator): points above the "
    "diagonal are tasks the simulator makes easier. Points are jittered slightly so that tasks "
    "with the same rates stay visible."
)
#: Horizontal/vertical jitter of the per-task scatter (success-rate units).
JITTER = 0.015


def paired_rates(human: pd.DataFrame, sim: pd.DataFrame) -> pd.DataFrame:
    """Per task seen by both sides: human and simulator success rates."""
    h, s = task_success_rates(human), task_success_rates(sim)
    joined = pd.concat({"human": h, "simulator": s}, axis=1, join="inner")
    return joined.rename_axis("task").reset_index()


def inflation_frame(data: ReportData) -> pd.DataFrame:
    """Per simulator: paired tasks, mean success with people and with it, and the inflation."""
    rows = []
    for name in data.ranked():
        pairs = paired_rates(data.human, data.sims[name])
        if pairs.empty:
            rows.append({"simulator": name, "paired_tasks": 0})
            continue
        h, s = pairs["human"].to_numpy(), pairs["simulator"].to_numpy()
        rows.append(
            {
                "simulator": name,
                "paired_tasks": len(pairs),
                "success_with_people": float(h.mean()),
                "success_with_simulator": float(s.mean()),
                "inflation_pp": float(100 * (s.mean() - h.mean())),
                "tasks_easier": int((s > h).sum()),
                "tasks_harder": int((s < h).sum()),
            }
        )
    frame = pd.DataFrame(rows)
    for col in ("success_with_people", "success_with_simulator", "inflation_pp"):
        if col not in frame.columns:
            frame[col] = np.nan
    return frame


def _dumbbell_figure(frame: pd.DataFrame) -> Figure:
    frame = frame.dropna(subset=["inflation_pp"]).sort_values("inflation_pp")
    fig = new_figure(height=max(3.0, 0.32 * len(frame) + 2.0))
    ax = fig.add_subplot()
    y = np.arange(len(frame))
    people = 100 * frame["success_with_people"].to_numpy(dtype=float)
    simulated = 100 * frame["success_with_simulator"].to_numpy(dtype=float)
    ax.hlines(y, people, simulated, color="#999999", linewidth=2, zorder=1)
    ax.scatter(people, y, color=HUMAN_COLOUR, s=40, zorder=2, label="With people")
    ax.scatter(
        simulated,
        y,
        color=OKABE_ITO["vermillion"],
        marker="D",
        s=40,
        zorder=3,
        label="With the simulator",
    )
    labels = [
        f"{n} ({v:+.0f} pp)" for n, v in zip(frame["simulator"], frame["inflation_pp"], strict=True)
    ]
    ax.set_yticks(y, labels)
    ax.set_xlim(-2, 102)
    ax.set_xlabel("Agent success rate, mean over paired tasks (%)")
    ax.set_title("Agent success with simulated vs real users (inflation in parentheses)")
    ax.grid(axis="y", visible=False)
    fig.legend(loc="outside lower center", ncol=2)
    return fig


def _task_figure(data: ReportData, names: list[str]) -> Figure:
    fig = new_figure(height=6.0, width=9.0)
    ax = fig.add_subplot()
    rng = np.random.default_rng(0)
    for index, name in enumerate(names):
        pairs = paired_rates(data.human, data.sims[name])
        if pairs.empty:
            continue
        x = pairs["human"].to_numpy() + rng.uniform(-JITTER, JITTER, len(pairs))
        y = pairs["simulator"].to_numpy() + rng.uniform(-JITTER, JITTER, len(pairs))
        ax.scatter(
            100 * x,
            100 * y,
            color=series_colour(index),
            marker=series_marker(index),
            alpha=0.6,
            s=28,
            label=f"{name} ({len(pairs)} tasks)",
        )
    ax.plot([0, 100], [0, 100], color=HUMAN_COLOUR, linestyle="--", linewidth=1, label="Same rate")
    ax.set_xlim(-5, 105)
    ax.set_ylim(-5, 105)
    ax.set_aspect("equal")
    ax.set_xlabel("Task success rate with people (%)")
    ax.set_ylabel("Task success rate with the simulator (%)")
    ax.set_title("Per-task success, simulators in focus")
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=9)
    return fig


def build(data: ReportData) -> Section:
    """The easy-mode section, or a note when rewards are missing."""
    section = Section(
        key="easy_mode", title='"Easy mode": success with simulators vs people', guide=GUIDE
    )
    if success(data.human["reward"]).notna().sum() == 0:
        section.notes.append("No rewards in the human episodes: success rates cannot be compared.")
        return section
    frame = inflation_frame(data)
    unpaired = frame[frame["paired_tasks"] == 0]["simulator"].tolist()
    if unpaired:
        section.notes.append(
            f"No task with rewards on both sides for: {', '.join(map(str, unpaired))} (left out)."
        )
    paired = frame[frame["paired_tasks"] > 0]
    if paired.empty:
        return section
    weights = paired["paired_tasks"].to_numpy(dtype=float)
    overall = float(np.average(paired["inflation_pp"].to_numpy(dtype=float), weights=weights))
    section.notes.append(
        f"Overall inflation: {overall:+.1f} percentage points (mean over simulators, weighted by "
        f"paired tasks); {int((paired['inflation_pp'] > 0).sum())} of {len(paired)} simulators "
        "make the agent look better than people do."
    )
    section.figures.append(
        render(
            _dumbbell_figure(paired),
            "easy_mode_inflation",
            "Agent success with each simulator vs with people",
            "Black dot: with people; diamond: with the simulator; pp = percentage points.",
        )
    )
    focus = [n for n in data.focus if n in set(paired["simulator"])]
    if focus:
        section.figures.append(
            render(
                _task_figure(data, focus),
                "easy_mode_tasks",
                "Per-task success rates, simulators in focus",
                "Above the dashed diagonal: tasks the simulator makes easier than people do.",
            )
        )
    section.tables.append(Table("easy_mode", "Success rates and inflation per simulator", frame, 3))
    return section

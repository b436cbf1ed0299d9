"""The taxonomy view: where, feature by feature, simulators stop behaving like people."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from usi.fingerprint.features import DIMENSION_NAMES, DIMENSIONS, FEATURE_DIMENSION, FEATURES
from usi.metrics.significance import LARGE_EFFECT, SIGNIFICANCE_LEVEL
from usi.report.context import ReportData, v2_title
from usi.report.model import Section, Table
from usi.report.style import HUMAN_COLOUR, new_figure, render, series_colour, series_marker

#: Ratios beyond 2**±RATIO_CLIP are drawn at the edge (a zero on one side is infinite).
RATIO_CLIP = 4.0
TAXONOMY_COLUMNS: tuple[str, ...] = (
    "simulator",
    "dimension",
    "feature",
    "human_mean",
    "sim_mean",
    "dice",
    "p_adj",
    "effect",
    "large_gap",
)

GUIDE = (
    "For the simulators in focus (by default the best, the median and the worst by USI; choose "
    "others with --focus), every fingerprint feature is compared with the human value. The first "
    "figure places each feature at simulator mean / human mean on a log2 axis: 1× is the human "
    "value, 2× twice as much, 1/2 half as much; ratios beyond 16× or 1/16 (or with a zero on "
    "one side) are drawn at the edge. A filled "
    "marker flags a large gap as usi.metrics defines it: a two-sided Mann–Whitney U test on the "
    f"per-episode values, Holm-adjusted over the 19 features, p_adj < {SIGNIFICANCE_LEVEL}, and "
    f"|Cliff's delta| ≥ {LARGE_EFFECT}; a hollow marker is a gap that is not both. "
    "Features are grouped by dimension D1–D4. The heatmap gives the "
    "per-feature Sørensen–Dice similarity (1 = the same mean as people) for every simulator, so "
    "the dimension scores of the leaderboard can be traced back to single behaviours."
)


def log_ratio(sim: np.ndarray, human: np.ndarray) -> np.ndarray:
    """log2(sim / human), ±RATIO_CLIP where only one side is zero, 0 where both are."""
    sim = np.abs(sim.astype(float))
    human = np.abs(human.astype(float))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.log2(sim / human)
    ratio = np.where((sim == 0) & (human == 0), 0.0, ratio)
    return np.clip(ratio, -RATIO_CLIP, RATIO_CLIP)


def taxonomy_frame(data: ReportData, names: list[str]) -> pd.DataFrame:
    """Per-feature rows for ``names`` in FEATURES order, with the large-gap flag.

    Columns: simulator (name), dimension, feature, human_mean, sim_mean, dice, p_adj, effect,
    large_gap.
    """
    frames = []
    for name in names:
        features = data.analyses[name].features
        if features.empty:
            continue
        part = features.set_index("feature").reindex(list(FEATURES)).reset_index()
        part = part.rename(columns={"human": "human_mean", "simulator": "sim_mean"})
        part["dimension"] = part["feature"].map(FEATURE_DIMENSION)
        part.insert(0, "simulator", name)
        part["large_gap"] = part["large_gap"].fillna(False).astype(bool)
        frames.append(part[list(TAXONOMY_COLUMNS)])
    if not frames:
        return pd.DataFrame(columns=list(TAXONOMY_COLUMNS))
    return pd.concat(frames, ignore_index=True)


def wide_frame(focus: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """One row per feature: the human mean, then each simulator's mean marked * if flagged."""
    first = focus[focus["simulator"] == names[0]]
    wide = pd.DataFrame(
        {
            "dimension": first["dimension"].to_numpy(),
            "feature": first["feature"].to_numpy(),
            "human": [_number(v) for v in first["human_mean"]],
        }
    )
    for name in names:
        part = focus[focus["simulator"] == name]
        wide[name] = [
            _number(v) + (" *" if big else "")
            for v, big in zip(part["sim_mean"], part["large_gap"], strict=True)
        ]
    return wide


def _number(value: object) -> str:
    number = float(value)  # type: ignore[arg-type]
    return "–" if number != number else f"{number:.3f}"


def _feature_positions() -> tuple[dict[str, float], list[tuple[str, float, float]]]:
    """y position of every feature (top to bottom) with a gap between dimensions."""
    positions: dict[str, float] = {}
    spans: list[tuple[str, float, float]] = []
    y = 0.0
    for dim, feats in DIMENSIONS.items():
        start = y
        for feat in feats:
            positions[feat] = y
            y += 1.0
        spans.append((dim, start, y - 1.0))
        y += 0.8
    return positions, spans


def _ratio_figure(frame: pd.DataFrame, names: list[str]) -> Figure:
    positions, spans = _feature_positions()
    fig = new_figure(height=8.2)
    ax = fig.add_subplot()
    offsets = np.linspace(-0.25, 0.25, len(names)) if len(names) > 1 else np.zeros(1)
    for index, name in enumerate(names):
        part = frame[frame["simulator"] == name]
        y = np.array([positions[f] for f in part["feature"]]) + offsets[index]
        x = log_ratio(part["sim_mean"].to_numpy(), part["human_mean"].to_numpy())
        big = part["large_gap"].to_numpy(dtype=bool)
        colour, marker = series_colour(index), series_marker(index)
        ax.scatter(x[big], y[big], color=colour, marker=marker, s=55, label=name)
        ax.scatter(
            x[~big],
            y[~big],
            facecolors="white",
            edgecolors=colour,
            marker=marker,
            s=55,
            linewidths=1.5,
        )
    ax.axvline(0.0, color=HUMAN_COLOUR, linewidth=1.5, label="Human value")
    for dim, start, end in spans:
        ax.axhspan(
            start - 0.5, end + 0.5, color="#000000", alpha=0.04 if dim in ("D1", "D3") else 0
        )
        ax.text(
            1.01,
            (start + end) / 2,
            f"{dim}\n{DIMENSION_NAMES[dim]}",
            transform=ax.get_yaxis_transform(),
            va="center",
            fontsize=9,
        )
    ax.set_yticks(list(positions.values()), list(positions.keys()))
    ax.invert_yaxis()
    ax.set_xlim(-RATIO_CLIP - 0.3, RATIO_CLIP + 0.3)
    ticks = np.arange(-RATIO_CLIP, RATIO_CLIP + 1)
    ax.set_xticks(ticks, [f"{2**t:g}×" if t >= 0 else f"1/{2**-t:g}" for t in ticks])
    ax.set_xlabel("Simulator mean / human mean (log2 scale; 1× = human)")
    ax.set_title("Fingerprint features: simulators in focus against people")
    ax.scatter(
        [],
        [],
        facecolors="white",
        edgecolors="#555555",
        marker="o",
        s=55,
        linewidths=1.5,
        label="hollow: not a large gap",
    )
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=min(3, len(names) + 2))
    return fig


def _dice_figure(data: ReportData) -> Figure | None:
    names = [n for n in data.ranked() if not data.analyses[n].features.empty]
    if not names:
        return None
    matrix = np.array(
        [
            data.analyses[n]
            .features.set_index("feature")
            .reindex(list(FEATURES))["dice"]
            .to_numpy(dtype=float)
            for n in names
        ]
    )
    fig = new_figure(height=max(3.0, 0.3 * len(names) + 2.6))
    ax = fig.add_subplot()
    image = ax.imshow(np.ma.masked_invalid(matrix), cmap="cividis", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(FEATURES)), list(FEATURES), rotation=55, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.grid(False)
    edges = np.cumsum([len(f) for f in DIMENSIONS.values()])[:-1]
    for edge in edges:
        ax.axvline(edge - 0.5, color="white", linewidth=2.5)
    fig.colorbar(image, ax=ax, label="Sørensen–Dice similarity (1 = human mean)", shrink=0.8)
    ax.set_xlabel("Feature (grouped D1 | D2 | D3 | D4)")
    ax.set_ylabel("Simulator (best USI on top)")
    ax.set_title("Per-feature alignment with people, every simulator")
    return fig


def build(data: ReportData) -> Section:
    """The taxonomy section for the simulators in focus."""
    section = Section(key="taxonomy", title=v2_title("The taxonomy view", data), guide=GUIDE)
    if (label := data.v2_label()) is not None:
        section.notes.append(label)
    names = [n for n in data.focus if not data.analyses[n].features.empty]
    if not names:
        section.notes.append("No per-feature comparison available (no fingerprint features).")
        return section
    focus = taxonomy_frame(data, names)
    section.figures.append(
        render(
            _ratio_figure(focus, names),
            "taxonomy_ratios",
            "Per-feature gaps for the simulators in focus",
            "Filled = large significant gap; hollow = not flagged; 1× = human value.",
        )
    )
    dice = _dice_figure(data)
    if dice is not None:
        section.figures.append(
            render(
                dice,
                "taxonomy_dice",
                "Per-feature Dice similarity, all simulators",
                "Columns grouped by dimension D1–D4; rows ordered by USI.",
            )
        )
    counts = focus.groupby("simulator", sort=False)["large_gap"].sum()
    section.notes.append(
        "Large gaps flagged: "
        + "; ".join(f"{n}: {int(counts[n])} of {len(FEATURES)} features" for n in names)
        + "."
    )
    section.tables.append(
        Table(
            "taxonomy_focus_wide",
            "Feature means, people vs simulators in focus (* = large gap)",
            wide_frame(focus, names),
        )
    )
    section.tables.append(
        Table(
            "taxonomy_focus",
            "Per-feature comparison, simulators in focus",
            focus,
            3,
            in_html=False,
        )
    )
    section.tables.append(
        Table(
            "taxonomy_all",
            "Per-feature comparison, all simulators",
            taxonomy_frame(data, data.ranked()),
            3,
            in_html=False,
        )
    )
    return section

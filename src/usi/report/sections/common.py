"""Small helpers shared by the survey-based sections."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes

from usi.core.survey import ITEMS_BY_ID, SURVEY_ITEM_IDS, SurveyItem
from usi.metrics.outcome import SUCCESS_REWARD

__all__ = ["SUCCESS_REWARD"]


def survey_column(item_id: str) -> str:
    return f"survey_{item_id}"


def has_survey(frame: pd.DataFrame) -> bool:
    """True when at least one scaled survey answer is present."""
    cols = [survey_column(i) for i in SURVEY_ITEM_IDS if survey_column(i) in frame.columns]
    return bool(cols) and bool(frame[cols].notna().to_numpy().any())


def option_index(scores: pd.Series, item: SurveyItem) -> pd.Series:
    """Scores i/(k-1) back to option positions 0..k-1 (NaN dropped)."""
    values = pd.to_numeric(scores, errors="coerce").dropna()
    return (values * (len(item.options) - 1)).round().astype(int)


def option_shares(scores: pd.Series, item: SurveyItem) -> np.ndarray:
    """Share of answers on each option, lowest first (zeros when there are no answers)."""
    positions = option_index(scores, item)
    counts = np.bincount(positions.to_numpy(), minlength=len(item.options)).astype(float)
    total = counts.sum()
    return counts / total if total else counts


def option_colours(k: int) -> list[tuple[float, float, float, float]]:
    """k colours from dark (lowest option) to light (highest), on the CVD-safe cividis map."""
    cmap = colormaps["cividis"]
    return [cmap(v) for v in np.linspace(0.05, 0.95, k)]


def short_option(label: str, limit: int = 18) -> str:
    """A legend-sized version of an option label."""
    return label if len(label) <= limit else label[: limit - 1].rstrip() + "…"


def item_label(item_id: str) -> str:
    return ITEMS_BY_ID[item_id].dimension


def success(reward: pd.Series) -> pd.Series:
    """Binary success per episode (NaN where the reward is missing)."""
    values = pd.to_numeric(reward, errors="coerce")
    return (values >= SUCCESS_REWARD).astype("float64").where(values.notna())


def draw_shares(ax: Axes, shares: np.ndarray, row_labels: list[str], item: SurveyItem) -> None:
    """Stacked horizontal bars of answer shares (one row per group), lowest option darkest.

    The option legend sits under the axis (below the tick labels) so each panel explains
    its own scale: the items have 3 to 5 options with different wording.
    """
    colours = option_colours(len(item.options))
    y = np.arange(len(row_labels))
    left = np.zeros(len(row_labels))
    for k, option in enumerate(item.options):
        ax.barh(y, shares[:, k], left=left, color=colours[k], label=short_option(option))
        left += shares[:, k]
    ax.set_yticks(y, row_labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.tick_params(axis="x", labelsize=8)
    ax.grid(False)
    ax.legend(
        loc="upper center",
        bbox_to_anchor=(0.5, -0.14),
        ncol=3,
        fontsize=7.5,
        frameon=False,
        handlelength=1.0,
        columnspacing=0.8,
    )

"""Is a more capable model a more human-like user? USI against a general capability score."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import stats

from usi.report.context import ReportData
from usi.report.model import Section, Table
from usi.report.scores import TAU_STD_METHOD
from usi.report.style import new_figure, render, series_colour, series_marker

#: Confidence level of the band around each family's fitted mean (issue: 80%).
BAND_LEVEL = 0.80
#: A line through fewer points than this is not a fit worth drawing.
MIN_FIT_POINTS = 3
FIT_COLUMNS: tuple[str, ...] = (
    "family",
    "n",
    "slope_per_capability_unit",
    "intercept",
    "pearson_r",
    "p_value",
)

GUIDE = (
    "Each point is one simulator: its general capability score from the capability CSV "
    "(for example Arena Elo, in the CSV's own units) on the x-axis and its USI on the y-axis, "
    "with vertical error bars of ± one standard deviation of USI over the human batches (with a "
    "single human batch: of the task bootstrap, as a note then says). "
    "Colours and markers are model families. For every "
    f"family with at least {MIN_FIT_POINTS} simulators an ordinary least-squares line is drawn "
    f"with the {BAND_LEVEL:.0%} confidence band of the fitted mean (Student t); a flat or "
    "negative slope means that within that family a stronger model is not a more human-like "
    "user. The fit table gives slope, Pearson r and its p-value per family."
)


def fit_family(x: np.ndarray, y: np.ndarray, grid: np.ndarray) -> dict[str, Any]:
    """OLS of y on x with the confidence band of the mean at ``grid`` (level BAND_LEVEL)."""
    n = len(x)
    result = stats.linregress(x, y)
    fitted = result.intercept + result.slope * grid
    residuals = y - (result.intercept + result.slope * x)
    dof = n - 2
    s = float(np.sqrt(np.sum(residuals**2) / dof)) if dof > 0 else float("nan")
    sxx = float(np.sum((x - x.mean()) ** 2))
    t = float(stats.t.ppf(0.5 + BAND_LEVEL / 2, dof)) if dof > 0 else float("nan")
    half = t * s * np.sqrt(1.0 / n + (grid - x.mean()) ** 2 / sxx) if sxx > 0 else grid * np.nan
    return {
        "slope": float(result.slope),
        "intercept": float(result.intercept),
        "r": float(result.rvalue),
        "p_value": float(result.pvalue),
        "fitted": fitted,
        "low": fitted - half,
        "high": fitted + half,
    }


def capability_frame(data: ReportData) -> pd.DataFrame:
    """Capability rows joined with each simulator's USI and batch std."""
    assert data.capability is not None
    rows = []
    records: list[dict[str, Any]] = data.capability.to_dict("records")  # type: ignore[assignment]
    for record in records:
        score = data.scores[str(record["model"])]
        rows.append(
            {
                "model": record["model"],
                "family": record["family"],
                "capability": float(record["score"]),
                "USI": score.usi,
                "batch_std": score.usi_std,
                "std_method": score.uncertainty_method,
            }
        )
    frame = pd.DataFrame(rows)
    for col in ("USI", "batch_std"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
    return frame


def _figure(frame: pd.DataFrame, fits: dict[str, dict[str, Any]]) -> Figure:
    fig = new_figure(height=5.6)
    ax = fig.add_subplot()
    x_all = frame["capability"].to_numpy(dtype=float)
    span = float(x_all.max() - x_all.min()) or 1.0
    for index, (family, group) in enumerate(frame.groupby("family", sort=True)):
        colour, marker = series_colour(index), series_marker(index)
        x = group["capability"].to_numpy(dtype=float)
        y = group["USI"].to_numpy(dtype=float)
        yerr = group["batch_std"].to_numpy(dtype=float)
        has_err = not np.all(np.isnan(yerr))
        label = f"{family} (n={len(group)})" + ("" if family in fits else ", points only")
        ax.errorbar(
            x,
            y,
            yerr=np.nan_to_num(yerr) if has_err else None,
            fmt=marker,
            color=colour,
            markersize=7,
            capsize=3,
            label=label,
        )
        for xi, yi, name in zip(x, y, group["model"], strict=True):
            ax.annotate(
                str(name),
                (xi, yi),
                textcoords="offset points",
                xytext=(5, 4),
                fontsize=8,
                color="#333333",
            )
        fit = fits.get(str(family))
        if fit is not None:
            grid = np.linspace(x.min() - 0.03 * span, x.max() + 0.03 * span, 50)
            fit_now = fit_family(x, y, grid)
            ax.plot(grid, fit_now["fitted"], color=colour, linewidth=1.8)
            ax.fill_between(
                grid,
                fit_now["low"],
                fit_now["high"],
                color=colour,
                alpha=0.18,
                linewidth=0,
            )
    ax.set_xlabel("General capability (score from the capability CSV, e.g. Arena Elo)")
    ax.set_ylabel("USI (0–100)")
    ax.set_title(f"USI against general capability, per-family OLS with {BAND_LEVEL:.0%} bands")
    ax.legend(title="Family", loc="best")
    return fig


def build(data: ReportData) -> Section:
    """The capability section, or a note when no capability CSV was given."""
    section = Section(key="capability", title="USI against general capability", guide=GUIDE)
    if data.capability is None:
        section.notes.append(
            "No capability file given (--capability model,family,score CSV): figure omitted."
        )
        return section
    frame = capability_frame(data)
    unscored = frame[frame["USI"].isna()]["model"].tolist()
    if unscored:
        section.notes.append(f"No USI for {', '.join(map(str, unscored))}: not plotted.")
    frame = frame[frame["USI"].notna()].reset_index(drop=True)
    absent = [name for name in data.sims if name not in set(data.capability["model"])]
    if absent:
        section.notes.append(f"Not in the capability file, so not plotted: {', '.join(absent)}.")
    if frame["batch_std"].isna().all():
        section.notes.append("No USI standard deviation available: points carry no error bars.")
    elif (frame["std_method"] == TAU_STD_METHOD).any():
        section.notes.append(
            "Definitions tau-usi: USI is the mean over the human batches and the error bars "
            "its population std over them (the paper's); with one human batch they are 0."
        )
    elif (frame["std_method"] == "bootstrap").any():
        section.notes.append(
            "The human data has a single batch, so error bars are the std of the task "
            "bootstrap replicates instead of the std over batches."
        )
    fits: dict[str, dict[str, Any]] = {}
    fit_rows: list[dict[str, Any]] = []
    for family, group in frame.groupby("family", sort=True):
        x = group["capability"].to_numpy(dtype=float)
        y = group["USI"].to_numpy(dtype=float)
        if len(group) < MIN_FIT_POINTS or np.ptp(x) == 0:
            why = (
                f"{len(group)} simulator(s), fewer than {MIN_FIT_POINTS}"
                if len(group) < MIN_FIT_POINTS
                else "all at the same capability score"
            )
            section.notes.append(f"Family {family}: {why}; points only, no fit.")
            fit_rows.append({"family": family, "n": len(group)})
            continue
        fit = fit_family(x, y, x)
        fits[str(family)] = fit
        fit_rows.append(
            {
                "family": family,
                "n": len(group),
                "slope_per_capability_unit": fit["slope"],
                "intercept": fit["intercept"],
                "pearson_r": fit["r"],
                "p_value": fit["p_value"],
            }
        )
    if frame.empty:
        section.notes.append("No simulator of the capability file has a USI: figure omitted.")
        return section
    section.figures.append(
        render(
            _figure(frame, fits),
            "capability_usi",
            "USI against general capability",
            f"Points: simulators (error bars: ± batch std); lines: per-family OLS with "
            f"{BAND_LEVEL:.0%} confidence band of the mean.",
        )
    )
    section.tables.append(Table("capability", "USI and capability per simulator", frame, 2))
    fit_table = pd.DataFrame(fit_rows, columns=list(FIT_COLUMNS))
    section.tables.append(Table("capability_fits", "Per-family linear fits", fit_table, 4))
    return section

"""Reward vs human judgment (spec §7): does the rule-based reward see what people see?"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy.stats import chi2_contingency
from scipy.stats.contingency import association
from sklearn.metrics import mutual_info_score

from usi.core.survey import ITEMS_BY_ID, SURVEY_ITEM_IDS
from usi.report.context import ReportData
from usi.report.model import Section, Table
from usi.report.sections.common import (
    SUCCESS_REWARD,
    draw_shares,
    has_survey,
    option_index,
    success,
    survey_column,
)
from usi.report.style import new_figure, render

GUIDE = (
    "Human episodes only. Each episode's rule-based reward is made binary (success when the "
    f"reward is ≥ {SUCCESS_REWARD:g}), and for each of the 8 survey dimensions the participants' "
    "answers are compared between failed and successful episodes: the bars show the share of "
    "answers on each option (dark = lowest) in each group. The association statistics come "
    "from the reward × answer contingency table of each dimension: Cramér's V "
    "(scipy.stats.contingency.association; 0 = no association, 1 = the answer is determined by "
    "the reward), the mutual information in nats (sklearn.metrics.mutual_info_score) and the "
    "p-value of Pearson's chi-square test of independence (scipy.stats.chi2_contingency, no "
    "continuity correction; options nobody chose are dropped). Small V and MI with large "
    "p-values mean the reward captures none of that dimension of the participants' judgment."
)


def association_row(outcome: pd.Series, answers: pd.Series) -> dict[str, float | int]:
    """Cramér's V, mutual information (nats) and chi-square p of reward × answer."""
    table = pd.crosstab(outcome, answers)
    table = table.loc[table.sum(axis=1) > 0, table.sum(axis=0) > 0]
    row: dict[str, float | int] = {"n": len(answers)}
    if table.shape[0] < 2 or table.shape[1] < 2:
        row.update(cramers_v=np.nan, mutual_information=np.nan, chi2=np.nan, p_value=np.nan)
        return row
    counts = table.to_numpy()
    chi2, p_value, _, _ = chi2_contingency(counts, correction=False)
    row.update(
        cramers_v=float(association(counts, method="cramer", correction=False)),
        mutual_information=float(mutual_info_score(outcome, answers)),
        chi2=float(chi2),
        p_value=float(p_value),
    )
    return row


def association_frame(human: pd.DataFrame) -> pd.DataFrame:
    """One row per survey dimension with group means and the association statistics."""
    outcome_all = success(human["reward"])
    rows = []
    for item_id in SURVEY_ITEM_IDS:
        item = ITEMS_BY_ID[item_id]
        column = survey_column(item_id)
        keep = outcome_all.notna() & human[column].notna()
        outcome = outcome_all[keep].astype(int)
        answers = option_index(human.loc[keep, column], item)
        scores = human.loc[keep, column]
        row: dict[str, object] = {
            "item": item_id,
            "dimension": item.dimension,
            "n_failed": int((outcome == 0).sum()),
            "n_succeeded": int((outcome == 1).sum()),
            "mean_score_failed": float(scores[outcome == 0].mean())
            if (outcome == 0).any()
            else np.nan,
            "mean_score_succeeded": float(scores[outcome == 1].mean())
            if (outcome == 1).any()
            else np.nan,
        }
        stats = association_row(outcome, answers)
        row.update({k: v for k, v in stats.items() if k != "n"})
        rows.append(row)
    return pd.DataFrame(rows)


def _figure(human: pd.DataFrame, stats: pd.DataFrame) -> Figure:
    outcome_all = success(human["reward"])
    fig = new_figure(height=9.0)
    axes = fig.subplots(4, 2)
    for ax, item_id in zip(axes.flat, SURVEY_ITEM_IDS, strict=True):
        item = ITEMS_BY_ID[item_id]
        column = survey_column(item_id)
        keep = outcome_all.notna() & human[column].notna()
        groups = [("Failed (reward 0)", 0.0), ("Succeeded (reward 1)", 1.0)]
        shares, labels = [], []
        for label, value in groups:
            scores = human.loc[keep & (outcome_all == value), column]
            counts = np.bincount(
                option_index(scores, item).to_numpy(), minlength=len(item.options)
            ).astype(float)
            shares.append(counts / counts.sum() if counts.sum() else counts)
            labels.append(f"{label}\nn={int(counts.sum())}")
        draw_shares(ax, np.array(shares), labels, item)
        row = stats[stats["item"] == item_id].iloc[0]
        if pd.notna(row["cramers_v"]):
            subtitle = (
                f"V={row['cramers_v']:.2f}, MI={row['mutual_information']:.3f}, "
                f"p={row['p_value']:.2g}"
            )
        else:
            subtitle = "association undefined (one group or one option)"
        ax.set_title(f"{item.dimension}\n{subtitle}", fontsize=10)
    fig.supxlabel("Share of answers (0–1)")
    fig.suptitle("People's ratings split by the rule-based reward", fontweight="bold")
    return fig


def build(data: ReportData) -> Section:
    """The reward-vs-judgment section, or a note when rewards or surveys are missing."""
    section = Section(key="reward", title="Reward vs human judgment", guide=GUIDE)
    human = data.human
    if not has_survey(human):
        section.notes.append("No survey answers in the human episodes: nothing to compare.")
        return section
    outcome = success(human["reward"])
    if outcome.notna().sum() == 0:
        section.notes.append("No rewards in the human episodes: nothing to split by.")
        return section
    if outcome.dropna().nunique() < 2:
        which = "succeeded" if outcome.dropna().iloc[0] == 1 else "failed"
        section.notes.append(
            f"Every human episode with a reward {which}: no split, no association to measure."
        )
        return section
    stats = association_frame(human)
    section.figures.append(
        render(
            _figure(human, stats),
            "reward_vs_judgment",
            "Participants' ratings by binary reward",
            "Per dimension: answers of failed vs successful episodes, with Cramér's V, MI, p.",
        )
    )
    section.tables.append(
        Table("reward_association", "Association of reward and ratings", stats, 3)
    )
    strongest = stats.sort_values("cramers_v", ascending=False).iloc[0]
    if pd.notna(strongest["cramers_v"]):
        section.notes.append(
            f"Strongest association: {strongest['dimension']} (Cramér's V "
            f"{strongest['cramers_v']:.2f}, p = {strongest['p_value']:.2g})."
        )
    return section

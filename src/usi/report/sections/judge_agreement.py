"""LLM as evaluator: a judge model's survey answers against the participants' own."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from usi.core.survey import SURVEY_ITEM_IDS
from usi.metrics.evaluation import judge_agreement
from usi.metrics.models import JudgeAgreement
from usi.report.context import ReportData
from usi.report.model import Section, Table
from usi.report.sections.common import item_label
from usi.report.style import HUMAN_COLOUR, OKABE_ITO, new_figure, render

GUIDE = (
    "When the human episodes carry an LLM judge's answers to the same survey about the same "
    "conversation (written by `usi judge`), the judge is compared with the participant episode "
    "by episode (usi.metrics.judge_agreement). Scores are on the 0–1 survey scale. For each "
    "dimension the figure shows the participants' mean (black) and the judge's mean (orange) "
    "over the episodes both answered; Δ = judge − participant, so a positive Δ is a judge more "
    "lenient than the people who had the conversation. The paired MAE is the mean absolute "
    "difference per episode; 0 would be a judge that always answers as the participant did. "
    "The study found judges lenient on interaction quality and conservative on task success."
)


def agreement_frame(agreement: JudgeAgreement) -> pd.DataFrame:
    """One row per dimension with both means, Δ, paired MAE and the number of episodes."""
    rows = [
        {
            "item": item,
            "dimension": item_label(item),
            "participant_mean": gap.participant,
            "judge_mean": gap.judge,
            "delta": gap.delta,
            "paired_mae": gap.mae,
            "n_episodes": gap.n_episodes,
        }
        for item in SURVEY_ITEM_IDS
        if (gap := agreement.dimensions.get(item)) is not None
    ]
    return pd.DataFrame(rows)


def _figure(frame: pd.DataFrame) -> Figure:
    fig = new_figure(height=0.5 * len(frame) + 2.0)
    ax = fig.add_subplot()
    y = np.arange(len(frame))
    people = frame["participant_mean"].to_numpy(dtype=float)
    judge = frame["judge_mean"].to_numpy(dtype=float)
    ax.hlines(y, people, judge, color="#999999", linewidth=2, zorder=1)
    ax.scatter(people, y, color=HUMAN_COLOUR, s=45, zorder=2, label="Participant (own answer)")
    ax.scatter(judge, y, color=OKABE_ITO["orange"], marker="D", s=45, zorder=3, label="LLM judge")
    labels = [
        f"{d}\nΔ {delta:+.2f}, MAE {mae:.2f}"
        for d, delta, mae in zip(
            frame["dimension"], frame["delta"], frame["paired_mae"], strict=True
        )
    ]
    ax.set_yticks(y, labels, fontsize=9)
    ax.invert_yaxis()
    ax.set_xlim(-0.02, 1.02)
    ax.set_xlabel("Mean survey score (0 = lowest option, 1 = highest)")
    ax.set_title("LLM judge vs participants on the same conversations")
    ax.grid(axis="y", visible=False)
    fig.legend(loc="outside lower center", ncol=2)
    return fig


def build(data: ReportData) -> Section:
    """The judge section, or a note when no episode carries judge answers."""
    section = Section(key="judge", title="LLM as evaluator", guide=GUIDE)
    agreement = judge_agreement(data.human)
    if agreement is None:
        section.notes.append(
            "No human episode carries both the participant's and a judge's survey answers "
            "(run `usi judge` to add them): section omitted."
        )
        return section
    frame = agreement_frame(agreement)
    section.notes.append(
        f"Overall paired MAE {agreement.mae:.3f} over {agreement.n_pairs} answer pairs "
        f"from {agreement.n_episodes} episodes."
    )
    section.figures.append(
        render(
            _figure(frame),
            "judge_vs_participants",
            "LLM judge vs participants",
            "Black: participants' mean; orange: the judge's mean on the same episodes.",
        )
    )
    section.tables.append(Table("judge_agreement", "Judge vs participants per dimension", frame, 3))
    return section

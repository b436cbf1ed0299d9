"""tau-usi's divergences in words: the paper's features, success and ratings, side by side.

The rows compare the simulator's kept conversations with the people's kept sessions on the
same tasks (every batch pooled): the behaviour behind D1–D4, the success behind the ECE and,
with ratings, the simulator model's ratings of the human conversations against the people's
own answers (Eval). Ranking and wording are usi's own (:mod:`usi.metrics.divergences`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from usi.core.survey import SURVEY_ITEMS
from usi.inputs.frame import SURVEY_COLUMNS
from usi.metrics.divergences import DivergenceRow, build_divergences
from usi.metrics.models import Divergence, DivergenceUnit
from usi.metrics.tau_usi.evaluation import Ratings
from usi.metrics.tau_usi.sides import HumanSide, SimulatorSide

PHRASES: dict[str, tuple[str, DivergenceUnit]] = {
    "politeness_rate": ("polite", "% of turns"),
    "short_msg_rate": ("writes short turns (≤ 3 words)", "% of turns"),
    "formality_rate": ("uses an em or en dash", "% of turns"),
    "ack_only_rate": ("answers with a bare acknowledgment", "% of turns"),
    "verbosity_cv": ("varies its turn length (CV)", "number"),
    "repeat_rate": ("repeats a phrase more than 10 times", "% of conversations"),
    "id_confuse_rate": ("talks like the agent", "% of conversations"),
    "info_frontload": ("puts into its first two turns", "% of words"),
    "id_density": ("gives identifiers per turn:", "number"),
    "user_words_per_turn": ("writes words per turn:", "number"),
    "opening_words": ("opens with words:", "number"),
    "uncertainty_rate": ("hedges", "% of turns"),
    "certainty_rate": ("sounds certain", "% of turns"),
    "pushback_q_rate": ("pushes back", "% of turns"),
    "clarify_q_rate": ("asks what the agent means", "% of turns"),
    "info_q_rate": ("asks for information", "% of turns"),
    "emotion_rate": ("shows emotion", "% of turns"),
    "accusation_rate": ("blames", "% of turns"),
    "pivot_rate": ("changes course", "% of turns"),
}
"""The paper's feature → the phrase its sentence completes, and the unit people read."""


def _mean(table: pd.DataFrame, rows: list[int], column: str) -> float | None:
    values = table[column].to_numpy(np.float64)[rows]
    values = values[~np.isnan(values)]
    return float(values.mean()) if len(values) else None


def tau_usi_divergences(
    table: pd.DataFrame,
    sim: SimulatorSide,
    human: HumanSide,
    ratings: Ratings | None,
) -> list[Divergence]:
    """Ranked divergences of one simulator from the people (``table``: both sides' rows)."""
    human_rows = sorted({r for batch in human.rows for r in batch.values()})
    sim_rows = sorted({r for run in sim.row_runs for r in run.values()})
    rows: list[DivergenceRow] = []
    if sim_rows and human_rows:
        for name, (phrase, unit) in PHRASES.items():
            s, h = _mean(table, sim_rows, name), _mean(table, human_rows, name)
            if s is not None and h is not None:
                rows.append(DivergenceRow(name, phrase, s, h, unit))
    sim_success = [v for run in sim.ece_runs.values() for v in run.values()]
    human_success = [v for batch in human.rewards for v in batch.values()]
    if sim_success and human_success:
        rows.append(
            DivergenceRow(
                "task_success",
                "succeeds",
                float(np.mean(sim_success)),
                float(np.mean(human_success)),
                "% of tasks",
                "outcome",
            )
        )
    if ratings:
        rows.extend(_rating_rows(table, human, ratings))
    return build_divergences(rows)


def _rating_rows(
    table: pd.DataFrame, human: HumanSide, ratings: Mapping[tuple[int, str], Mapping[str, object]]
) -> list[DivergenceRow]:
    positions = table[list(SURVEY_COLUMNS)].to_numpy(np.float64)
    out = []
    for column, item in enumerate(SURVEY_ITEMS):
        rated, own = [], []
        for batch, rows in zip(human.batches, human.rows, strict=True):
            for key, row in rows.items():
                answer = ratings.get((batch, key), {}).get(item.id)
                position = positions[row, column]
                if isinstance(answer, str) and answer in item.options and not np.isnan(position):
                    rated.append(item.score(answer))
                    own.append(item.score_of_position(float(position)))
        if rated:
            out.append(
                DivergenceRow(
                    item.id,
                    f"rates {item.dimension.lower()}",
                    float(np.mean(rated)),
                    float(np.mean(own)),
                    "score",
                    "evaluation",
                )
            )
    return out

"""Evaluative alignment (spec §5): does the simulator rate the agent the way people do?

Both sides answer the same 8-item survey; answers are scored i/(k−1). Comparing per task
and dimension (not pooled) keeps a simulator that happens to run easier tasks from looking
better calibrated than it is. The judge comparison applies the same yardstick to an LLM
reading a person's conversation, on the very same conversations.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from usi.data.survey import SURVEY_ITEM_IDS
from usi.data.table import JUDGE_COLUMNS, SURVEY_COLUMNS
from usi.metrics.table import task_keys


@dataclass(frozen=True)
class DimensionGap:
    """One survey dimension: mean scores of both sides and the simulator's over-estimation.

    ``relative_overestimation`` is Δ / human mean (None when the human mean is 0).
    """

    human: float
    simulator: float
    delta: float
    relative_overestimation: float | None
    n_tasks: int


@dataclass(frozen=True)
class EvaluativeAlignment:
    """1 − MAE over (task, dimension) pairs answered on both sides, or why it is missing."""

    value: float | None
    mae: float | None
    n_pairs: int
    n_tasks: int
    dimensions: dict[str, DimensionGap] = field(default_factory=dict)
    reason: str | None = None


def task_survey_means(table: pd.DataFrame) -> pd.DataFrame:
    """Mean survey score per task key (rows) and dimension (columns); NaN where unanswered."""
    keys = task_keys(table)
    scores = table.loc[keys.notna(), list(SURVEY_COLUMNS)]
    scores.columns = list(SURVEY_ITEM_IDS)
    return scores.groupby(keys[keys.notna()]).mean()


def _relative(delta: float, base: float) -> float | None:
    return None if base == 0.0 else delta / base


def evaluative_alignment(simulator: pd.DataFrame, human: pd.DataFrame) -> EvaluativeAlignment:
    """Evaluative alignment of a simulator's table against the humans' (spec §5).

    Per dimension, Δ and both means are averaged over the same paired tasks the MAE uses,
    so the detail explains the score rather than describing different data.
    """
    for side, table in (("simulator", simulator), ("human", human)):
        if not table[list(SURVEY_COLUMNS)].notna().to_numpy().any():
            return EvaluativeAlignment(None, None, 0, 0, reason=f"no {side} survey answers")
    sim_means, hum_means = task_survey_means(simulator), task_survey_means(human)
    tasks = sim_means.index.intersection(hum_means.index)
    sim = sim_means.loc[tasks]
    hum = hum_means.loc[tasks]
    both = sim.notna() & hum.notna()
    n_pairs = int(both.to_numpy().sum())
    if n_pairs == 0:
        return EvaluativeAlignment(
            None, None, 0, 0, reason="no task has survey answers on both sides"
        )
    gaps = (sim - hum).where(both)
    mae = float(np.nanmean(np.abs(gaps.to_numpy())))
    dimensions: dict[str, DimensionGap] = {}
    for dim in SURVEY_ITEM_IDS:
        mask = both[dim]
        if not mask.any():
            continue
        h = float(hum.loc[mask, dim].mean())
        s = float(sim.loc[mask, dim].mean())
        dimensions[dim] = DimensionGap(h, s, s - h, _relative(s - h, h), int(mask.sum()))
    n_tasks = int(both.any(axis=1).sum())
    return EvaluativeAlignment(1.0 - mae, mae, n_pairs, n_tasks, dimensions)


@dataclass(frozen=True)
class JudgeGap:
    """One dimension rated by the participant and by the judge on the same conversations."""

    participant: float
    judge: float
    delta: float
    mae: float
    n_episodes: int


@dataclass(frozen=True)
class JudgeAgreement:
    """How an LLM judge's answers differ from the user's own, conversation by conversation.

    ``delta`` = judge − participant: positive where the judge is more lenient (the paper:
    lenient on interaction quality, conservative on task success).
    """

    mae: float
    n_episodes: int
    n_pairs: int
    dimensions: dict[str, JudgeGap]


def judge_agreement(table: pd.DataFrame) -> JudgeAgreement | None:
    """Paired MAE and per-dimension Δ where episodes carry both survey and judge answers.

    None when no episode has both (no ``usi judge`` run on this data).
    """
    own = table[list(SURVEY_COLUMNS)].to_numpy(dtype=np.float64)
    judged = table[list(JUDGE_COLUMNS)].to_numpy(dtype=np.float64)
    both = ~np.isnan(own) & ~np.isnan(judged)
    if not both.any():
        return None
    diff = np.where(both, judged - own, np.nan)
    dimensions: dict[str, JudgeGap] = {}
    for j, dim in enumerate(SURVEY_ITEM_IDS):
        mask = both[:, j]
        if not mask.any():
            continue
        p, q = own[mask, j], judged[mask, j]
        dimensions[dim] = JudgeGap(
            float(p.mean()),
            float(q.mean()),
            float((q - p).mean()),
            float(np.abs(q - p).mean()),
            int(mask.sum()),
        )
    return JudgeAgreement(
        mae=float(np.nanmean(np.abs(diff))),
        n_episodes=int(both.any(axis=1).sum()),
        n_pairs=int(both.sum()),
        dimensions=dimensions,
    )

"""The LLM judge against the user's own survey answers, on the very same conversations.

The evaluative component itself (spec §5, usi-v2) is task-paired and aggregate:
:func:`usi.metrics.components.paired_survey`. This module applies the survey yardstick to
an LLM reading a person's conversation (``usi judge``), episode by episode.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from usi.core.survey import SURVEY_ITEM_IDS, goodness_matrix
from usi.inputs.frame import JUDGE_COLUMNS, SURVEY_COLUMNS
from usi.metrics.models import JudgeAgreement, JudgeGap

__all__ = ["JudgeAgreement", "JudgeGap", "judge_agreement"]


def judge_agreement(table: pd.DataFrame) -> JudgeAgreement | None:
    """Paired MAE and per-dimension Δ where episodes carry both survey and judge answers.

    None when no episode has both (no ``usi judge`` run on this data).
    """
    own = goodness_matrix(table[list(SURVEY_COLUMNS)].to_numpy(dtype=np.float64))
    judged = goodness_matrix(table[list(JUDGE_COLUMNS)].to_numpy(dtype=np.float64))
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
            participant=float(p.mean()),
            judge=float(q.mean()),
            delta=float((q - p).mean()),
            mae=float(np.abs(q - p).mean()),
            n_episodes=int(mask.sum()),
        )
    return JudgeAgreement(
        mae=float(np.nanmean(np.abs(diff))),
        n_episodes=int(both.any(axis=1).sum()),
        n_pairs=int(both.sum()),
        dimensions=dimensions,
    )

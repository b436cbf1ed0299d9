"""The paper's Eval term (spec §10.6): the simulator's model rates the *human* conversations.

Per human batch, over its kept sessions that have a rating (sorted by task key), a session's
agreement is 100 · (1 − mean |h − m|) over the fields the person answered, each answer on the
goodness scale (:meth:`usi.core.survey.SurveyItem.score`). A field the rater left out or
answered off the scale gets a uniformly random level of that field from
``numpy.random.default_rng(42)`` — one generator for the whole computation, drawn in the
order batches → sessions → fields (the reference's ``compute_model_eval_agreement``, quirk
included: the fill penalises a non-answer by chance, not by a fixed amount).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from usi.core.survey import SURVEY_ITEMS
from usi.metrics.tau_usi.sides import HumanSide

EVAL_SEED = 42
"""The reference's seed for filling unanswered rating fields."""

Ratings = Mapping[tuple[int, str], Mapping[str, object]]
"""(human batch, task key) → the rater's answers, field id → option label (any value)."""


def _human_score(positions: object, column: int) -> float | None:
    value = positions[column] if isinstance(positions, list | tuple) else None
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return SURVEY_ITEMS[column].score_of_position(float(value))


def session_agreements(
    human: HumanSide,
    survey_positions: Mapping[int, list[float]],
    ratings: Ratings,
) -> list[list[tuple[str, float]]]:
    """Per batch, (task key, agreement) of each rated session, in the reference's order.

    ``survey_positions``: table row → the person's 8 answer positions (NaN unanswered).
    """
    rng = np.random.default_rng(EVAL_SEED)
    out: list[list[tuple[str, float]]] = []
    for batch, rows in zip(human.batches, human.rows, strict=True):
        scores: list[tuple[str, float]] = []
        for key in sorted(k for k in rows if (batch, k) in ratings):
            rated = ratings[(batch, key)]
            diffs = []
            for column, item in enumerate(SURVEY_ITEMS):
                h = _human_score(survey_positions[rows[key]], column)
                if h is None:
                    continue
                answer = rated.get(item.id)
                if isinstance(answer, str) and answer in item.options:
                    m = item.score(answer)
                else:
                    m = item.rescale(float(rng.choice(list(item.levels))))
                diffs.append(abs(h - m))
            if diffs:
                scores.append((key, (1.0 - float(np.mean(diffs))) * 100))
        out.append(scores)
    return out

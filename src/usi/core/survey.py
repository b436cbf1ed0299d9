"""The post-interaction survey instrument (spec §5), shared by people and simulators.

Options are listed in the order the study showed them. Two numbers belong to an answer:

- its *position* i/(k-1) on the form (what the report's answer distributions draw), and
- its *goodness* (spec §5 and §10.6): the paper's ordinal map (``FIELD_ORDINAL`` in the
  reference's ``agents/tau_usi/utils.py``, sunnweiwei/OdysSim, Apache-2.0), rescaled to
  [0, 1] by (v − lo)/(hi − lo). Both definition sets score answers by goodness: the form's
  order put "No - Due to a policy issue, which the agent clearly explained" lowest, so
  failed episodes out-rated successful ones; and "About right" / "Low effort" are the best
  answers to the two questions whose extremes are both bad.

Keeping the instrument in one place means the study web app, the simulator's self-report
and the metrics all read the same labels the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class SurveyItem:
    """One scaled survey question."""

    id: str
    question: str
    options: tuple[str, ...]
    dimension: str
    goodness: tuple[int, ...]
    """The paper's ordinal value of each option, in the order of ``options``."""

    def position(self, label: str) -> float:
        """Where ``label`` sits on the form, mapped to [0, 1] (first option 0, last 1)."""
        return self.options.index(label) / (len(self.options) - 1)

    def ordinal(self, label: str) -> int:
        """The paper's ordinal value of ``label`` (§10.6)."""
        return self.goodness[self.options.index(label)]

    @property
    def levels(self) -> tuple[int, ...]:
        """The distinct ordinal values, ascending (the reference draws unanswered fields here)."""
        return tuple(sorted(set(self.goodness)))

    def rescale(self, value: float) -> float:
        """An ordinal value mapped to [0, 1] by (v − lo)/(hi − lo), as the reference does."""
        lo, hi = min(self.goodness), max(self.goodness)
        return (value - lo) / (hi - lo) if hi > lo else 1.0

    def score(self, label: str) -> float:
        """How good ``label`` is, in [0, 1]: the goodness scale of spec §5 / §10.6."""
        return self.rescale(self.ordinal(label))

    def score_of_position(self, position: float) -> float:
        """:meth:`score` of the option at ``position`` (as :meth:`position` gives it)."""
        return self.rescale(self.goodness[round(position * (len(self.options) - 1))])


@dataclass(frozen=True)
class FreeTextItem:
    """An optional open question; never scored."""

    id: str
    question: str


SURVEY_ITEMS: tuple[SurveyItem, ...] = (
    SurveyItem(
        "task_success",
        "Did the agent successfully complete your task?",
        (
            "No - Due to a policy issue, which the agent clearly explained",
            "No - Task failed",
            "Partially - Some progress",
            "Yes - Task completed",
            "Fully - Exceeded expectations",
        ),
        "Task success",
        (2, 1, 3, 4, 5),
    ),
    SurveyItem(
        "efficiency",
        "How efficient was the agent in completing the task?",
        (
            "Very inefficient - Too many steps",
            "Somewhat inefficient",
            "About right",
            "Very efficient",
        ),
        "Efficiency",
        (1, 2, 3, 4),
    ),
    SurveyItem(
        "question_amount_preference",
        "How did the number of clarifying questions feel to you?",
        ("Too few", "About right", "Too many"),
        "Question amount",
        (1, 2, 1),
    ),
    SurveyItem(
        "answer_effort_time",
        "How much time/effort did it take to answer the agent's clarifying questions?",
        ("Low", "Medium", "High"),
        "Answer effort",
        (3, 2, 1),
    ),
    SurveyItem(
        "human_like",
        "Does the agent feel human-like?",
        ("No", "Partially", "Yes"),
        "Human-likeness",
        (1, 2, 3),
    ),
    SurveyItem(
        "interaction_flow",
        "How smooth was the overall interaction during clarification?",
        ("Not smooth", "OK", "Smooth", "Excellent"),
        "Interaction flow",
        (1, 2, 3, 4),
    ),
    SurveyItem(
        "overall_score",
        "Overall agent performance score (1-5)",
        ("1 (Very poor)", "2 (Poor)", "3 (Acceptable)", "4 (Good)", "5 (Excellent)"),
        "Overall score",
        (1, 2, 3, 4, 5),
    ),
    SurveyItem(
        "reuse",
        "If you encounter similar problems in life, would you like to reuse this agent?",
        ("Absolutely no", "No", "Maybe", "Yes", "Absolutely yes"),
        "Reuse",
        (1, 2, 3, 4, 5),
    ),
)

FREE_TEXT_ITEMS: tuple[FreeTextItem, ...] = (
    FreeTextItem("specific_examples", "Provide specific examples of agent behavior"),
    FreeTextItem("improvement_suggestions", "How could the agent improve?"),
)

SURVEY_ITEM_IDS: tuple[str, ...] = tuple(item.id for item in SURVEY_ITEMS)
FREE_TEXT_IDS: tuple[str, ...] = tuple(item.id for item in FREE_TEXT_ITEMS)
ITEMS_BY_ID: dict[str, SurveyItem] = {item.id: item for item in SURVEY_ITEMS}


def validate_answer(item_id: str, answer: str) -> str:
    """Return ``answer`` if it is a valid answer to ``item_id``; raise ``ValueError`` otherwise."""
    if item_id in FREE_TEXT_IDS:
        return answer
    item = ITEMS_BY_ID.get(item_id)
    if item is None:
        known = ", ".join(SURVEY_ITEM_IDS + FREE_TEXT_IDS)
        raise ValueError(f"unknown survey item {item_id!r} (known: {known})")
    if answer not in item.options:
        raise ValueError(
            f"unknown option {answer!r} for survey item {item_id!r} "
            f"(options: {' | '.join(item.options)})"
        )
    return answer


def score_survey(survey: dict[str, str] | None) -> dict[str, float]:
    """Scaled items of one survey as goodness scores in [0, 1]; free text and absent items out."""
    if not survey:
        return {}
    return {k: ITEMS_BY_ID[k].score(v) for k, v in survey.items() if k in ITEMS_BY_ID}


def goodness_matrix(positions: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Answer positions (columns in ``SURVEY_ITEMS`` order, NaN = unanswered) → goodness scores.

    The per-episode table keeps positions (what was ticked); the metrics score goodness.
    """
    values = np.asarray(positions, dtype=np.float64)
    out = np.full(values.shape, np.nan)
    for column, item in enumerate(SURVEY_ITEMS):
        table = np.array([item.rescale(g) for g in item.goodness])
        col = values[..., column]
        answered = ~np.isnan(col)
        index = np.rint(np.where(answered, col, 0.0) * (len(item.options) - 1)).astype(int)
        out[..., column] = np.where(answered, table[index], np.nan)
    return out

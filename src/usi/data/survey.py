"""The post-interaction survey instrument (spec §5), shared by people and simulators.

Options are listed in scale order (first = lowest) because scoring depends on position:
option i of k maps to i/(k-1). Keeping the instrument in one place means the study web
app, the simulator's self-report and the metrics all score the same labels the same way.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SurveyItem:
    """One scaled survey question."""

    id: str
    question: str
    options: tuple[str, ...]
    dimension: str

    def score(self, label: str) -> float:
        """Position of ``label`` on the scale, mapped to [0, 1]."""
        return self.options.index(label) / (len(self.options) - 1)


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
    ),
    SurveyItem(
        "question_amount_preference",
        "How did the number of clarifying questions feel to you?",
        ("Too few", "About right", "Too many"),
        "Question amount",
    ),
    SurveyItem(
        "answer_effort_time",
        "How much time/effort did it take to answer the agent's clarifying questions?",
        ("Low", "Medium", "High"),
        "Answer effort",
    ),
    SurveyItem(
        "human_like",
        "Does the agent feel human-like?",
        ("No", "Partially", "Yes"),
        "Human-likeness",
    ),
    SurveyItem(
        "interaction_flow",
        "How smooth was the overall interaction during clarification?",
        ("Not smooth", "OK", "Smooth", "Excellent"),
        "Interaction flow",
    ),
    SurveyItem(
        "overall_score",
        "Overall agent performance score (1-5)",
        ("1 (Very poor)", "2 (Poor)", "3 (Acceptable)", "4 (Good)", "5 (Excellent)"),
        "Overall score",
    ),
    SurveyItem(
        "reuse",
        "If you encounter similar problems in life, would you like to reuse this agent?",
        ("Absolutely no", "No", "Maybe", "Yes", "Absolutely yes"),
        "Reuse",
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
    """Scaled items of one survey as scores in [0, 1]; free-text and absent items are left out."""
    if not survey:
        return {}
    return {k: ITEMS_BY_ID[k].score(v) for k, v in survey.items() if k in ITEMS_BY_ID}

"""Survey scoring: option position i of k maps to i/(k-1) (spec §5)."""

from __future__ import annotations

import pytest

from usi.core.survey import ITEMS_BY_ID, SURVEY_ITEM_IDS, score_survey, validate_answer


def test_instrument_has_the_eight_items_of_the_spec_in_order() -> None:
    assert SURVEY_ITEM_IDS == (
        "task_success",
        "efficiency",
        "question_amount_preference",
        "answer_effort_time",
        "human_like",
        "interaction_flow",
        "overall_score",
        "reuse",
    )
    assert [len(ITEMS_BY_ID[i].options) for i in SURVEY_ITEM_IDS] == [5, 4, 3, 3, 3, 4, 5, 5]


def test_scores_by_position() -> None:
    # task_success has 5 options: the 4th ("Yes - Task completed") is position 3 → 3/4.
    scores = score_survey(
        {
            "task_success": "Yes - Task completed",
            "efficiency": "Somewhat inefficient",  # 1 of 3 → 1/3
            "human_like": "No",  # 0 → 0.0
            "reuse": "Absolutely yes",  # 4 of 4 → 1.0
            "specific_examples": "free text is never scored",
        }
    )
    assert scores == pytest.approx(
        {"task_success": 0.75, "efficiency": 1 / 3, "human_like": 0.0, "reuse": 1.0}
    )


def test_no_survey_scores_nothing() -> None:
    assert score_survey(None) == {}
    assert score_survey({}) == {}


def test_validate_answer_rejects_unknown_option_and_item() -> None:
    assert validate_answer("overall_score", "4 (Good)") == "4 (Good)"
    with pytest.raises(ValueError, match="unknown option"):
        validate_answer("overall_score", "4")
    with pytest.raises(ValueError, match="unknown survey item"):
        validate_answer("mood", "Yes")

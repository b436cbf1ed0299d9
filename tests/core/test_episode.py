"""The canonical episode is the contract between every command: its validation must bite."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from usi.data import Episode, Message, is_user_content
from usi.data.readers import describe_validation_error


def _episode(**overrides: object) -> Episode:
    base: dict[str, object] = {
        "episode_id": "e1",
        "source": "human",
        "domain": "retail",
        "messages": [
            {"role": "user", "content": "\\tau task_index:retail-3 model:gpt-5.2"},
            {"role": "assistant", "content": "Hi, how can I help?"},
            {"role": "user", "content": "cancel my order"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"name": "get_order", "arguments": {"id": 1}}],
            },
            {"role": "tool", "content": "{}", "tool_call_id": "c1"},
            {"role": "user", "content": "  "},
            {"role": "user", "content": "/stop"},
            {"role": "user", "content": "\\reward"},
        ],
    }
    base.update(overrides)
    return Episode.model_validate(base)


def test_user_turns_exclude_control_and_empty_messages() -> None:
    assert _episode().user_turns() == ["cancel my order"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/stop", False),
        ("  /STOP ", False),
        ("\\reward", False),
        ("\\tau task_index:airline-0 model:x", False),
        ("", False),
        ("please /stop the refund", True),
        ("stop", True),
        ("ok", True),
    ],
)
def test_is_user_content(text: str, expected: bool) -> None:
    assert is_user_content(text) is expected


def test_integer_task_id_becomes_text() -> None:
    assert _episode(task_id=20).task_id == "20"
    assert _episode(task_id=None).task_id is None


def test_unknown_survey_option_is_rejected_with_the_options() -> None:
    with pytest.raises(ValidationError) as info:
        _episode(survey={"human_like": "Very"})
    line = describe_validation_error(info.value)
    assert "human_like" in line and "'Very'" in line and "Partially" in line


def test_unknown_survey_item_and_unknown_role_are_rejected() -> None:
    with pytest.raises(ValidationError):
        _episode(survey={"happiness": "Yes"})
    with pytest.raises(ValidationError):
        Message.model_validate({"role": "system", "content": "x"})


def test_free_text_answers_are_kept_verbatim() -> None:
    ep = _episode(survey={"human_like": "Yes", "specific_examples": "It was <b>fast</b>"})
    assert ep.survey == {"human_like": "Yes", "specific_examples": "It was <b>fast</b>"}


def test_unknown_top_level_field_is_an_error_not_silently_dropped() -> None:
    with pytest.raises(ValidationError) as info:
        _episode(rewad=1.0)
    assert "rewad" in describe_validation_error(info.value)


def test_round_trip_through_json_is_lossless() -> None:
    ep = _episode(task_id="7", reward=1.0, batch=2, survey={"reuse": "Maybe"}, metadata={"k": [1]})
    assert Episode.model_validate_json(ep.model_dump_json()) == ep

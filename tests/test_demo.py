"""`usi demo`: the main job on the embedded default, offline, end to end."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from usi.cli import app
from usi.data import read_episodes
from usi.demo.corpus import HUMAN_BATCHES, SIM_TRIALS, demo_tasks, generate_corpus


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


def test_demo_without_live_runs_prints_a_leaderboard(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["demo", "--out", str(tmp_path), "--no-run", "--no-report"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert "humans (ceiling)" in result.output
    assert "sim/cooperative" in result.output and "sim/persona" in result.output
    assert len(read_episodes(tmp_path / "corpus" / "human.jsonl")) == HUMAN_BATCHES * len(
        demo_tasks()
    )


@pytest.mark.slow
def test_full_demo_runs_offline_simulators_and_writes_the_report(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["demo", "--out", str(tmp_path), "--tasks-per-domain", "1"], catch_exceptions=False
    )
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

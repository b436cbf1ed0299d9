"""``usi fingerprint``: the --json contract, the profile table, and bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import usi.cli.fingerprint as fingerprint_cli
from usi.core.episode import Episode, Message
from usi.data.io import write_episodes
from usi.fingerprint import DIMENSION_NAMES, FEATURES, fingerprint_episode
from usi_main import Usi


def _episode(episode_id: str, source: str, turns: list[str], task_id: str | None = "7") -> Episode:
    messages: list[Message] = []
    for turn in turns:
        messages.append(Message(role="user", content=turn))
        messages.append(Message(role="assistant", content="Sure, thank you for your patience."))
    return Episode(
        episode_id=episode_id,
        source=source,
        batch=1 if source == "human" else None,
        domain="airline",
        task_id=task_id,
        messages=messages,
    )


@pytest.fixture
def episodes_file(tmp_path: Path) -> tuple[Path, list[Episode]]:
    episodes = [
        _episode("h1", "human", ["hi, cancel #W1234567 pls", "yes", "ok"]),
        _episode("h2", "human", ["what?", "that's not right", "ugh forget it"], task_id=None),
        _episode("s1", "sim-gpt", ["Hello! I would appreciate your help; thank you.", "Thanks!"]),
        _episode("s2", "sim-gpt", []),
    ]
    path = tmp_path / "episodes.jsonl"
    write_episodes(path, episodes)
    return path, episodes


def test_json_lines_contract(episodes_file: tuple[Path, list[Episode]], usi: Usi) -> None:
    path, episodes = episodes_file
    result = usi("fingerprint", "--definitions", "usi-v2", path, "--json")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == len(episodes)
    for record, episode in zip(records, episodes, strict=True):
        assert list(record) == ["episode_id", "source", "task_id", "definitions", "features"]
        assert record["episode_id"] == episode.episode_id
        assert record["source"] == episode.source
        assert record["task_id"] == episode.task_id
        assert list(record["features"]) == list(FEATURES)
        assert record["features"] == fingerprint_episode(episode)
    assert records[1]["task_id"] is None
    assert records[3]["features"] == dict.fromkeys(FEATURES, 0.0)


def test_profile_table(episodes_file: tuple[Path, list[Episode]], usi: Usi) -> None:
    path, _ = episodes_file
    result = usi("fingerprint", "--definitions", "usi-v2", path)
    assert result.exit_code == 0, result.output
    out = result.stdout
    for dimension, name in DIMENSION_NAMES.items():
        assert f"{dimension} {name}" in out
    for feature in FEATURES:
        assert feature in out
    assert out.index("human") < out.index("sim-gpt")  # people first
    episodes_row = next(line for line in out.splitlines() if "episodes" in line)
    cells = [cell.strip() for cell in episodes_row.split("│") if cell.strip()]
    assert cells == ["episodes", "2", "2"]
    # the human profile's acknowledgment rate: (2/3 + 0) / 2 = 0.333
    ack_row = next(line for line in out.splitlines() if "acknowledgment_rate" in line)
    assert "0.333" in ack_row


def test_no_episodes_is_bad_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, usi: Usi
) -> None:
    # A readable file in a valid format that holds no episode (e.g. a run with no simulations).
    path = tmp_path / "none.json"
    path.write_text("{}", encoding="utf-8")
    monkeypatch.setattr(fingerprint_cli, "iter_episodes", lambda p, **_: iter(()))
    for extra in ([], ["--json"]):
        result = usi("fingerprint", "--definitions", "usi-v2", path, *extra)
        assert result == (2, "", f"usi: error: {path}: no episodes\n")


def test_bad_files_exit_2_with_one_line(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    broken = tmp_path / "broken.jsonl"
    good = _episode("h1", "human", ["yes"]).model_dump_json()
    broken.write_text(good + "\n" + '{"episode_id": "x", "source": 3}\n', encoding="utf-8")
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    for path, where in ((empty, f"{empty}: "), (broken, f"{broken}:line 2: ")):
        proc = subprocess.run(
            [sys.executable, "-m", "usi", "fingerprint", "--definitions", "usi-v2", str(path)],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"usi: error: {where}"), proc.stderr
        assert "Traceback" not in proc.stderr

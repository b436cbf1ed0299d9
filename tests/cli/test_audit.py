"""``usi audit``: the --json contract, the per-source table, --human, the judge, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from audit._episodes import agent, episode, retail_clean, retail_opening, user
from usi.data.io import write_episodes
from usi.llm.offline.behaviour import quality_reply
from usi.llm.quality import judge_messages, parse_verdict
from usi.tau.cards import task_card
from usi_main import Usi


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    """A simulator file (3 episodes: clean, premature stop, unaligned) and a human file."""
    sims = [
        retail_clean().model_copy(update={"episode_id": "s-clean"}),
        episode([*retail_opening(), user("ok bye ###STOP###")], episode_id="s-stop"),
        episode([agent("Hi"), user("Let me check that for you.")], task_id=None, episode_id="s-x"),
    ]
    people = [
        retail_clean().model_copy(update={"episode_id": "h1", "source": "human"}),
        episode([agent("Hi"), user("hi"), agent("?"), user("")], source="human", episode_id="h2"),
    ]
    sim_path, human_path = tmp_path / "sim.jsonl", tmp_path / "human.jsonl"
    write_episodes(sim_path, sims)
    write_episodes(human_path, people)
    return sim_path, human_path


def test_json_is_one_object_per_episode_with_the_documented_keys(
    files: tuple[Path, Path], usi: Usi
) -> None:
    sim_path, _ = files
    result = usi("audit", sim_path, "--json")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.output.splitlines()]
    assert [r["episode_id"] for r in records] == ["s-clean", "s-stop", "s-x"]
    for record in records:
        assert list(record) == ["episode_id", "source", "task_id", "reward", "errors", "skipped"]
        for error in record["errors"]:
            assert list(error) == ["kind", "turn", "evidence"]
    clean, stop, unaligned = records
    assert clean == {
        "episode_id": "s-clean",
        "source": "sim",
        "task_id": "0",
        "reward": 1.0,
        "errors": [],
        "skipped": [],
    }
    assert [(e["kind"], e["turn"]) for e in stop["errors"]] == [("premature_stop", 2)]
    assert unaligned["task_id"] is None
    assert unaligned["skipped"] == [
        "premature_stop",
        "hallucinated_identifier",
        "instruction_leak:copied_span",
    ]
    assert unaligned["errors"] == [
        {"kind": "role_confusion", "turn": 0, "evidence": "Let me check that for you"}
    ]


def test_the_table_has_shares_per_kind_and_the_human_baseline_beside(
    files: tuple[Path, Path], usi: Usi
) -> None:
    sim_path, human_path = files
    result = usi("audit", sim_path, "--human", human_path)
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[1].strip(): line for line in result.output.splitlines() if "│" in line}
    cells = {key: [c.strip() for c in row.split("│")[2:-1]] for key, row in rows.items()}
    assert cells["episodes"] == ["3", "2"]
    # premature_stop is checked on the 2 aligned simulator episodes only; 1 of them stopped.
    assert cells["premature_stop"] == ["50.0% (1/2)", "0.0% (0/2)"]
    assert cells["role_confusion"] == ["33.3% (1/3)", "0.0% (0/2)"]
    assert cells["empty_turn"] == ["0.0% (0/3)", "50.0% (1/2)"]
    assert cells["any error"] == ["66.7% (2/3)", "50.0% (1/2)"]
    # Failed episodes (reward 0): s-stop and s-x, both with an error; the human h2 too.
    assert cells["failed episodes (reward 0) with ≥ 1 error"] == ["100.0% (2/2)", "100.0% (1/1)"]
    header = next(line for line in result.output.splitlines() if "┃" in line)
    assert header.index("sim") < header.index("human")
    assert "note: sim: premature_stop skipped on 1 of 3" in result.output


def test_the_judge_adds_the_studys_offline_quality_verdict(
    files: tuple[Path, Path], tmp_path: Path, usi: Usi
) -> None:
    path = tmp_path / "one.jsonl"
    clean = retail_clean()
    write_episodes(path, [clean])
    result = usi("audit", path, "--json", "--judge-model", "offline/terse")
    assert result.exit_code == 0, result.output
    (record,) = [json.loads(line) for line in result.output.splitlines()]
    # The same verdict computed directly from the study's judge prompt and the offline judge.
    turns = [(m.role, m.content) for m in clean.messages if m.content.strip()]
    expected = parse_verdict(
        quality_reply(judge_messages(task_card("retail", "0").as_text(), turns))
    )
    assert record["judge"] == {
        "model": "offline/terse",
        "score": expected.score,
        "reasoning": expected.reasoning,
        "error": None,
    }


def test_bad_input_is_one_line_and_exit_2_with_nothing_written(
    files: tuple[Path, Path], tmp_path: Path, usi: Usi
) -> None:
    sim_path, _ = files
    broken = tmp_path / "broken.jsonl"
    good = retail_clean().model_dump_json()
    broken.write_text(good + "\n" + '{"episode_id": "x", "source": 3}\n', encoding="utf-8")
    cases: list[tuple[list[str], str]] = [
        ([str(tmp_path / "missing.jsonl")], f"{tmp_path / 'missing.jsonl'}: no such file"),
        ([str(broken), "--json"], f"{broken}:line 2: "),
        ([str(sim_path), "--human", str(tmp_path / "nope.json")], f"{tmp_path / 'nope.json'}: "),
        (
            [str(sim_path), "--judge-model", "offline/nobody"],
            "--judge-model: unknown offline model",
        ),
    ]
    for args, expected in cases:
        code, out, err = usi("audit", *args)
        assert code == 2, (out, err)
        assert out == ""
        lines = err.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"usi: error: {expected}"), err


def test_a_human_file_without_people_is_bad_input(files: tuple[Path, Path], usi: Usi) -> None:
    sim_path, human_path = files
    other = human_path.parent / "other-sim.jsonl"
    write_episodes(other, [retail_clean()])
    code, _, err = usi("audit", sim_path, "--human", other)
    assert code == 2
    assert err == f'usi: error: {other}: no human episodes (source "human")\n'

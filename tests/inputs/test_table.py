"""load_table: episodes → one row per episode, chunk by chunk."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from usi.core.episode import Episode, Message
from usi.data.io import write_episodes
from usi.errors import UsiInputError
from usi.fingerprint.extract import fingerprint_frame
from usi.fingerprint.features import FEATURES
from usi.inputs.frame import JUDGE_COLUMNS, META_COLUMNS, SURVEY_COLUMNS
from usi.inputs.shards import load_parallel, shard_ranges
from usi.metrics import load_table, simulator_sources, task_keys


def _episodes(n: int) -> list[Episode]:
    out = []
    for i in range(n):
        turns = ["\\tau task_index:retail-3 model:x", "hi, please help"] + ["ok"] * (i % 4)
        messages = [Message(role="user", content=t) for t in turns]
        out.append(
            Episode(
                episode_id=f"e{i}",
                source="human" if i % 3 == 0 else f"sim{i % 2}",
                batch=1 if i % 3 == 0 else None,
                domain="airline" if i % 2 else "retail",
                task_id=str(i % 5) if i != 7 else None,
                messages=messages,
                reward=float(i % 2),
                survey={"reuse": "Maybe"} if i % 4 == 0 else None,
                metadata={"judge_survey": {"reuse": "Yes"}} if i % 8 == 0 else {},
            )
        )
    return out


def test_table_columns_and_rows_match_the_parts(tmp_path: Path) -> None:
    episodes = _episodes(23)
    path = tmp_path / "e.jsonl"
    write_episodes(path, episodes)
    seen: list[int] = []
    table = load_table(path, chunk_size=5, progress=seen.append)
    assert list(table.columns) == [*META_COLUMNS, *SURVEY_COLUMNS, *JUDGE_COLUMNS, *FEATURES]
    assert len(table) == 23 and list(table["episode_id"]) == [f"e{i}" for i in range(23)]
    assert seen == [5, 10, 15, 20, 23]
    expected = fingerprint_frame(episodes)
    pd.testing.assert_frame_equal(table[list(FEATURES)], expected)
    assert table.at[0, "survey_reuse"] == 0.5 and table.at[0, "judge_reuse"] == 0.75
    # chunking does not change a thing
    pd.testing.assert_frame_equal(load_table(episodes, chunk_size=2048), table)
    assert simulator_sources(table) == ["sim1", "sim0"]


def test_task_keys_tell_domains_apart_and_leave_unaligned_empty() -> None:
    table = load_table(_episodes(10))
    keys = task_keys(table)
    assert keys[1] == "airline/1" and keys[6] == "retail/1"
    assert pd.isna(keys[7])


def test_no_episodes_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(UsiInputError, match="no episodes"):
        load_table([])
    with pytest.raises(ValueError):
        load_table(_episodes(1), chunk_size=0)


def test_parallel_shards_give_the_same_table_and_the_same_error_lines(tmp_path: Path) -> None:
    episodes = _episodes(40)
    path = tmp_path / "e.jsonl"
    write_episodes(path, episodes)
    ranges = shard_ranges(path, shard_bytes=1500)
    assert len(ranges) > 3 and ranges[0][0] == 0 and ranges[-1][1] == path.stat().st_size
    seen: list[int] = []
    parts = load_parallel(path, chunk_size=4, workers=2, progress=seen.append, shard_bytes=1500)
    pd.testing.assert_frame_equal(pd.concat(parts, ignore_index=True), load_table(path))
    assert seen[-1] == 40 and seen == sorted(seen)
    lines = path.read_text().splitlines()
    lines[33] = '{"episode_id": "broken"'
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(UsiInputError, match="line 34"):
        load_parallel(path, chunk_size=4, workers=2, shard_bytes=1500)

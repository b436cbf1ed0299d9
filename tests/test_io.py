"""Outputs are whole or absent: a failure never leaves half a file behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from usi.data import Episode, read_episodes, write_episodes
from usi.data.io import append_line, atomic_writer


def _ep(i: int) -> Episode:
    return Episode(episode_id=f"e{i}", source="sim", domain="retail", messages=[])


def test_atomic_writer_leaves_no_file_when_the_block_fails(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    with pytest.raises(RuntimeError), atomic_writer(target) as handle:
        handle.write("partial")
        raise RuntimeError("boom")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_atomic_writer_keeps_the_old_file_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_writer(target) as handle:
        handle.write("new")
        raise RuntimeError("boom")
    assert target.read_text() == "old"


def test_write_then_read_episodes(tmp_path: Path) -> None:
    path = tmp_path / "eps.jsonl"
    assert write_episodes(path, (_ep(i) for i in range(3))) == 3
    assert [e.episode_id for e in read_episodes(path)] == ["e0", "e1", "e2"]


def test_append_line_appends_whole_records(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    for i in range(2):
        append_line(path, _ep(i).model_dump_json())
    assert path.read_text().count("\n") == 2
    assert len(read_episodes(path)) == 2

"""Outputs are whole or absent: a failure never leaves half a file behind."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from usi.data import Episode, read_episodes, write_episodes
from usi.data.io import append_line, atomic_writer
from usi.errors import UsiInputError


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


class _ShortDisk:
    """``os.write`` of a nearly full disk: the first call writes ``room`` bytes, then
    ENOSPC until ``space_back`` (the disk freed), after which writes succeed again."""

    def __init__(self, room: int, failures: int) -> None:
        self.room = room
        self.failures = failures
        self.real = os.write

    def __call__(self, fd: int, data: bytes | memoryview) -> int:
        if self.room > 0:
            written = self.real(fd, bytes(data[: self.room]))
            self.room = 0
            return written
        if self.failures > 0:
            self.failures -= 1
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return self.real(fd, data)


def test_a_short_write_is_finished_not_torn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """write() took only 10 bytes of the line: the rest follows, the line is whole."""
    path = tmp_path / "run.jsonl"
    append_line(path, _ep(0).model_dump_json())
    monkeypatch.setattr("usi.data.io.os.write", _ShortDisk(room=10, failures=0))
    append_line(path, _ep(1).model_dump_json())
    append_line(path, _ep(2).model_dump_json())
    assert [e.episode_id for e in read_episodes(path)] == ["e0", "e1", "e2"]


def test_a_full_disk_leaves_only_whole_lines_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Half a line written, then ENOSPC: the half is cut off again, the error is one line,
    and once space is back the next line follows the last whole one."""
    path = tmp_path / "run.jsonl"
    append_line(path, _ep(0).model_dump_json())
    before = path.read_bytes()
    monkeypatch.setattr("usi.data.io.os.write", _ShortDisk(room=10, failures=1))
    with pytest.raises(UsiInputError) as caught:
        append_line(path, _ep(1).model_dump_json())
    assert caught.value.one_line() == (
        f"{path}: cannot append (No space left on device); it holds only whole lines: "
        "free space, then rerun with --resume"
    )
    assert path.read_bytes() == before
    append_line(path, _ep(2).model_dump_json())
    assert [e.episode_id for e in read_episodes(path)] == ["e0", "e2"]

"""Reading only what a command needs gives the same answers as reading everything."""

from __future__ import annotations

import gc
import json
from pathlib import Path

import pytest

from usi.core.decode import load_json, tree_building
from usi.data.readers import EpisodeFormat, detect_format, iter_episodes
from usi.errors import UsiInputError
from usi.fingerprint.extract import fingerprint_frame

FIXTURE = Path(__file__).parents[1] / "fixtures" / "tau_usi_small.json"


def test_user_turns_only_reading_gives_the_same_fingerprints() -> None:
    full = list(iter_episodes(FIXTURE))
    light = list(iter_episodes(FIXTURE, agent=False))
    assert [e.episode_id for e in full] == [e.episode_id for e in light]
    assert [e.user_turns() for e in full] == [e.user_turns() for e in light]
    assert [e.task_id for e in full] == [e.task_id for e in light]
    assert [e.metadata for e in full] == [e.metadata for e in light]  # instruction card too
    assert fingerprint_frame(full).equals(fingerprint_frame(light))
    assert any(m.role != "user" for e in full for m in e.messages)
    assert all(m.role == "user" for e in light for m in e.messages)  # agent markup unparsed


def test_a_one_line_document_is_detected_and_read(tmp_path: Path) -> None:
    """A tau-usi file written on one line (the usual case) is decoded once and read."""
    one_line = tmp_path / "one.json"
    one_line.write_text(json.dumps(json.loads(FIXTURE.read_text(encoding="utf-8"))))
    assert detect_format(one_line) is EpisodeFormat.TAU_USI
    assert [e.user_turns() for e in iter_episodes(one_line)] == [
        e.user_turns() for e in iter_episodes(FIXTURE)
    ]
    # A canonical file of one episode on one line is still canonical.
    episode = next(iter_episodes(FIXTURE))
    single = tmp_path / "single.jsonl"
    single.write_text(episode.model_dump_json())
    assert detect_format(single) is EpisodeFormat.CANONICAL
    assert list(iter_episodes(single)) == [episode]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"a": 1,,}', "invalid JSON"),
        (b'{"a":\n "\xff\xfe"}', "not a text file"),
        (b"\xef\xbb\xbf{}", None),  # a byte-order mark is not an error
    ],
)
def test_load_json_errors(tmp_path: Path, content: bytes, message: str | None) -> None:
    path = tmp_path / "doc.json"
    path.write_bytes(content)
    if message is None:
        assert load_json(path) == {}
        return
    with pytest.raises(UsiInputError, match=message):
        load_json(path)


def test_binary_file_is_not_text(tmp_path: Path) -> None:
    path = tmp_path / "bin.json"
    path.write_bytes(b"\x00\xff\xfe\x00" * 100)
    with pytest.raises(UsiInputError, match="not a text file"):
        detect_format(path)


def test_tree_building_restores_the_collector() -> None:
    assert gc.isenabled()
    with tree_building():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with tree_building():
            pass
        assert not gc.isenabled()  # the caller's choice is kept
    finally:
        gc.enable()

"""Bad input found by the second audit (issue 18): one line, exit 2, never a traceback.

Each file below made at least one of fingerprint, score, audit and data convert end in a
traceback (or read without end, or write invalid JSON); each command must now answer it
with one line naming the file and the line.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from usi.data.readers import read_episodes
from usi.inputs.table import load_table
from usi_main import run_usi

EPISODE = {
    "episode_id": "e1",
    "source": "human",
    "domain": "retail",
    "task_id": "0",
    "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
    "reward": 1.0,
}


def _line(**changes: object) -> str:
    return json.dumps({**EPISODE, **changes})


def _write(root: Path, name: str) -> Path:
    """The bad file ``name`` in ``root``."""
    path = root / f"{name}.jsonl"
    second = _line(episode_id="e2").encode()
    if name == "utf8-line-2":
        path.write_bytes(_line().encode() + b"\n" + second[:20] + b"\xff" + second[20:] + b"\n")
    elif name == "batch-10e40":
        path.write_text(_line(batch=10**40) + "\n" + _line(episode_id="e2") + "\n")
    elif name == "nested-first-line":
        nested = '{"episode_id": ' + "[" * 50_000 + "]" * 50_000 + "}"
        path.write_text(nested + "\n" + _line(episode_id="e2") + "\n")
    elif name in ("Infinity", "1e999"):
        path.write_text(_line().replace('"reward": 1.0', f'"reward": {name}') + "\n" + _line())
    return path


CASES = {
    "utf8-line-2": "line 2: not valid UTF-8 (byte 21 of the line)",
    "batch-10e40": "line 1: batch: Input should be less than or equal to 9223372036854775807",
    "nested-first-line": "line 1 column 1040: invalid JSON: depth limit exceeded",
    "Infinity": "line 1: reward: Input should be a finite number",
    "1e999": "line 1: reward: Input should be a finite number",
}
COMMANDS = {
    "fingerprint": lambda f: ["fingerprint", str(f)],
    "score": lambda f: ["score", str(f), "--human", str(f)],
    "audit": lambda f: ["audit", str(f), "--json"],
    "data convert": lambda f: ["data", "convert", str(f), "-o", str(f.with_name("out.jsonl"))],
}


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("case", list(CASES))
def test_bad_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, case: str
) -> None:
    path = _write(tmp_path, case)
    code, out, err = run_usi(capsys, *COMMANDS[command](path))
    assert (code, out, err.splitlines()) == (2, "", [f"usi: error: {path}:{CASES[case]}"])
    assert not path.with_name("out.jsonl").exists()


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_device_is_refused_not_read_without_end(
    capsys: pytest.CaptureFixture[str], command: str, tmp_path: Path
) -> None:
    """``usi fingerprint /dev/zero`` read until the OOM killer came."""
    args = COMMANDS[command](Path("/dev/zero"))
    if command == "data convert":
        args[-1] = str(tmp_path / "out.jsonl")
    code, out, err = run_usi(capsys, *args)
    refusal = "not a regular file (a device or a pipe), expected an episodes file"
    assert (code, out, err.splitlines()) == (2, "", [f"usi: error: /dev/zero: {refusal}"])


def test_a_byte_order_mark_is_not_part_of_the_first_record(tmp_path: Path) -> None:
    """Before: "line 2 column 1: unexpected content after document" (read as one document)."""
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + _line().encode() + b"\n" + _line(episode_id="e2").encode())
    assert [e.episode_id for e in read_episodes(path)] == ["e1", "e2"]
    one = load_table(path, workers=1)
    two = load_table(path, workers=2)  # the parallel reader, as for a large file
    assert one["episode_id"].tolist() == two["episode_id"].tolist() == ["e1", "e2"]


def test_invalid_utf8_in_the_parallel_reader_names_its_line(tmp_path: Path) -> None:
    from usi.errors import UsiInputError

    path = _write(tmp_path, "utf8-line-2")
    lines = []
    for workers in (1, 2):  # one process, then the parallel reader: the same line
        with pytest.raises(UsiInputError) as caught:
            load_table(path, workers=workers)
        lines.append(caught.value.one_line())
    # the 0xFF byte follows 20 good bytes of line 2: it is byte 21, counted from 1
    expected = f"{path}:line 2: not valid UTF-8 (byte 21 of the line)"
    assert lines == [expected, expected]


def test_data_convert_prints_no_tau2_log_line(tmp_path: Path) -> None:
    """The audit saw τ²'s import-time "No .env file found" on ``usi data convert``; a
    conversion that aligns tasks (so imports τ²) must print only its own lines."""
    import os
    import subprocess
    import sys

    source = Path(__file__).parents[1] / "fixtures" / "tau_usi_small.json"
    done = subprocess.run(
        [sys.executable, "-m", "usi", "data", "convert", str(source), "-o", str(tmp_path / "o")],
        env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"},
        cwd=tmp_path,  # no .env here
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert [line.split(":")[0] for line in done.stderr.splitlines()] == [
        "warning",
        "warning",
        "converted 5 episodes; sources",
    ]

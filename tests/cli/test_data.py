"""``usi data convert`` and ``usi data fetch``: outputs, summaries, and the bad-input contract.

``fetch`` runs against a fake Hub on 127.0.0.1 (tests/fakehub.py) implementing the endpoints
``snapshot_download`` calls; no test reaches the network.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import huggingface_hub.constants as hf_constants
import pytest
from huggingface_hub.utils import disable_progress_bars, enable_progress_bars

from data_fixtures import SIM_SURVEY, TAU_USI_SMALL, write_tau2_results
from fakehub import FakeHub
from usi.data.readers import read_canonical
from usi_main import run_usi

REPO_ID = "cmu-lti/tau-usi"


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# -- convert ----------------------------------------------------------------------------------


def test_convert_tau_usi_summary_and_warnings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "human.jsonl"
    code, _, err = run_usi(capsys, "data", "convert", str(TAU_USI_SMALL), "-o", str(out))
    assert code == 0, err
    rows = _lines(out)
    assert [r["episode_id"] for r in rows] == [
        "airline_0",
        "airline_0_ann2",
        "retail_5_ann3",
        "retail_120",
        "airline_7",
    ]
    lines = err.strip().splitlines()
    assert lines[0].startswith("warning: retail_120: no unique τ² retail task")
    assert lines[1].startswith("warning: airline_7:")
    assert lines[2] == (
        "converted 5 episodes; sources: human 5; domains: airline 3, retail 2; "
        f"task-aligned 3, unaligned 2 → {out}"
    )


def test_convert_tau2_results(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = write_tau2_results(tmp_path / "run.json", survey_top_level=SIM_SURVEY)
    out = tmp_path / "sim.jsonl"
    code, _, err = run_usi(
        capsys, "data", "convert", str(source), "-o", str(out), "--format", "tau2-results"
    )
    assert code == 0, err
    episodes = list(read_canonical(out))
    assert [e.source for e in episodes] == ["gpt-4o-mini", "gpt-4o-mini"]
    assert episodes[0].survey == SIM_SURVEY
    assert (
        "2 episodes; sources: gpt-4o-mini 2; domains: retail 2; task-aligned 2, unaligned 0" in err
    )


def test_canonical_round_trip_is_identical(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert run_usi(capsys, "data", "convert", str(TAU_USI_SMALL), "-o", str(first))[0] == 0
    code, _, err = run_usi(capsys, "data", "convert", str(first), "-o", str(second))
    assert code == 0, err
    assert first.read_bytes() == second.read_bytes()
    assert "warning" not in err  # canonical input is already aligned: nothing to warn about


def _assert_bad_input(
    args: list[str], out: Path, capsys: pytest.CaptureFixture[str], *fragments: str
) -> str:
    code, stdout, err = run_usi(capsys, *args)
    assert code == 2
    assert stdout == ""
    lines = [line for line in err.splitlines() if not line.startswith("warning:")]
    assert len(lines) == 1, err
    assert lines[0].startswith("usi: error: ")
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0]
    assert not out.exists()
    if out.parent.exists():
        assert not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")]
    return lines[0]


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        ('{"retail_1": {"conversation": [', ("invalid JSON", "line 1")),
        ('{"hello": "world"}', ("unrecognized format",)),
        ("", ("empty file",)),
        ("{}", ("unrecognized format",)),
        ('{"episode_id": "e1", "source": "human"}\n', ("line 1", "domain")),
        (
            '{"retail_1": {"conversation": [{"role": "user", "content": "hi"}], '
            '"survey": {"reuse": {"answer": "Never"}}}}',
            (":retail_1:", "'Never'"),
        ),
        ('{"retail_1": {"conversation": []}}', (":retail_1:", "no conversation")),
    ],
)
def test_convert_bad_input_is_one_line_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, fragments: tuple[str, ...]
) -> None:
    source = tmp_path / "in.json"
    source.write_text(content)
    out = tmp_path / "out" / "episodes.jsonl"
    out.parent.mkdir()
    line = _assert_bad_input(
        ["data", "convert", str(source), "-o", str(out)], out, capsys, *fragments
    )
    assert str(source) in line


def test_convert_failure_keeps_the_previous_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "episodes.jsonl"
    out.write_text("previous\n")
    document = json.loads(TAU_USI_SMALL.read_text())
    document["airline_7"]["survey"] = {"human_like": {"answer": "Robotic"}}  # last session
    source = tmp_path / "in.json"
    source.write_text(json.dumps(document))
    code, _, err = run_usi(capsys, "data", "convert", str(source), "-o", str(out), "--overwrite")
    assert code == 2 and ":airline_7:" in err
    assert out.read_text() == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["episodes.jsonl", "in.json"]


def test_convert_forced_format_mismatch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "x.jsonl"
    _assert_bad_input(
        ["data", "convert", str(TAU_USI_SMALL), "-o", str(out), "--format", "tau2-results"],
        out,
        capsys,
        "not a valid tau2 results file",
    )


def test_convert_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "x.jsonl"
    _assert_bad_input(
        ["data", "convert", str(tmp_path / "nope.json"), "-o", str(out)],
        out,
        capsys,
        "no such file",
    )


# -- fetch ------------------------------------------------------------------------------------


@pytest.fixture
def online(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Undo the suite's offline default, keep every cache inside tmp_path, hide tqdm bars."""
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv("USI_CACHE_DIR", str(tmp_path / "usi-cache"))
    disable_progress_bars()
    try:
        yield
    finally:
        enable_progress_bars()


def _hub(**extra: bytes) -> FakeHub:
    files = {
        "README.md": b"---\nlicense: other\n---\n# tau-usi (synthetic test copy)\n",
        "data/sessions.json": TAU_USI_SMALL.read_bytes(),
        "data/config.json": b'{"not": "sessions"}',
        **extra,
    }
    return FakeHub({REPO_ID: files})


def test_fetch_from_fake_hub_into_dest(
    online: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    dest = tmp_path / "dest"
    with _hub().serve() as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
        code, out, err = run_usi(capsys, "data", "fetch", "--dest", str(dest))
    assert code == 0, err
    assert out.strip() == str(dest / "human.jsonl")
    assert (dest / "snapshot" / "data" / "sessions.json").read_bytes() == TAU_USI_SMALL.read_bytes()
    assert next(read_canonical(dest / "human.jsonl")).episode_id == "airline_0"
    assert "read data/sessions.json" in err
    assert "wrote 5 episodes; sources: human 5" in err
    methods_paths = {(m, p.split("?")[0]) for m, p in hub.requests}
    assert ("GET", "/api/datasets/cmu-lti/tau-usi/revision/main") in methods_paths
    assert any(p.startswith("/api/datasets/cmu-lti/tau-usi/tree/") for _, p in methods_paths)
    assert any(m == "GET" and p.endswith("/data/sessions.json") for m, p in methods_paths)


def test_fetch_default_locations_and_revision(
    online: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    hub = _hub()
    commit = hub.repos[REPO_ID].commit
    with hub.serve():
        monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
        code, out, err = run_usi(capsys, "data", "fetch", "--revision", commit)
    assert code == 0, err
    expected = tmp_path / "usi-cache" / "tau-usi" / "human.jsonl"
    assert out.strip() == str(expected) and expected.exists()
    snapshot = tmp_path / "hf-cache" / "datasets--cmu-lti--tau-usi" / "snapshots" / commit
    assert (snapshot / "data" / "sessions.json").exists()


def test_fetch_from_local_copy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "copy" / "nested"
    folder.mkdir(parents=True)
    (folder / "a.json").write_bytes(TAU_USI_SMALL.read_bytes())
    (folder / "b.json").write_bytes(TAU_USI_SMALL.read_bytes())  # identical repeat: skipped
    (folder / "notes.txt").write_text("hello")
    dest = tmp_path / "dest"
    code, out, err = run_usi(
        capsys, "data", "fetch", "--from", str(tmp_path / "copy"), "--dest", str(dest)
    )
    assert code == 0, err
    assert out.strip() == str(dest / "human.jsonl")
    assert len(_lines(dest / "human.jsonl")) == 5
    assert "5 duplicate sessions skipped" in err
    again = ["data", "fetch", "--from", str(TAU_USI_SMALL), "--dest", str(dest)]
    refused = run_usi(capsys, *again)  # one overwrite policy: an existing output needs the flag
    assert refused[0] == 2 and "already exists (use --overwrite" in refused[2]
    assert len(_lines(dest / "human.jsonl")) == 5
    single = run_usi(capsys, *again, "--overwrite")
    assert single[0] == 0


def test_fetch_conflicting_copies_of_a_session(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "copy").mkdir()
    (tmp_path / "copy" / "a.json").write_bytes(TAU_USI_SMALL.read_bytes())
    document = json.loads(TAU_USI_SMALL.read_text())
    document["airline_0"]["reward"] = 1.0
    (tmp_path / "copy" / "b.json").write_text(json.dumps(document))
    dest = tmp_path / "dest"
    _assert_bad_input(
        ["data", "fetch", "--from", str(tmp_path / "copy"), "--dest", str(dest)],
        dest / "human.jsonl",
        capsys,
        "b.json:airline_0:",
        "different content",
    )


def _fetch_error(
    args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str], *fragments: str
) -> None:
    dest = tmp_path / "dest"
    _assert_bad_input(
        ["data", "fetch", "--dest", str(dest), *args], dest / "human.jsonl", capsys, *fragments
    )


def test_fetch_missing_repo(
    online: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with FakeHub({"someone/else": {"x.json": b"{}"}}).serve() as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
        _fetch_error([], tmp_path, capsys, "hf://datasets/cmu-lti/tau-usi", "not found")


def test_fetch_missing_revision(
    online: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with _hub().serve() as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
        _fetch_error(["--revision", "v9"], tmp_path, capsys, "@v9", "revision not found")


def test_fetch_repo_without_tau_usi_file(
    online: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with FakeHub({REPO_ID: {"README.md": b"# empty", "data/x.json": b"[1, 2]"}}).serve() as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
        _fetch_error([], tmp_path, capsys, "no tau-usi JSON file found")


def test_fetch_hub_unreachable(
    online: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with _hub().serve() as hub:
        endpoint = hub.endpoint  # a port that is closed once the server stops
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    _fetch_error([], tmp_path, capsys, "cannot reach the Hugging Face Hub", endpoint)


def test_fetch_offline_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # HF_HUB_OFFLINE=1 and nothing cached → a clear line, not a traceback.
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    _fetch_error([], tmp_path, capsys, "cannot reach the Hugging Face Hub")


def test_fetch_from_missing_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _fetch_error(["--from", str(tmp_path / "nope")], tmp_path, capsys, "no such file or folder")


def test_fetch_end_to_end_in_a_subprocess(tmp_path: Path) -> None:
    """The installed console script, configured only through the environment."""
    dest = tmp_path / "dest"
    with _hub().serve() as hub:
        env = {
            **os.environ,
            "HF_ENDPOINT": hub.endpoint,
            "HF_HUB_OFFLINE": "0",
            "HF_HOME": str(tmp_path / "hf-home"),
            "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        }
        done = subprocess.run(
            [sys.executable, "-m", "usi", "data", "fetch", "--dest", str(dest)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(dest / "human.jsonl")
    assert "No .env file found" not in done.stderr  # τ²'s import-time log is silenced
    assert len(_lines(dest / "human.jsonl")) == 5

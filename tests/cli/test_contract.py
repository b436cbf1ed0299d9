"""The bad-input contract on every command, as one table: command × kind of mistake.

For each row the real entry point (``usi.cli.main``) must exit 2 with exactly one line
``usi: error: …`` on stderr, nothing on stdout, no traceback, and leave the work folder
exactly as it was (nothing created, nothing half-written). A combination that does not
apply to a command (``usi score`` writes no file, ``usi run`` reads no episodes) is simply
not in the table.

"Unwritable" must really fail for root, who ignores permission bits: the target is a new
file in ``/sys`` (sysfs refuses to create files, even for root); the test skips if this
machine lets it be created after all.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from usi_main import run_usi

FIXTURES = Path(__file__).parents[1] / "fixtures"
GOOD = FIXTURES / "tau_usi_small.json"
UNWRITABLE = Path("/sys/usi-contract-test.jsonl")


@dataclass
class Work:
    """The files a row refers to, all inside one temporary folder."""

    root: Path
    free_port: int
    busy_port: int

    def input(self, kind: str) -> Path:
        return (
            self.root
            / {
                "missing": "missing.jsonl",
                "directory": "a-folder",
                "empty": "empty.jsonl",
                "truncated": "truncated.json",
                "wrong shape": "shape.jsonl",
            }[kind]
        )

    def output(self, kind: str, name: str = "out.jsonl") -> Path:
        if kind == "unwritable -o":
            return UNWRITABLE
        if kind == "-o a directory":
            return self.root / "out-folder"
        return self.root / "a-file" / name  # "-o under a file"

    @property
    def good(self) -> Path:
        return self.root / "good.json"


Args = Callable[[Work], list[str]]
INPUTS = ("missing", "directory", "empty", "truncated", "wrong shape")
OUTPUTS = ("unwritable -o", "-o a directory", "-o under a file")


def _rows() -> Iterator[tuple[str, str, Args, str]]:
    """(command, mistake, arguments, a word the error line must contain)."""
    expect_input = {
        "missing": "no such file",
        "directory": "directory",
        "empty": "empty",
        "truncated": "invalid JSON",
        "wrong shape": "accepted:",
    }
    expect_output = {
        "unwritable -o": "cannot write",
        "-o a directory": "directory",
        "-o under a file": "is a file",
    }

    def bad_in(kind: str, build: Callable[[Work, Path], list[str]]) -> Args:
        return lambda w: build(w, w.input(kind))

    def bad_out(kind: str, build: Callable[[Work, Path], list[str]], name: str = "out") -> Args:
        return lambda w: build(w, w.output(kind, name))

    readers: dict[str, Callable[[Work, Path], list[str]]] = {
        "data convert": lambda w, p: ["data", "convert", str(p), "-o", str(w.root / "o.jsonl")],
        "fingerprint": lambda w, p: ["fingerprint", "--definitions", "usi-v2", str(p)],
        "score": lambda w, p: ["score", "--definitions", "usi-v2", str(p), "--human", str(w.good)],
        "audit": lambda w, p: ["audit", str(p)],
        "audit --human": lambda w, p: ["audit", str(w.good), "--human", str(p)],
        "judge": lambda w, p: [
            "judge",
            str(p),
            "--model",
            "offline/oracle",
            "-o",
            str(w.root / "j.jsonl"),
        ],
        "report": lambda w, p: [
            "report",
            "--human",
            str(p),
            "--sim",
            f"a={w.good}",
            "-o",
            str(w.root / "rep"),
        ],
    }
    for command, build in readers.items():
        for kind in INPUTS:
            yield command, kind, bad_in(kind, build), expect_input[kind]
    # `data fetch --from` takes a folder too, so "directory" is not a mistake there.
    for kind in ("missing", "empty", "truncated", "wrong shape"):
        yield (
            "data fetch",
            kind,
            bad_in(
                kind, lambda w, p: ["data", "fetch", "--from", str(p), "--dest", str(w.root / "d")]
            ),
            expect_input[kind] if kind != "missing" else "no such file or folder",
        )
    # `study serve --tasks-file`: every reading mistake, plus an unknown domain.
    for kind in INPUTS:
        yield (
            "study serve",
            f"tasks file: {kind}",
            bad_in(kind, lambda w, p: _serve(w, "--tasks-file", str(p))),
            {"empty": "cannot read", "truncated": "cannot read", "wrong shape": "cannot read"}.get(
                kind, expect_input[kind]
            ),
        )

    writers: dict[str, Callable[[Work, Path], list[str]]] = {
        "data convert": lambda w, o: ["data", "convert", str(w.good), "-o", str(o)],
        "run": lambda w, o: ["run", "--domain", "retail", "--tasks", "0", "-o", str(o)],
        "judge": lambda w, o: ["judge", str(w.good), "--model", "offline/oracle", "-o", str(o)],
        "study export": lambda w, o: ["study", "export", "--db", _study_db(w), "-o", str(o)],
    }
    for command, build in writers.items():
        for kind in OUTPUTS:
            yield command, kind, bad_out(kind, build), expect_output[kind]
        # One overwrite policy: an existing output is refused unless --overwrite (or --resume).
        hint = (
            "--resume to continue it or --overwrite"
            if command in ("run", "judge")
            else ("--overwrite to replace it")
        )
        yield (
            command,
            "existing -o",
            lambda w, build=build: build(w, w.root / "existing.jsonl"),
            f"already exists (use {hint}",
        )
    # Folder targets: a report, the demo, fetch's --dest. "-o a directory" is their normal case.
    folders: dict[str, Callable[[Work, Path], list[str]]] = {
        "report": lambda w, o: [
            "report",
            "--human",
            str(w.good),
            "--sim",
            f"a={w.good}",
            "-o",
            str(o),
        ],
        "demo": lambda w, o: ["demo", "--no-run", "--no-report", "-o", str(o)],
        "data fetch": lambda w, o: ["data", "fetch", "--from", str(w.good), "--dest", str(o)],
    }
    for command, build in folders.items():
        for kind in ("unwritable -o", "-o under a file"):
            yield command, kind, bad_out(kind, build, "out-dir"), expect_output[kind]
    for command in ("report", "demo"):
        build = folders[command]
        yield (
            command,
            "existing -o",
            lambda w, build=build: build(w, w.root / "usi-folder"),
            "already exists (use --overwrite to replace it)",
        )
        yield (
            command,
            "existing -o --overwrite, not a usi folder",
            lambda w, build=build: [*build(w, w.root / "out-folder-notes"), "--overwrite"],
            "not a folder usi wrote",
        )
    yield (
        "data fetch",
        "existing -o",
        lambda w: ["data", "fetch", "--from", str(w.good), "--dest", str(w.root / "fetched")],
        "already exists (use --overwrite to replace it)",
    )
    yield (
        "data fetch",
        "-o a directory",  # DEST/human.jsonl is a folder
        lambda w: ["data", "fetch", "--from", str(w.good), "--dest", str(w.root / "dest-with-dir")],
        "directory",
    )

    databases: dict[str, tuple[Callable[[Work], str], str]] = {
        "not a URL": (lambda w: "no-such-scheme", "not a database URL"),
        "a folder": (lambda w: f"sqlite:///{w.root / 'a-folder'}", "folder"),
        "not a database": (lambda w: f"sqlite:///{w.input('wrong shape')}", "not a SQLite"),
        "unreachable PostgreSQL": (
            lambda w: f"postgresql://usi@127.0.0.1:{w.free_port}/usi",
            "cannot open database",
        ),
        "not a study database": (lambda w: f"sqlite:///{w.root / 'other.db'}", "not a usi study"),
    }
    for label, (url, needle) in databases.items():
        yield (
            "study serve",
            f"bad database URL: {label}",
            lambda w, url=url: _serve(w, "--db", url(w)),
            needle,
        )
        yield (
            "study export",
            f"bad database URL: {label}",
            lambda w, url=url: [
                "study",
                "export",
                "--db",
                url(w),
                "-o",
                str(w.root / "e.jsonl"),
            ],
            needle,
        )
    yield (
        "study export",
        "bad database URL: missing SQLite file",
        lambda w: [
            "study",
            "export",
            "--db",
            f"sqlite:///{w.root / 'nope.db'}",
            "-o",
            str(w.root / "e.jsonl"),
        ],
        "no such study database",
    )
    yield (
        "study serve",
        "bad database URL: missing folder",
        lambda w: _serve(w, "--db", f"sqlite:///{w.root / 'no-folder' / 'study.db'}"),
        "does not exist",
    )
    yield (
        "study serve",
        "busy port",
        lambda w: _serve(w, "--port", str(w.busy_port)),
        "cannot listen",
    )
    yield "study serve", "port out of range", lambda w: _serve(w, "--port", "99999"), "out of range"
    yield (
        "study loadtest",
        "no server",
        lambda w: ["study", "loadtest", "--url", f"http://127.0.0.1:{w.free_port}"],
        "no study server",
    )
    # A flag with no effect in the combination given is an error, never silently ignored.
    run = ["run", "--domain", "retail", "--tasks", "0"]
    yield (
        "run",
        "flag without effect: --user-plugin",
        lambda w: [*run, "--user-plugin", "pkg.mod:Sim", "-o", str(w.root / "r.jsonl")],
        "--user-plugin: has no effect without --user-kind plugin",
    )
    yield (
        "run",
        "flag without effect: --ray-address",
        lambda w: [*run, "--ray-address", "ray://h:10001", "-o", str(w.root / "r.jsonl")],
        "--ray-address: has no effect without --backend ray",
    )
    yield (
        "data fetch",
        "flag without effect: --revision with --from",
        lambda w: ["data", "fetch", "--from", str(w.good), "--revision", "main"],
        "--revision: has no effect with --from PATH",
    )
    yield (
        "study serve",
        "flag without effect: --judge-base-url",
        lambda w: _serve(w, "--judge-base-url", f"http://127.0.0.1:{w.free_port}/v1"),
        "--judge-base-url: has no effect without --judge-model",
    )
    yield (
        "study serve",
        "unreachable --agent-base-url",
        lambda w: _serve(w, "--agent-base-url", f"http://127.0.0.1:{w.free_port}/v1"),
        "unreachable base URL",
    )
    yield (
        "study serve",
        "tasks file: unknown domain",
        lambda w: _serve(w, "--tasks-file", str(w.root / "banking.json")),
        "unknown domain 'banking'",
    )


def _serve(w: Work, *extra: str) -> list[str]:
    args = {"--db": f"sqlite:///{w.root / 'serve.db'}", "--port": str(w.free_port)}
    pairs = dict(zip(extra[::2], extra[1::2], strict=True))
    args.update(pairs)
    return ["study", "serve", *(x for kv in args.items() for x in kv)]


def _study_db(w: Work) -> str:
    return f"sqlite:///{w.root / 'study.db'}"


ROWS = list(_rows())


def _tree(root: Path) -> dict[str, tuple[bool, int]]:
    """Every path under ``root`` with (is a folder, size): what 'nothing written' compares."""
    return {
        str(p.relative_to(root)): (p.is_dir(), 0 if p.is_dir() else p.stat().st_size)
        for p in sorted(root.rglob("*"))
    }


@pytest.fixture
def work(tmp_path: Path) -> Iterator[Work]:
    (tmp_path / "a-folder").mkdir()
    (tmp_path / "out-folder").mkdir()
    (tmp_path / "dest-with-dir" / "human.jsonl").mkdir(parents=True)
    (tmp_path / "a-file").write_text("a regular file\n")
    (tmp_path / "empty.jsonl").write_bytes(b"")
    (tmp_path / "truncated.json").write_bytes(GOOD.read_bytes()[:300])
    (tmp_path / "shape.jsonl").write_text('{"a": 1}\n{"a": 2}\n')
    (tmp_path / "good.json").write_bytes(GOOD.read_bytes())
    (tmp_path / "banking.json").write_text('{"banking": ["0"]}')
    (tmp_path / "existing.jsonl").write_text("earlier output\n")
    (tmp_path / "usi-folder" / "corpus").mkdir(parents=True)
    (tmp_path / "usi-folder" / "report.html").write_text("<html></html>")
    (tmp_path / "out-folder-notes").mkdir()
    (tmp_path / "out-folder-notes" / "notes.txt").write_text("mine, not usi's")
    (tmp_path / "fetched").mkdir()
    (tmp_path / "fetched" / "human.jsonl").write_text("earlier output\n")
    with sqlite3.connect(tmp_path / "other.db") as db:
        db.execute("CREATE TABLE notes (x TEXT)")
    with sqlite3.connect(tmp_path / "study.db") as db:
        db.execute("CREATE TABLE sessions (id TEXT)")
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    free_port = free.getsockname()[1]
    free.close()
    try:
        yield Work(tmp_path, free_port, busy.getsockname()[1])
    finally:
        busy.close()


@pytest.mark.parametrize(
    ("command", "mistake", "args", "needle"),
    ROWS,
    ids=[f"{c} | {m}" for c, m, _, _ in ROWS],
)
def test_one_line_exit_2_nothing_written(
    work: Work,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    command: str,
    mistake: str,
    args: Args,
    needle: str,
) -> None:
    if mistake == "unwritable -o":
        try:
            UNWRITABLE.parent.joinpath(".probe").touch()
        except OSError:
            pass
        else:  # pragma: no cover - a machine where /sys accepts files
            pytest.skip("/sys accepts new files here")
    monkeypatch.chdir(work.root)  # `usi demo`'s default folder, a stray relative path: all here
    before = _tree(work.root)
    code, out, err = run_usi(capsys, *args(work))
    assert code == 2, err
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("usi: error: "), err
    assert "Traceback" not in err
    assert needle in lines[0], lines[0]
    assert _tree(work.root) == before
    assert not UNWRITABLE.exists()


def test_the_table_covers_every_command_that_takes_a_path() -> None:
    """A new command must join the table: every command of the app appears in it."""
    commands = {c for c, _, _, _ in ROWS}
    assert commands >= {
        "data convert",
        "data fetch",
        "fingerprint",
        "score",
        "audit",
        "run",
        "judge",
        "report",
        "study serve",
        "study export",
        "study loadtest",
        "demo",
    }


def test_files_are_written_0644(work: Work, capsys: pytest.CaptureFixture[str]) -> None:
    """Not mkstemp's 0600: an output is readable like any other file (umask 022)."""
    old = os.umask(0o022)
    try:
        out = work.root / "converted.jsonl"
        code, stdout, err = run_usi(capsys, "data", "convert", str(work.good), "-o", str(out))
    finally:
        os.umask(old)
    assert code == 0, err
    assert stdout.strip() == str(out)  # the result on stdout, the summary on stderr
    assert err.splitlines()[-1].startswith("converted ")
    assert stat.S_IMODE(out.stat().st_mode) == 0o644


def test_report_folder_is_replaced_whole(work: Work, capsys: pytest.CaptureFixture[str]) -> None:
    from usi.data.io import write_episodes
    from usi.data.readers import read_episodes

    sim = work.root / "sim.jsonl"  # the same conversations, played by a "simulator"
    write_episodes(sim, [e.model_copy(update={"source": "sim"}) for e in read_episodes(GOOD)])
    out = work.root / "report"
    args = ["report", "--human", str(work.good), "--sim", f"a={sim}", "-o", str(out)]
    code, _, err = run_usi(capsys, *args)
    assert code == 0, err
    stale = out / "tables" / "capability.md"
    stale.write_text("a table of an earlier run")
    code, _, err = run_usi(capsys, *args, "--overwrite")
    assert code == 0, err
    assert (out / "report.html").exists()
    assert not stale.exists()
    assert not [p for p in work.root.iterdir() if p.name.startswith(".report.")]  # no debris
    assert stat.S_IMODE(out.stat().st_mode) == 0o755 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_os_access_is_not_the_writability_check() -> None:
    """Root is told "writable" by os.access even where creating a file fails: the guard
    probes instead (documented reason for the /sys target above)."""
    if os.geteuid() != 0:
        pytest.skip("only root sees os.access and reality disagree")
    assert os.access(UNWRITABLE.parent, os.W_OK)
    with pytest.raises(OSError):
        UNWRITABLE.touch()


def test_tau_usi_and_tau2_problems_name_the_session_or_simulation(
    work: Work, capsys: pytest.CaptureFixture[str]
) -> None:
    from data_fixtures import write_tau2_results

    sessions = json.loads(GOOD.read_text())
    del sessions["retail_120"]["conversation"]
    tau_usi = work.root / "no-conversation.json"
    tau_usi.write_text(json.dumps(sessions))
    code, _, err = run_usi(capsys, "fingerprint", str(tau_usi))
    assert code == 2
    assert err.strip() == (
        f'usi: error: {tau_usi}:session retail_120: tau-usi session without a "conversation" list'
    )

    results = write_tau2_results(work.root / "results.json")
    document = json.loads(results.read_text())
    second = document["simulations"][1]
    del second["task_id"]
    results.write_text(json.dumps(document))
    code, _, err = run_usi(capsys, "fingerprint", str(results))
    assert code == 2
    assert err.startswith(f"usi: error: {results}:simulation {second['id']}: not a valid tau2")
    assert "task_id" in err

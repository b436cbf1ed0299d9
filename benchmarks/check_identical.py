"""Are the CLI's outputs byte-identical between a git revision and this checkout?

A guard for refactorings that must not change behaviour (moving modules, splitting the runner,
unifying scoring). The same commands are run twice, once with REF's source and once with this
checkout's (``PYTHONPATH=<tree>/src``, the same interpreter, ``python -m usi …``), and every
exit code, stdout, stderr and written file is compared byte for byte:

    python benchmarks/check_identical.py [--ref REF] [--data DIR] [--reference DIR] [--keep DIR]

REF (default ``main``) is checked out with ``git worktree add --detach`` into a temporary
folder that is removed afterwards, also on an error or Ctrl-C; "this checkout" is the working
tree of the repository holding this script, uncommitted edits included. Prints one line per
command (exit code, stdout and stderr together) and per file it wrote: ``same``,
``DIFFERENT`` (the first differing line and column with both sides' text around it, or
the byte offset for binary files), ``ref failed``
or ``new failed`` (non-zero exit or timeout, with the last line of stderr); then a summary.
Exit 0 iff everything is the same; 1 otherwise; 2 for bad arguments or missing data.

Data: ``--data`` (default ``../shared/data/tau-usi-sample/`` beside the repository) must hold
``tau_usi_sample.json`` (89 real sessions, 46 tasks, 2 batches) and ``--reference`` (default
``../shared/reference/tau-usi/``) the synthetic simulators ``eval_results_synthetic-sim.json``,
``eval_results_synthetic-multirun.json`` and the ratings ``survey_comparable_synthetic-sim.json``.

Commands (see ``COMMANDS``): ``data convert`` of the sample and of a simulator to canonical,
and back to the paper's results JSON; ``fingerprint --json`` with both definition sets and the
text table; ``score --json`` under tau-usi (with the ratings), usi-v2, ``--ceiling`` (both
definitions), a two-simulator leaderboard, and the text form; ``audit --json`` and the text
table against the people; two ``usi run``s with the offline models (``offline/cooperative``
vs ``offline/oracle`` on retail τ² tasks 0–2 under ``--protocol tau2``; ``offline/terse`` under
``--protocol tau-usi`` on retail tasks 31–32 with the sample's cards), single-threaded
(``--backend thread --concurrency 1``) with the default fixed seed, then ``score`` of the
first run's output; ``report`` on the whole sample with both simulators (every file it writes:
``report.html``, the tables' CSV/Markdown, the figures' PNG and SVG). No subset of the sample
is needed: ~116 s of CPU for both sides, ~3 minutes wall on 2 busy cores (``--jobs`` commands
run at once, default one per core; ``--only GLOB`` picks commands).

Environment of every command: ``LITELLM_LOCAL_MODEL_COST_MAP=True``, ``HF_HUB_OFFLINE=1``,
``TZ=UTC``, ``LC_ALL=C.UTF-8``, ``PYTHONHASHSEED=0``, no ``COLUMNS``/``LINES``/``FORCE_COLOR``
(stdout is a pipe: tables are 160 columns wide), a fresh ``USI_CACHE_DIR``. Network: nothing
here needs it (the offline models are served on 127.0.0.1 by usi itself); the offline flags
above keep litellm and the Hub from trying. Both sides run one after the other in the same
temporary folder (outputs are moved aside after each side), so absolute paths written into
outputs are the same on both sides and need no normalisation.

Normalisations — found by running the same source twice (``--ref HEAD --raw`` shows them); the
rest was byte-identical, ``report.html`` and the PNGs included. Each is one regex (``RULES``),
applied to both sides before comparing, only to the files it names:

- ``run-*/*.jsonl`` and ``run-*/*.tau2.json``: the wall-clock values of ``"start_time"``,
  ``"end_time"`` and ``"timestamp"`` (ISO datetimes), ``"duration"`` and ``"duration_s"``
  (seconds), and τ²'s random simulation id (``"id"`` / ``"tau2_simulation_id"`` holding a
  UUID) become ``<TIME>``, ``<SECONDS>`` and ``<UUID>``.
- ``report/figures/*.svg``: matplotlib's ``<dc:date>`` (the time the figure was saved).
- stderr of ``report``: the wall time in ``report: … sections, 6.8 s``.
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "tau-usi-sample"
DEFAULT_REFERENCE = REPO.parent / "shared" / "reference" / "tau-usi"

SAME = "same"


@dataclass(frozen=True)
class Case:
    """One command: ``name`` is also its working folder, ``args`` follow ``python -m usi``."""

    name: str
    args: list[str]
    timeout: float = 120.0
    after: str | None = None  # a case whose output this one reads


def commands(sample: Path, reference: Path) -> list[Case]:
    """The commands, run in this order in ``files/<name>/`` (later ones read earlier outputs)."""
    s = str(sample / "tau_usi_sample.json")
    sim = str(reference / "eval_results_synthetic-sim.json")
    multi = str(reference / "eval_results_synthetic-multirun.json")
    ratings = str(reference / "survey_comparable_synthetic-sim.json")
    return [
        Case("convert-human", ["data", "convert", s, "-o", "human.jsonl"]),
        Case("convert-sim", ["data", "convert", sim, "-o", "sim.jsonl"]),
        Case("convert-sim-back", ["data", "convert", "../convert-sim/sim.jsonl",
                                  "--to", "tau-usi-results", "-o", "sim.json"],
             after="convert-sim"),
        Case("fingerprint-tau-usi-json", ["fingerprint", s, "--json", "--definitions", "tau-usi"]),
        Case("fingerprint-usi-v2-json", ["fingerprint", s, "--json", "--definitions", "usi-v2"]),
        Case("fingerprint-usi-v2-canonical", ["fingerprint", "../convert-human/human.jsonl",
                                              "--json", "--definitions", "usi-v2"],
             after="convert-human"),
        Case("fingerprint-text", ["fingerprint", s]),
        Case("score-tau-usi-json", ["score", sim, "--human", s, "--json", "--ratings", ratings]),
        Case("score-usi-v2-json", ["score", sim, "--human", s, "--json",
                                   "--definitions", "usi-v2"]),
        Case("score-ceiling-json", ["score", "--ceiling", s, "--json"]),
        Case("score-ceiling-usi-v2-json", ["score", "--ceiling", s, "--json",
                                           "--definitions", "usi-v2"]),
        Case("score-leaderboard-json", ["score", sim, multi, "--human", s, "--json"]),
        Case("score-text", ["score", sim, "--human", s, "--ratings", ratings]),
        Case("score-usi-v2-text", ["score", sim, "--human", s, "--definitions", "usi-v2"]),
        Case("audit-json", ["audit", s, "--json"]),
        Case("audit-text", ["audit", sim, "--human", s]),
        Case("run-tau2", ["run", "--domain", "retail", "--user-model", "offline/cooperative",
                          "--agent-model", "offline/oracle", "--tasks", "0,1,2",
                          "--backend", "thread", "--concurrency", "1", "--quiet",
                          "-o", "out.jsonl"], timeout=300),
        Case("run-tau-usi", ["run", "--domain", "retail", "--protocol", "tau-usi",
                             "--instructions", s, "--user-model", "offline/terse",
                             "--agent-model", "offline/oracle", "--tasks", "31,32",
                             "--backend", "thread", "--concurrency", "1", "--quiet",
                             "-o", "out.jsonl"], timeout=300),
        Case("score-run-json", ["score", "../run-tau2/out.jsonl", "--human", s, "--json",
                                "--definitions", "usi-v2"], after="run-tau2"),
        Case("report", ["report", "--human", s, "--sim", f"synthetic-sim={sim}:{ratings}",
                        "--sim", f"synthetic-multirun={multi}", "-o", "out"], timeout=300),
    ]  # fmt: skip


# (glob over "<case>/<path>" or "<case>.stdout|.stderr", regex, replacement)
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
RULES: list[tuple[str, str, str]] = [
    ("run-*/*.json*", r'("(?:start_time|end_time|timestamp)": ?)"[^"]*"', r'\1"<TIME>"'),
    ("run-*/*.json*", r'("(?:duration|duration_s)": ?)-?[0-9][0-9.eE+-]*', r"\1<SECONDS>"),
    ("run-*/*.json*", rf'("(?:id|tau2_simulation_id)": ?)"{_UUID}"', r'\1"<UUID>"'),
    ("report/out/figures/*.svg", r"<dc:date>[^<]*</dc:date>", "<dc:date><TIME></dc:date>"),
    ("report/out/report.html", r"(generated )\d{4}-\d\d-\d\d \d\d:\d\d UTC", r"\1<TIME> UTC"),
    ("report.stderr", r"(sections, )[0-9.]+ s$", r"\1<SECONDS> s"),
]


def normalise(name: str, data: bytes, rules: list[tuple[str, str, str]] | None = None) -> bytes:
    """``data`` with the rules whose glob matches ``name`` applied (bytes, multiline regexes)."""
    for glob, pattern, replacement in RULES if rules is None else rules:
        if fnmatch.fnmatchcase(name, glob):
            data = re.sub(pattern.encode(), replacement.encode(), data, flags=re.MULTILINE)
    return data


def _excerpt(line: str, column: int, width: int = 70) -> str:
    """``line`` (without its newline) as a repr, cut to ~``width`` characters around ``column``."""
    text = line.rstrip("\r\n")
    if len(text) <= width:
        return repr(text)
    start = max(0, min(column - width // 3, len(text) - width))
    cut = text[start : start + width]
    return ("…" if start else "") + repr(cut) + ("…" if start + width < len(text) else "")


def compare_bytes(ref: bytes, new: bytes) -> str:
    """``same``, or ``DIFFERENT`` with the first differing line (text) or byte offset (binary)."""
    if ref == new:
        return SAME
    try:
        ref.decode("utf-8"), new.decode("utf-8")
        text = b"\0" not in ref and b"\0" not in new
    except UnicodeDecodeError:
        text = False
    if not text:
        offset = next((i for i, (a, b) in enumerate(zip(ref, new, strict=False)) if a != b), None)
        if offset is None:
            offset = min(len(ref), len(new))
        return f"DIFFERENT at byte {offset} (sizes {len(ref)} and {len(new)})"
    ref_lines = ref.decode("utf-8").splitlines(keepends=True)
    new_lines = new.decode("utf-8").splitlines(keepends=True)
    for i in range(max(len(ref_lines), len(new_lines))):
        a = ref_lines[i] if i < len(ref_lines) else None
        b = new_lines[i] if i < len(new_lines) else None
        if a != b:
            if a is None or b is None:
                left = "<end of file>" if a is None else _excerpt(a, 0)
                right = "<end of file>" if b is None else _excerpt(b, 0)
                return f"DIFFERENT at line {i + 1}: ref {left} | new {right}"
            col = next((j for j, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), None)
            col = min(len(a), len(b)) if col is None else col
            left, right = _excerpt(a, col), _excerpt(b, col)
            return f"DIFFERENT at line {i + 1}, column {col + 1}: ref {left} | new {right}"
    raise AssertionError("unreachable: equal lines, different bytes")


def _files(root: Path) -> set[str]:
    if not root.is_dir():
        return set()
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def compare_trees(
    ref: Path, new: Path, prefix: str = "", rules: list[tuple[str, str, str]] | None = None
) -> list[tuple[str, str]]:
    """(path, verdict) for every file under either folder, sorted by path.

    ``prefix`` is put before each path to pick the normalisation rules (``RULES`` unless
    ``rules`` is given; ``[]`` compares raw bytes).
    """
    out = []
    for rel in sorted(_files(ref) | _files(new)):
        a, b = ref / rel, new / rel
        if not a.is_file():
            out.append((rel, "DIFFERENT: only written by new"))
        elif not b.is_file():
            out.append((rel, "DIFFERENT: only written by ref"))
        else:
            name = f"{prefix}{rel}"
            verdict = compare_bytes(
                normalise(name, a.read_bytes(), rules), normalise(name, b.read_bytes(), rules)
            )
            out.append((rel, verdict))
    return out


@dataclass
class Result:
    rc: int | None  # None: timed out
    stdout: bytes
    stderr: bytes
    seconds: float


def _last_line(stderr: bytes) -> str:
    lines = [ln for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    return lines[-1].strip()[:160] if lines else "(no stderr)"


def compare_results(
    name: str, ref: Result, new: Result, rules: list[tuple[str, str, str]] | None = None
) -> str:
    """One command's verdict: its exit code, stdout and stderr on both sides."""
    if ref.rc != 0:
        why = "timed out" if ref.rc is None else f"exit {ref.rc}"
        return f"ref failed ({why}): {_last_line(ref.stderr)}"
    if new.rc != 0:
        why = "timed out" if new.rc is None else f"exit {new.rc}"
        return f"new failed ({why}): {_last_line(new.stderr)}"
    for stream in ("stdout", "stderr"):
        label = f"{name}.{stream}"
        verdict = compare_bytes(
            normalise(label, getattr(ref, stream), rules),
            normalise(label, getattr(new, stream), rules),
        )
        if verdict != SAME:
            return f"{stream} {verdict}"
    return SAME


def _environment(src: Path, cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    for var in ("PYTHONPATH", "PYTHONSTARTUP", "COLUMNS", "LINES", "FORCE_COLOR", "NO_COLOR"):
        env.pop(var, None)
    env.update(
        PYTHONPATH=str(src),
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        TZ="UTC",
        LC_ALL="C.UTF-8",
        LANG="C.UTF-8",
        PYTHONHASHSEED="0",
        USI_CACHE_DIR=str(cache / "usi"),
        MPLCONFIGDIR=str(cache / "matplotlib"),
    )
    return env


_LIVE: set[subprocess.Popen[bytes]] = set()
_LIVE_LOCK = threading.Lock()
_STOP = threading.Event()


def _execute(args: list[str], cwd: Path, env: dict[str, str], timeout: float) -> Result:
    """Run in its own process group, so a timeout or an interrupt also ends its children."""
    started = time.perf_counter()
    with _LIVE_LOCK:
        if _STOP.is_set():
            raise KeyboardInterrupt
        proc = subprocess.Popen(
            [sys.executable, "-m", "usi", *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        _LIVE.add(proc)
    try:
        out, err = proc.communicate(timeout=timeout)
        rc: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        out, err = proc.communicate()
        rc = None
    finally:
        with _LIVE_LOCK:
            _LIVE.discard(proc)
    return Result(rc, out, err, time.perf_counter() - started)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _stop_all() -> None:
    """No new command starts; every running one is killed with its process group."""
    with _LIVE_LOCK:
        _STOP.set()
        for proc in _LIVE:
            _kill_group(proc)


def run_side(
    src: Path, cases: list[Case], scratch: Path, dest: Path, jobs: int = 1, log: bool = True
) -> dict[str, Result]:
    """Run every case with ``src`` in ``scratch/work``, then move the outputs to ``dest``.

    Both sides use the same ``scratch/work`` path, so paths written into outputs agree.
    ``jobs`` cases run at once, the longest first; a case waits for the one it reads.
    """
    work, cache = scratch / "work", scratch / "cache"
    for folder in (work, cache):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    env = _environment(src, cache)
    futures: dict[str, Future[Result]] = {}

    def one(case: Case) -> Result:
        if case.after:
            futures[case.after].result()
        cwd = work / case.name
        cwd.mkdir()
        r = _execute(case.args, cwd, env, case.timeout)
        if log and not _STOP.is_set():
            status = "timeout" if r.rc is None else f"exit {r.rc}"
            print(f"  {case.name:<32} {status:<8} {r.seconds:6.1f} s", file=sys.stderr)
        return r

    # Submitted in order of timeout, stable: a case's dependency is listed (so started) first,
    # and a pool starts its tasks in submission order, so waiting on it cannot deadlock.
    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
    try:
        for case in sorted(cases, key=lambda c: -c.timeout):
            futures[case.name] = pool.submit(one, case)
        results = {case.name: futures[case.name].result() for case in cases}
    except BaseException:
        _stop_all()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown()
    shutil.rmtree(dest, ignore_errors=True)
    shutil.move(str(work), str(dest))
    return results


@contextlib.contextmanager
def ref_worktree(rev: str, parent: Path) -> Iterator[Path]:
    """A detached worktree of ``rev`` under ``parent``, removed on the way out."""
    path = parent / "ref-src"
    made = subprocess.run(
        ["git", "-C", str(REPO), "worktree", "add", "--detach", "--quiet", str(path), rev],
        capture_output=True,
        text=True,
    )
    if made.returncode != 0:
        why = _last_line(made.stderr.encode())
        print(f"check_identical: cannot check out {rev!r}: {why}", file=sys.stderr)
        raise SystemExit(2)
    try:
        yield path
    finally:
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "remove", "--force", str(path)],
            capture_output=True,
        )
        shutil.rmtree(path, ignore_errors=True)
        subprocess.run(["git", "-C", str(REPO), "worktree", "prune"], capture_output=True)


def report(
    cases: list[Case],
    ref: dict[str, Result],
    new: dict[str, Result],
    ref_files: Path,
    new_files: Path,
    rules: list[tuple[str, str, str]] | None = None,
) -> tuple[list[str], dict[str, int]]:
    """The verdict lines and the count per kind (same, different, ref failed, new failed)."""
    lines: list[str] = []
    counts = {"same": 0, "different": 0, "ref failed": 0, "new failed": 0}

    def add(name: str, verdict: str) -> None:
        kind = next((k for k in ("ref failed", "new failed") if verdict.startswith(k)), None)
        kind = kind or (SAME if verdict == SAME else "different")
        counts[kind] += 1
        lines.append(f"{name:<52} {verdict}")

    for case in cases:
        verdict = compare_results(case.name, ref[case.name], new[case.name], rules)
        add(case.name, verdict)
        if verdict.startswith(("ref failed", "new failed")):
            continue
        for rel, file_verdict in compare_trees(
            ref_files / case.name, new_files / case.name, f"{case.name}/", rules
        ):
            add(f"{case.name}/{rel}", file_verdict)
    return lines, counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ref", default="main", help="git revision to compare with (main)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the tau-usi sample")
    parser.add_argument(
        "--reference", type=Path, default=DEFAULT_REFERENCE, help="the synthetic simulators"
    )
    parser.add_argument("--keep", type=Path, help="keep both sides' outputs in DIR/{ref,new}")
    parser.add_argument("--raw", action="store_true", help="compare without the normalisations")
    parser.add_argument("--only", action="append", help="run only cases matching this glob")
    parser.add_argument(
        "--jobs", type=int, default=len(os.sched_getaffinity(0)), help="commands at once (cores)"
    )
    args = parser.parse_args(argv)

    needed = [args.data / "tau_usi_sample.json"] + [
        args.reference / f
        for f in (
            "eval_results_synthetic-sim.json",
            "eval_results_synthetic-multirun.json",
            "survey_comparable_synthetic-sim.json",
        )
    ]
    missing = [p for p in needed if not p.is_file()]
    if missing:
        print(f"check_identical: data absent: {missing[0]} (see --data, --reference)")
        return 2
    if args.keep and args.keep.exists() and any(args.keep.iterdir()):
        print(f"check_identical: --keep {args.keep} exists and is not empty")
        return 2

    cases = commands(args.data.resolve(), args.reference.resolve())
    if args.only:
        wanted = {c.name for c in cases if any(fnmatch.fnmatchcase(c.name, g) for g in args.only)}
        wanted |= {c.after for c in cases if c.name in wanted and c.after}  # what they read
        cases = [c for c in cases if c.name in wanted]
    rules: list[tuple[str, str, str]] | None = [] if args.raw else None
    started = time.perf_counter()
    # SIGTERM unwinds like Ctrl-C, so the worktree and the temporary folder are removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="usi-identical-") as tmp:
        scratch = Path(tmp)
        with ref_worktree(args.ref, scratch) as ref_src:
            print(f"ref: {args.ref} ({ref_src / 'src'})", file=sys.stderr)
            ref = run_side(ref_src / "src", cases, scratch, scratch / "ref", args.jobs)
        print(f"new: this checkout ({REPO / 'src'})", file=sys.stderr)
        new = run_side(REPO / "src", cases, scratch, scratch / "new", args.jobs)
        lines, counts = report(cases, ref, new, scratch / "ref", scratch / "new", rules)
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            for side, results in (("ref", ref), ("new", new)):
                shutil.copytree(scratch / side, args.keep / side / "files")
                for name, r in results.items():
                    streams = args.keep / side / "streams"
                    streams.mkdir(parents=True, exist_ok=True)
                    (streams / f"{name}.stdout").write_bytes(r.stdout)
                    (streams / f"{name}.stderr").write_bytes(r.stderr)
                    (streams / f"{name}.rc").write_text(f"{r.rc}\n")
    for line in lines:
        print(line)
    total = sum(counts.values())
    bad = total - counts["same"]
    summary = ", ".join(f"{n} {k}" for k, n in counts.items() if n)
    elapsed = time.perf_counter() - started
    verdict = "all identical" if bad == 0 else f"{bad} of {total} not identical"
    print(f"summary: {verdict} ({summary}; {len(cases)} commands, ref {args.ref}, {elapsed:.0f} s)")
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("check_identical: interrupted; worktree and temporary files removed", file=sys.stderr)
        sys.exit(130)

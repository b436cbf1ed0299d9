"""Fingerprint throughput: usi vs ppol's BehavioralFingerprintExtractor, same episodes, same run.

    .venv/bin/python benchmarks/bench_fingerprint.py [--episodes 20000] [--ppol-episodes N]
    .venv/bin/python benchmarks/bench_fingerprint.py --raw [--episodes 20000] \
        [--definitions tau-usi,usi-v2]

``--raw``: whole process, the way a user meets it. A raw tau-usi file of real-format sessions
is written (the participants' messages of the real sample in ``../shared``, or of the repo's
test fixture when it is absent, and agent messages with the platform's full markup — think
blocks, ``<function=…>`` calls, ``<|tool|>`` results, canvas, survey form — where the sample
elides them), then ``usi fingerprint RAW.json --json --definitions D`` for each definition set
D (``--definitions``, default both) and a ppol script (load the same file,
``compute_fingerprint`` on every session's messages) each run as a fresh process, alternately,
``--repeats`` times. Wall time, CPU time and peak RSS of each process are reported.

In-memory mode (the default):

Both extractors get the same synthetic episodes (``_corpus.write_corpus``), already in memory:
usi gets the ``Episode`` objects (``fingerprint_frame``, which also extracts the user turns),
ppol gets each episode's messages as the ``[{"role", "content"}]`` list it expects (built
before its clock starts). The two run interleaved, one block of episodes each in turn, so that
both see the same load on a shared machine; wall-clock and CPU time are both reported.
``--ppol-episodes N`` runs ppol on the same share of every block only (the corpus is i.i.d., so
that is a same-distribution subset) and normalizes per episode.
Figures are printed, never asserted: timings depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _corpus import write_corpus
from usi.data.readers import read_canonical
from usi.fingerprint import fingerprint_frame
from usi.fingerprint.extract import CHUNK_EPISODES


def _timed(work: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) for one run of ``work``.

    CPU time is reported beside wall time because the benchmark machine is shared: other
    processes stretch wall time, much less the CPU time this process itself consumes.
    """
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu


def _ppol_all(extractor: Any, traces: list[list[dict[str, str]]]) -> None:
    for trace in traces:
        extractor.compute_fingerprint(trace)


REPO = Path(__file__).resolve().parents[1]
SHARED_SAMPLE = REPO.parent / "shared" / "data" / "tau-usi-sample"
if not SHARED_SAMPLE.exists():  # a worktree sits one level deeper than the main checkout
    SHARED_SAMPLE = REPO.parents[1] / "shared" / "data" / "tau-usi-sample"
FIXTURE = REPO / "tests" / "fixtures" / "tau_usi_small.json"
_ELIDED = "[agent message elided"

# ppol's side of the whole-process comparison: read the raw file, fingerprint every session.
PPOL_SCRIPT = """
import json, sys
from ppol.fingerprinting import BehavioralFingerprintExtractor
extractor = BehavioralFingerprintExtractor()
with open(sys.argv[1], encoding="utf-8") as handle:
    sessions = json.load(handle)
out = []
for key, session in sessions.items():
    trace = [{"role": m["role"], "content": m["content"]} for m in session["conversation"]]
    out.append({"episode_id": key, "features": extractor.compute_fingerprint(trace).features})
sys.stdout.write(str(len(out)) + "\\n")
"""


def _agent_messages(sessions: dict[str, Any]) -> list[str]:
    """Agent messages with real markup (not the canvas, not elided) to fill elided ones with."""
    return [
        m["content"]
        for s in sessions.values()
        for m in s["conversation"]
        if m["role"] == "assistant"
        and not m["content"].startswith((_ELIDED, "<|canvas|>", "<|highlight|>"))
    ]


def write_raw_corpus(path: Path, n_sessions: int, seed: int = 0) -> tuple[Path, str]:
    """A tau-usi file of ``n_sessions`` real-format sessions; returns (path, where from)."""
    sample = SHARED_SAMPLE / "tau_usi_sample.json"
    source = sample if sample.exists() else FIXTURE
    sessions: dict[str, Any] = json.loads(source.read_text(encoding="utf-8"))
    donors = dict(sessions)
    example = SHARED_SAMPLE / "format_example_synthetic.json"
    if example.exists():
        donors.update(json.loads(example.read_text(encoding="utf-8")))
    donors.update(json.loads(FIXTURE.read_text(encoding="utf-8")))
    agent = _agent_messages(donors)
    rng = random.Random(seed)
    keys = list(sessions)
    out: dict[str, Any] = {}
    for i in range(n_sessions):
        key = keys[i % len(keys)]
        session = sessions[key]
        domain, index = key.split("_")[:2]
        conversation = []
        for m in session["conversation"]:
            content = m["content"]
            if m["role"] == "assistant" and content.startswith(_ELIDED):
                content = rng.choice(agent)
            conversation.append({"role": m["role"], "content": content})
        out[f"{domain}_{index}_ann{i + 1}"] = {**session, "conversation": conversation}
    path.write_text(json.dumps(out), encoding="utf-8")
    return path, str(source)


# Linux keeps a process's peak RSS across exec: a child forked from this script (which holds
# the corpus it wrote) would report this script's size as its own peak. So each measured
# command is started by a small launcher process, and its peak is the launcher's reading.
LAUNCHER = """
import os, sys
report, command = sys.argv[1], sys.argv[2:]
pid = os.fork()
if pid == 0:
    os.execv(command[0], command)
_, status, usage = os.wait4(pid, 0)
with open(report, "w") as handle:
    handle.write(f"{usage.ru_utime + usage.ru_stime} {usage.ru_maxrss}")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def _run_process(command: list[str], env: dict[str, str]) -> tuple[float, float, float, str]:
    """(wall s, CPU s, peak RSS MB, stdout) of one fresh process running ``command``.

    ``os.wait4`` in the launcher gives that one process's own resource usage (CPU and max RSS).
    """
    with tempfile.NamedTemporaryFile("r", suffix=".rusage") as report:
        wall = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, report.name, *command], env=env, stdout=subprocess.PIPE
        )
        assert process.stdout is not None
        stdout = process.stdout.read().decode("utf-8")
        process.stdout.close()
        process.wait()
        wall = time.perf_counter() - wall
        if process.returncode:
            raise SystemExit(f"{command[:3]} failed with exit code {process.returncode}")
        cpu, rss_kb = report.read().split()
    return wall, float(cpu), int(rss_kb) / 1024, stdout


def whole_process(
    n_sessions: int, repeats: int, seed: int, definitions: tuple[str, ...] = ("tau-usi", "usi-v2")
) -> None:
    """``usi fingerprint RAW.json --json`` per definition set vs ppol on the same raw file,
    fresh processes."""
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")]))
    usi = [sys.executable, "-c", "from usi.cli import main; main()", "fingerprint"]
    names = [f"usi {d}" for d in definitions]
    with tempfile.TemporaryDirectory() as tmp:
        raw, source = write_raw_corpus(Path(tmp) / "raw.json", n_sessions, seed)
        size_mb = raw.stat().st_size / 1e6
        print(f"raw tau-usi file: {n_sessions} sessions, {size_mb:.0f} MB (users from {source})")
        runs: dict[str, list[tuple[float, float, float]]] = {name: [] for name in [*names, "ppol"]}
        for repeat in range(repeats):
            order = [*names, "ppol"] if repeat % 2 == 0 else ["ppol", *names]
            for name in order:
                if name == "ppol":
                    command = [sys.executable, "-c", PPOL_SCRIPT, str(raw)]
                else:
                    chosen = name.removeprefix("usi ")
                    command = [*usi, str(raw), "--json", "--definitions", chosen]
                wall, cpu, rss, stdout = _run_process(command, env)
                lines = int(stdout.strip()) if name == "ppol" else stdout.count("\n")
                assert lines == n_sessions, (name, lines)
                runs[name].append((wall, cpu, rss))
                print(
                    f"  {name:12s} run {repeat + 1}: {wall:6.2f} s wall, {cpu:6.2f} s CPU, "
                    f"peak RSS {rss:5.0f} MB",
                    flush=True,
                )
    best = {name: min(r[0] for r in rs) for name, rs in runs.items()}
    cpu = {name: min(r[1] for r in rs) for name, rs in runs.items()}
    peak = {name: max(r[2] for r in rs) for name, rs in runs.items()}
    for name in runs:
        print(
            f"{name:12s} whole process: best {best[name]:.2f} s wall "
            f"({n_sessions / best[name]:,.0f} sessions/s), {cpu[name]:.2f} s CPU, "
            f"peak RSS {peak[name]:.0f} MB"
        )
    for name in names:
        print(
            f"ratio ppol / {name}: {best['ppol'] / best[name]:.1f}x wall clock, "
            f"{cpu['ppol'] / cpu[name]:.1f}x CPU (target >= 15x, moonshot 30x); peak RSS "
            f"{peak[name]:.0f} MB vs ppol {peak['ppol']:.0f} MB (target: no more than ppol)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--episodes", type=int, default=20_000)
    parser.add_argument("--ppol-episodes", type=int, default=None, help="default: all")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--raw", action="store_true", help="whole process on a raw tau-usi file")
    parser.add_argument("--repeats", type=int, default=1, help="--raw: runs of each process")
    parser.add_argument(
        "--definitions",
        default="tau-usi,usi-v2",
        help="--raw: the definition sets `usi fingerprint` is measured with",
    )
    args = parser.parse_args()
    if args.raw:
        whole_process(args.episodes, args.repeats, args.seed, tuple(args.definitions.split(",")))
        return

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "corpus.jsonl"
        start = time.perf_counter()
        write_corpus(path, args.episodes, seed=args.seed)
        written = time.perf_counter() - start
        size_mb = path.stat().st_size / 1e6
        start = time.perf_counter()
        episodes = list(read_canonical(path))
        read = time.perf_counter() - start

    n = len(episodes)
    n_turns = sum(len(e.user_turns()) for e in episodes)
    print(f"corpus: {n} episodes, {n_turns} user turns, {size_mb:.1f} MB canonical JSONL")
    print(
        f"  write_corpus {n / written:,.0f} episodes/s; read_canonical {n / read:,.0f} episodes/s"
    )

    from ppol.fingerprinting import BehavioralFingerprintExtractor

    extractor = BehavioralFingerprintExtractor()
    share = min(args.ppol_episodes or n, n) / n
    usi_wall = usi_cpu = ppol_wall = ppol_cpu = 0.0
    n_ppol = 0
    # Interleaved, block by block: on a shared machine the load changes by the minute, and
    # alternating the two extractors exposes both to the same load.
    for begin in range(0, n, CHUNK_EPISODES):
        block = episodes[begin : begin + CHUNK_EPISODES]
        wall, cpu = _timed(partial(fingerprint_frame, block))
        usi_wall, usi_cpu = usi_wall + wall, usi_cpu + cpu
        subset = block[: max(1, round(len(block) * share))]
        traces = [[{"role": m.role, "content": m.content} for m in e.messages] for e in subset]
        wall, cpu = _timed(partial(_ppol_all, extractor, traces))
        ppol_wall, ppol_cpu = ppol_wall + wall, ppol_cpu + cpu
        n_ppol += len(subset)

    tracemalloc.start()
    frame = fingerprint_frame(episodes)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert frame.shape == (n, 19)

    usi_rate, ppol_rate = n / usi_wall, n_ppol / ppol_wall
    print(
        f"usi  fingerprint_frame: {usi_wall:.2f} s for {n} episodes = {usi_rate:,.0f} "
        f"episodes/s ({1e6 / usi_rate:.0f} µs/episode); CPU {n / usi_cpu:,.0f} episodes/s; "
        f"peak traced memory {peak / 1e6:.1f} MB for all {n} (chunks of {CHUNK_EPISODES})"
    )
    subset_note = "" if n_ppol == n else f" (same-distribution subset, {share:.0%} of each block)"
    print(
        f"ppol BehavioralFingerprintExtractor: {ppol_wall:.2f} s for {n_ppol} episodes"
        f"{subset_note} = {ppol_rate:,.0f} episodes/s ({1e6 / ppol_rate:.0f} µs/episode); "
        f"CPU {n_ppol / ppol_cpu:,.0f} episodes/s"
    )
    print(
        f"ratio usi / ppol (episodes/s): {usi_rate / ppol_rate:.1f}x wall clock, "
        f"{(n / usi_cpu) / (n_ppol / ppol_cpu):.1f}x CPU time (target >= 10x)"
    )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process max RSS {rss:.0f} MB (includes all {n} parsed episodes held in memory)")


if __name__ == "__main__":
    main()

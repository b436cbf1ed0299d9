"""Throughput and per-turn orchestration overhead of ``usi run`` next to τ²'s own runner.

Both runners drive the same offline models (oracle agent, cooperative user) through litellm
against the same offline server (its own child process, as ``usi run`` starts it), on the same
retail tasks at the same concurrency — so the only difference is the orchestration around the
model calls. usi runs twice: ``usi`` is the thread backend (one process, like τ²'s runner) and
``usi-proc`` the process backend (one spawned worker per core, threads in each; its wall time
includes spawning the workers and importing τ² and litellm in them).
τ²'s side is ``tau2.run.run_tasks`` (what ``tau2 run`` executes, with its results file), which
gets the task from the conversation (no header), the way it would under the ``tau2`` CLI.

    per-turn overhead = (wall time x concurrency - model calls x latency) / model calls

i.e. the time each model call costs beyond the model's own latency (HTTP, litellm, τ²'s
environment and evaluator, and for usi the survey call and the crash-safe append). usi makes
one more model call per episode than τ² (the survey); it is counted as a call.

    cpu ms/call = CPU seconds of the runner (this process + its finished worker processes,
                  not the offline server) / model calls

is what bounds throughput: on C cores no runner exceeds C / (cpu per call) calls per second.

Every level runs the same tasks (the first ``--tasks`` of retail): different tasks differ in
length and in CPU (the evaluator's work is per episode, not per call), so comparing levels on
different tasks would compare mixes, not concurrency. A level with more episodes in flight than
``--tasks / waves`` repeats them as trials, so that each level runs at least ``waves`` waves
(one wave would time the longest task). The speed-up is on episodes per minute, against the
concurrency-1 rate of the same runner (the thread backend's, for both usi backends: at
concurrency 1 the process backend is one worker, i.e. the thread backend plus start-up, and is
not run).

The last block runs the process backend at the highest latency and concurrency with one worker
and with one per core: how its throughput grows with cores when the model is not the limit.

Usage: ``python benchmarks/bench_run.py [--latencies 0,200] [--concurrency 1,8,32] [--tasks 32]``
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import resource
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


def _quiet() -> None:
    from loguru import logger

    logger.remove()


def run_usi(
    tasks: list[str],
    concurrency: int,
    out_dir: Path,
    backend: str = "thread",
    trials: int = 1,
    workers: int | None = None,
) -> int:
    from usi.run.episode import RoleSettings, RunSettings
    from usi.run.runner import run_episodes

    settings = RunSettings(
        domain="retail",
        agent=RoleSettings("offline/oracle"),
        user=RoleSettings("offline/cooperative"),
    )
    out = out_dir / f"usi-{concurrency}-{time.monotonic_ns()}.jsonl"
    summary = run_episodes(
        settings,
        out,
        task_ids=tasks,
        trials=trials,
        concurrency=concurrency,
        backend=backend,
        workers=workers,
        progress=False,
    )
    return summary.finished


def run_tau2(tasks: list[str], concurrency: int, out_dir: Path, trials: int = 1) -> int:
    from tau2.run import run_tasks

    from usi.llm.offline.server import default_server
    from usi.run.episode import domain_tasks

    server = default_server()
    args = {"api_base": server.api_base, "api_key": "usi-offline"}
    all_tasks = domain_tasks("retail")
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):  # τ² prints per task
        results = _run_tasks(run_tasks, all_tasks, tasks, args, concurrency, out_dir, trials)
    _quiet()
    return len(results.simulations)


def _run_tasks(run_tasks, all_tasks, tasks, args, concurrency, out_dir, trials):  # type: ignore[no-untyped-def]
    return run_tasks(
        domain="retail",
        tasks=[all_tasks[t] for t in tasks],
        agent="llm_agent",
        user="user_simulator",
        llm_agent="openai/oracle",
        llm_args_agent=dict(args),
        llm_user="openai/cooperative",
        llm_args_user=dict(args),
        num_trials=trials,
        max_concurrency=concurrency,
        save_to=out_dir / f"tau2-{concurrency}-{time.monotonic_ns()}.json",
        console_display=False,
        log_level="ERROR",
    )


def measure(
    runner: str,
    tasks: list[str],
    concurrency: int,
    latency_ms: float,
    out_dir: Path,
    trials: int = 1,
    workers: int | None = None,
) -> dict[str, float]:
    from usi.llm.offline.server import default_server

    server = default_server()
    server.set_latency(latency_ms)
    calls_before = server.requests
    cpu_before = _cpu_s()
    start = time.perf_counter()
    if runner == "tau2":
        episodes = run_tau2(tasks, concurrency, out_dir, trials)
    else:
        backend = "process" if runner == "usi-proc" else "thread"
        episodes = run_usi(tasks, concurrency, out_dir, backend, trials, workers)
    wall = time.perf_counter() - start
    cpu = _cpu_s() - cpu_before
    calls = server.requests - calls_before
    overhead = (wall * concurrency - calls * latency_ms / 1000) / calls
    return {
        "episodes": episodes,
        "calls": calls,
        "wall_s": wall,
        "episodes_per_min": episodes / wall * 60,
        "calls_per_s": calls / wall,
        "overhead_ms": overhead * 1000,
        "cpu_ms": cpu / calls * 1000,
    }


def trials_for(concurrency: int, tasks: int, waves: int) -> int:
    """Trials of the same tasks that give ``waves`` waves at ``concurrency`` (at least one)."""
    return max(1, math.ceil(waves * concurrency / tasks))


def _family(runner: str) -> str:
    """Whose concurrency-1 rate a runner's speed-up is measured against.

    Both usi backends against the thread backend's: at concurrency 1 the process backend only
    adds its workers' start-up, which would flatter its speed-up.
    """
    return "tau2" if runner == "tau2" else "usi"


def _cpu_s() -> float:
    """CPU of this process and of its reaped children (the process backend's workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latencies", default="0,200", help="ms per completion")
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--tasks", type=int, default=32, help="the same retail tasks at each level")
    parser.add_argument(
        "--waves",
        type=int,
        default=4,
        help="each level runs at least waves x concurrency episodes (trials of the same tasks)",
    )
    parser.add_argument("--runners", default="usi,usi-proc,tau2")
    parser.add_argument(
        "--no-cores", action="store_true", help="skip the process backend's 1-worker run"
    )
    args = parser.parse_args()
    _quiet()
    from usi.run.episode import domain_tasks, select_tasks

    domain_tasks("retail")
    tasks = select_tasks("retail", None, None)[: args.tasks]
    # Warm up: imports, task loading and the server, so neither runner pays them.
    with tempfile.TemporaryDirectory() as tmp:
        run_usi(tasks[:1], 1, Path(tmp))
        run_tau2(tasks[:1], 1, Path(tmp))
    print(f"{len(tasks)} retail tasks at every level; {os.cpu_count()} cores")
    print(
        f"{'latency':>7} {'conc':>4} {'runner':>8} {'episodes':>8} {'calls':>6} {'wall s':>7} "
        f"{'ep/min':>8} {'calls/s':>7} {'overhead ms/turn':>17} {'cpu ms/call':>11}"
    )
    runners = args.runners.split(",")
    baseline: dict[tuple[str, float], float] = {}
    measured: dict[tuple[float, int, str], dict[str, float]] = {}
    latencies = [float(x) for x in args.latencies.split(",")]
    levels = [int(x) for x in args.concurrency.split(",")]
    for latency in latencies:
        for concurrency in levels:
            trials = trials_for(concurrency, len(tasks), args.waves)
            row: dict[str, dict[str, float]] = {}
            for runner in runners:
                if runner == "usi-proc" and concurrency == 1:
                    continue  # one worker: the thread backend plus start-up
                with tempfile.TemporaryDirectory() as tmp:
                    m = measure(runner, tasks, concurrency, latency, Path(tmp), trials)
                row[runner] = measured[(latency, concurrency, runner)] = m
                if concurrency == 1:
                    baseline[(runner, latency)] = m["episodes_per_min"]
                _print_row(latency, concurrency, runner, m, baseline)
            if "tau2" in row:
                for usi in (r for r in row if r != "tau2"):
                    ratio = row[usi]["overhead_ms"] / row["tau2"]["overhead_ms"]
                    speed = row[usi]["episodes_per_min"] / row["tau2"]["episodes_per_min"]
                    print(
                        f"{'':>7} {'':>4} {usi}/τ² per-turn overhead ratio: {ratio:.2f}; "
                        f"throughput ratio: {speed:.2f}"
                    )
    _print_ceilings(measured)
    if not args.no_cores and "usi-proc" in runners and (os.cpu_count() or 1) > 1:
        _print_cores(measured, tasks, max(latencies), max(levels), args.waves)


def _print_row(
    latency: float,
    concurrency: int,
    runner: str,
    m: dict[str, float],
    baseline: dict[tuple[str, float], float],
) -> None:
    family = _family(runner)
    base = baseline.get((family, latency))
    speed = f"   speed-up vs {family} conc 1: {m['episodes_per_min'] / base:.1f}x " if base else ""
    print(
        f"{latency:>7.0f} {concurrency:>4} {runner:>8} {m['episodes']:>8.0f} "
        f"{m['calls']:>6.0f} {m['wall_s']:>7.2f} {m['episodes_per_min']:>8.1f} "
        f"{m['calls_per_s']:>7.1f} {m['overhead_ms']:>17.1f} {m['cpu_ms']:>11.1f}"
        + (f"{speed}(linear: {concurrency}x)" if speed else ""),
        flush=True,
    )


def _print_cores(
    measured: dict[tuple[float, int, str], dict[str, float]],
    tasks: list[str],
    latency: float,
    concurrency: int,
    waves: int,
) -> None:
    """The process backend on one worker next to one per core, same episodes: scaling in cores.

    When the runner is CPU-bound (see the ceiling block), throughput can only grow with cores;
    this shows how much of each added core the process backend turns into episodes.
    """
    every = measured.get((latency, concurrency, "usi-proc"))
    if every is None:
        return
    trials = trials_for(concurrency, len(tasks), waves)
    with tempfile.TemporaryDirectory() as tmp:
        one = measure("usi-proc", tasks, concurrency, latency, Path(tmp), trials, workers=1)
    cores = os.cpu_count() or 1
    gain = every["episodes_per_min"] / one["episodes_per_min"]
    print(
        f"\nprocess backend at {latency:.0f} ms, concurrency {concurrency}: "
        f"1 worker {one['episodes_per_min']:.1f} ep/min ({one['cpu_ms']:.1f} cpu ms/call), "
        f"{cores} workers {every['episodes_per_min']:.1f} ep/min: {gain:.2f}x on {cores} cores "
        f"(linear: {cores}x)"
    )


def _print_ceilings(measured: dict[tuple[float, int, str], dict[str, float]]) -> None:
    """Each runner's throughput at a latency as a share of the same runner at 0 ms.

    With a model that answers instantly, the same episodes at the same concurrency run as fast
    as this machine's CPU allows: that rate is the ceiling no scheduling can pass, whatever the
    model's latency. A share near 100% means the runner is CPU-bound here, not waiting.
    """
    lines = []
    for (latency, concurrency, runner), m in sorted(measured.items()):
        ceiling = measured.get((0.0, concurrency, runner))
        if latency > 0 and ceiling:
            share = m["calls_per_s"] / ceiling["calls_per_s"]
            lines.append(
                f"{latency:>7.0f} {concurrency:>4} {runner:>8}: {m['calls_per_s']:.1f} calls/s = "
                f"{share:.0%} of its 0 ms rate ({ceiling['calls_per_s']:.1f} calls/s, the CPU "
                f"ceiling on {os.cpu_count()} cores)"
            )
    if lines:
        print("\nshare of the CPU ceiling (same runner and concurrency with an instant model):")
        print("\n".join(lines))


if __name__ == "__main__":
    main()

"""Many episodes: concurrency, progress, crash-safe output, resume, and the τ² results file.

Each finished episode is appended to OUT as one line (``append_line``: one write + fsync), so
a killed run loses only the episodes in flight; ``resume`` reads OUT back, refuses a file
written with other settings (:func:`check_resumable`), drops a torn last line and the episodes
that failed (they run again), and skips the (task, trial) pairs already done. The same plan
runs on a thread pool (default), on worker processes each running threads
(``backend="process"``), or as Ray tasks (``backend="ray"``) with identical output; only this
process ever writes OUT.

Why a process backend: each model call also costs CPU here (litellm, τ²'s orchestrator and
evaluator), and threads share one GIL, so the thread backend stops scaling once that CPU fills
one core — however long the model takes. Workers are spawned (not forked: litellm and τ² hold
threads and locks) and all talk to the one offline server of the parent.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from usi.core.episode import Episode
from usi.data.io import append_line, atomic_writer, episode_line
from usi.errors import UsiInputError
from usi.llm.models import is_offline
from usi.outputs import check_output_file, output_lock
from usi.run.cpu import tuned_gc, warm_up
from usi.run.episode import RunSettings, run_episode, run_tasks, trial_seeds

BACKENDS = ("auto", "thread", "process", "ray")
# ``auto`` picks the process backend from this many episodes in flight (on 2+ cores): below
# it one core carries the orchestration (benchmarks/bench_run.py on 2 cores at 200 ms per
# completion: the thread backend is ahead at 8 in flight, 124 vs 107 episodes/min, the process
# backend at 32, 316 vs 213), and the workers' start-up (~2.5 s of imports each) is not worth
# paying.
AUTO_PROCESS_CONCURRENCY = 16
# Environment a worker process needs to behave like this process (offline server, no network).
_FORWARDED_ENV = (
    "LITELLM_LOCAL_MODEL_COST_MAP",
    "USI_OFFLINE_LATENCY_MS",
    "USI_OFFLINE_FAULTS",
    "USI_OFFLINE_API_BASE",
)


# Called with each finished episode, and its JSON line when a worker already made it.
Finished = Callable[[Episode, str | None], None]


@dataclass(frozen=True)
class EpisodeJob:
    task_id: str
    trial: int
    seed: int


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during a run: how many episodes OUT safely holds, for the one-line hint."""

    def __init__(self, written: int, out: Path, tau2_results: Path | None = None) -> None:
        super().__init__(written, out)
        self.written = written
        self.out = out
        self.tau2_results = tau2_results


class WorkersLost(Exception):
    """Worker processes died (killed, out of memory) with episodes unfinished."""


class RunStopped(Exception):
    """The run could not go on (its workers died): what OUT safely holds, for one line."""

    def __init__(self, reason: str, written: int, out: Path, tau2_results: Path | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.written = written
        self.out = out
        self.tau2_results = tau2_results


def _whole_lines(out: Path) -> int:
    """Newline-terminated lines of OUT: the episodes it safely holds."""
    return out.read_bytes().count(b"\n") if out.exists() else 0


@contextlib.contextmanager
def _interrupted(
    settings: RunSettings, summary: RunSummary, lock: threading.Lock
) -> Iterator[None]:
    """Ctrl-C: every finished episode is already a whole line of OUT; the τ² file gets them
    too, and :class:`RunInterrupted` carries the count to the CLI's one-line hint."""
    try:
        yield
    except KeyboardInterrupt:
        # Counted from OUT, not from the summary: Ctrl-C can land between a line's write and
        # its count (a signal interrupts the main thread anywhere), and OUT is what --resume
        # will read. A torn last line (no newline yet) is not an episode.
        with lock:
            safe = _whole_lines(summary.out)
        tau2 = summary.tau2_results
        try:
            write_tau2_results(settings, summary.out, tau2)
        except Exception:
            tau2 = None
        raise RunInterrupted(safe, summary.out, tau2) from None


@dataclass
class RunSummary:
    """What a run did; the CLI prints it."""

    out: Path
    tau2_results: Path | None
    planned: int
    skipped: int
    finished: int = 0
    errors: int = 0
    first_error: str | None = None
    rerun: int = 0
    rewards: list[float] = field(default_factory=list)
    dropped_torn_line: bool = False
    dropped_duplicates: int = 0
    backend: str = "thread"

    @property
    def all_failed(self) -> bool:
        """Every episode of this run failed (an infrastructure problem, not behaviour)."""
        return self.finished > 0 and self.errors == self.finished

    @property
    def success_rate(self) -> float | None:
        return sum(r >= 1.0 for r in self.rewards) / len(self.rewards) if self.rewards else None


def tau2_results_path(out: Path) -> Path:
    """The τ²-compatible results file written beside OUT."""
    return out.with_suffix(".tau2.json")


def _finished_lines(out: Path) -> tuple[list[tuple[Episode, bytes]], bool]:
    """(episode, its line) for each record of OUT, and whether a torn last line was dropped."""
    if not out.exists():
        return [], False
    lines = out.read_bytes().split(b"\n")
    records: list[tuple[Episode, bytes]] = []
    for number, line in enumerate(lines, start=1):
        is_last = number == len(lines) or (number == len(lines) - 1 and lines[-1] == b"")
        if not line.strip():
            continue
        try:
            records.append((Episode.model_validate_json(line), line))
        except ValidationError:
            if is_last:
                return records, True
            raise UsiInputError(
                "not a canonical episode line (cannot resume)", out, f"line {number}"
            ) from None
    return records, False


def _first_of_each(
    records: list[tuple[Episode, bytes]],
) -> list[tuple[Episode, bytes]]:
    """The first line of each (domain, task, trial): a file written by two overlapping runs
    before OUT was locked holds some episodes twice, which ``usi score`` refuses and a
    resume used to keep ("already done")."""
    seen: set[tuple[str, str | None, Any]] = set()
    first = []
    for episode, line in records:
        key = (episode.domain, episode.task_id, episode.metadata.get("trial"))
        if key not in seen:
            seen.add(key)
            first.append((episode, line))
    return first


def _rewrite(out: Path, lines: list[bytes]) -> None:
    """Replace OUT by exactly ``lines`` (atomically: a crash leaves the old file)."""
    with atomic_writer(out) as handle:
        for line in lines:
            handle.write(line.decode("utf-8"))
            handle.write("\n")


def read_finished(out: Path, *, repair: bool) -> tuple[list[Episode], bool]:
    """Episodes in OUT; a torn last line (crash mid-write) is dropped, and cut if ``repair``."""
    records, torn = _finished_lines(out)
    if torn and repair:
        _rewrite(out, [line for _, line in records])
    return [episode for episode, _ in records], torn


# The settings a resumed run must share with the file (paths into ``RunSettings.recorded()``):
# what decides an episode's behaviour. Retries, timeouts and base URLs may change.
RESUME_SETTINGS: tuple[tuple[str, ...], ...] = (
    ("domain",),
    ("seed",),
    ("agent", "model"),
    ("agent", "temperature"),
    ("agent", "seed"),
    ("user", "model"),
    ("user", "temperature"),
    ("user", "seed"),
    ("simulator", "kind"),
    ("simulator", "plugin"),
    ("simulator", "user_prompt_sha256"),
    ("simulator", "persona_sha256"),
    ("protocol",),
    ("instructions", "sha256"),
)
# What a file written before a setting existed means by its absence.
_RESUME_DEFAULTS: dict[tuple[str, ...], Any] = {("protocol",): "tau2"}


def _setting(recorded: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        recorded = recorded.get(key) if isinstance(recorded, dict) else None
    return recorded


def check_resumable(settings: RunSettings, episodes: list[Episode], out: Path) -> None:
    """Refuse to append this run to a file written by another run (exit 2, nothing written).

    Every episode in OUT must come from ``usi run`` with the same source and the same
    :data:`RESUME_SETTINGS`; otherwise resuming would mix two simulators, or a simulator and
    people, in one file.
    """
    now = settings.recorded()
    for number, episode in enumerate(episodes, start=1):
        where = f"episode {number} ({episode.episode_id})"
        if episode.source != settings.source:
            raise UsiInputError(
                f"holds episodes of source {episode.source!r}, this run's is "
                f"{settings.source!r} (cannot resume; use another -o)",
                out,
                where,
            )
        recorded = episode.metadata.get("settings")
        if not isinstance(recorded, dict):
            raise UsiInputError(
                "holds episodes not written by usi run (cannot resume; use another -o)", out, where
            )
        for path in RESUME_SETTINGS:
            then, wanted = _setting(recorded, path), _setting(now, path)
            if then is None:
                then = _RESUME_DEFAULTS.get(path)
            if then != wanted:
                name = ".".join(path).replace("_sha256", " file")
                raise UsiInputError(
                    f"written with other settings ({name}: {then!r} in the file, {wanted!r} "
                    "now); resume with the same settings, or use another -o",
                    out,
                    where,
                )


def resolve_backend(backend: str, concurrency: int, jobs: int) -> str:
    """The backend ``auto`` stands for: processes once one core would limit the run."""
    if backend != "auto":
        return backend
    cores = os.cpu_count() or 1
    busy = min(concurrency, jobs)
    return "process" if cores > 1 and busy >= AUTO_PROCESS_CONCURRENCY else "thread"


def plan_jobs(settings: RunSettings, task_ids: list[str], trials: int) -> list[EpisodeJob]:
    seeds = trial_seeds(settings.seed, trials)
    return [EpisodeJob(t, trial, seeds[trial]) for trial in range(trials) for t in task_ids]


def run_episodes(
    settings: RunSettings,
    out: str | Path,
    *,
    task_ids: list[str] | None = None,
    split: str | None = None,
    trials: int = 1,
    concurrency: int = 1,
    resume: bool = False,
    overwrite: bool = False,
    backend: str = "thread",
    ray_address: str | None = None,
    workers: int | None = None,
    on_episode: Callable[[Episode], None] | None = None,
    progress: bool = True,
) -> RunSummary:
    """Run ``trials`` episodes of each task, appending each to ``out`` as it finishes.

    ``backend="auto"`` (the CLI's default) uses worker processes from
    :data:`AUTO_PROCESS_CONCURRENCY` episodes in flight; it is not this function's default
    because spawned workers re-import the calling script, which then needs the usual
    ``if __name__ == "__main__":`` guard. ``workers``: processes of the process backend (one
    per core by default; fewer leaves cores to other work).
    """
    out_path = Path(out)
    if backend not in BACKENDS:
        raise UsiInputError(
            f"unknown backend {backend!r} (known: {', '.join(BACKENDS)})", where="--backend"
        )
    if trials < 1 or concurrency < 1:
        raise UsiInputError("--trials and --concurrency must be at least 1")
    if workers is not None and workers < 1:
        raise UsiInputError("--workers must be at least 1")
    selected = run_tasks(settings, task_ids, split)
    if resume and overwrite:
        raise UsiInputError("--resume continues OUT and --overwrite replaces it: give one")
    check_output_file(out_path, overwrite=overwrite, resume=resume, create_parent=True)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with output_lock(out_path):
        return _run_locked(
            settings,
            out_path,
            selected,
            trials=trials,
            concurrency=concurrency,
            resume=resume,
            overwrite=overwrite,
            backend=backend,
            ray_address=ray_address,
            workers=workers,
            on_episode=on_episode,
            progress=progress,
        )


def _run_locked(
    settings: RunSettings,
    out_path: Path,
    selected: list[str],
    *,
    trials: int,
    concurrency: int,
    resume: bool,
    overwrite: bool,
    backend: str,
    ray_address: str | None,
    workers: int | None,
    on_episode: Callable[[Episode], None] | None,
    progress: bool,
) -> RunSummary:
    """:func:`run_episodes` once OUT is this run's alone (read for resume, then appended)."""
    records, torn = _finished_lines(out_path) if resume else ([], False)
    check_resumable(settings, [episode for episode, _ in records], out_path)
    ran = [(e, line) for e, line in records if e.infrastructure_error is None]
    good = _first_of_each(ran)
    if torn or len(good) < len(records):
        _rewrite(out_path, [line for _, line in good])  # failed episodes run again
    if overwrite and out_path.exists():
        out_path.unlink()
    finished_keys = {(e.domain, e.task_id, e.metadata.get("trial")) for e, _ in good}
    jobs = [
        j
        for j in plan_jobs(settings, selected, trials)
        if (settings.domain, j.task_id, j.trial) not in finished_keys
    ]
    summary = RunSummary(
        out=out_path,
        tau2_results=tau2_results_path(out_path),
        planned=len(jobs) + len(finished_keys),
        skipped=len(finished_keys),
        rerun=len(records) - len(ran),
        dropped_duplicates=len(ran) - len(good),
        dropped_torn_line=torn,
        backend=resolve_backend(backend, concurrency, len(jobs)),
    )
    lock = threading.Lock()

    def record(episode: Episode, line: str | None) -> None:
        with lock:
            append_line(out_path, line if line is not None else episode_line(episode))
            summary.finished += 1
            error = episode.infrastructure_error
            if error:
                summary.errors += 1
                summary.first_error = summary.first_error or str(error)
            if episode.reward is not None:
                summary.rewards.append(episode.reward)
        if on_episode is not None:
            on_episode(episode)

    with (
        _interrupted(settings, summary, lock),
        _progress(len(jobs), settings, enabled=progress) as advance,
    ):

        def finished(episode: Episode, line: str | None) -> None:
            """``line``: the episode as a worker already serialised it, appended as it is."""
            record(episode, line)
            advance(episode)

        if summary.backend == "ray":
            _run_ray(settings, jobs, concurrency, ray_address, finished)
        elif summary.backend == "process":
            try:
                _run_processes(settings, jobs, concurrency, finished, workers)
            except WorkersLost as exc:
                # Every finished episode is a whole line of OUT: say so, write the τ² file
                # of those, and let --resume run the rest (was: a RuntimeError traceback).
                with lock:
                    safe = _whole_lines(out_path)
                write_tau2_results(settings, out_path, summary.tau2_results)
                raise RunStopped(str(exc), safe, out_path, summary.tau2_results) from None
        else:
            warm_up(settings.domain)
            with tuned_gc():
                _run_threads(settings, jobs, concurrency, finished)
    write_tau2_results(settings, out_path, summary.tau2_results)
    return summary


def _run_threads(
    settings: RunSettings,
    jobs: list[EpisodeJob],
    concurrency: int,
    finished: Finished,
) -> None:
    from concurrent.futures import ThreadPoolExecutor, as_completed

    if not jobs:
        return
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="usi-episode") as pool:
        futures = [pool.submit(run_episode, settings, j.task_id, j.trial, j.seed) for j in jobs]
        try:
            for future in as_completed(futures):
                finished(future.result(), None)
        except BaseException:
            for f in futures:
                f.cancel()
            raise


def _worker_env(settings: RunSettings) -> dict[str, str]:
    """The environment workers get; offline models are served by this process's server."""
    from usi.tau.env import COST_MAP_ENV

    env = {k: os.environ[k] for k in _FORWARDED_ENV if k in os.environ}
    env.setdefault(COST_MAP_ENV, "True")
    if any(m and is_offline(m) for m in (settings.agent.model, settings.user.model)):
        from usi.llm.offline.server import API_BASE_ENV, default_server

        env[API_BASE_ENV] = default_server().api_base
    return env


def worker_threads(concurrency: int, jobs: int, workers: int | None = None) -> list[int]:
    """Threads of each worker process: ``concurrency`` spread evenly, one worker per core.

    Never more workers than episodes in flight or to run: an idle worker still pays ~2.5 s
    of CPU importing τ² and litellm.
    """
    n = max(1, min(concurrency, jobs, workers or os.cpu_count() or 1))
    return [concurrency // n + (i < concurrency % n) for i in range(n)]


def _run_processes(
    settings: RunSettings,
    jobs: list[EpisodeJob],
    concurrency: int,
    finished: Finished,
    workers: int | None = None,
) -> None:
    """``concurrency`` episodes in flight over ``workers`` spawned processes (default: one per
    core), threads in each."""
    import multiprocessing

    from usi.run.workers import process_worker

    if not jobs:
        return
    threads = worker_threads(concurrency, len(jobs), workers)
    context = multiprocessing.get_context("spawn")
    job_queue: Any = context.Queue()
    results: Any = context.Queue()
    for job in jobs:
        job_queue.put((job.task_id, job.trial, job.seed))
    for _ in range(concurrency):
        job_queue.put(None)
    env = _worker_env(settings)
    settings_blob = pickle.dumps(settings)  # loaded by the worker once τ²'s logging is off
    processes = [
        context.Process(
            target=process_worker,
            args=(settings_blob, n, env, job_queue, results),
            name=f"usi-run-{i}",
            daemon=True,  # never outlive the run
        )
        for i, n in enumerate(threads)
    ]
    for process in processes:
        process.start()
    try:
        received = 0
        while received < len(jobs):
            try:
                message = results.get(timeout=0.5)
            except queue.Empty:
                # A worker killed (OOM, kill -9) may have died holding the job queue's
                # lock, so the others can hang: the run stops as soon as one is lost.
                lost = [p for p in processes if not p.is_alive() and p.exitcode != 0]
                if lost or not any(p.is_alive() for p in processes):
                    codes = ", ".join(str(p.exitcode) for p in lost) or "0"
                    raise WorkersLost(
                        f"a worker process died (exit code {codes}) with "
                        f"{len(jobs) - received} episode(s) unfinished"
                    ) from None
                continue
            received += 1
            if message[0] == "input_error":
                raise UsiInputError(message[1], message[2], message[3])
            if message[0] == "crash":
                raise WorkersLost(f"episode worker crashed: {message[1]}")
            finished(Episode.model_validate_json(message[1]), message[1])
        for process in processes:
            process.join(timeout=30)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)
        job_queue.cancel_join_thread()
        results.cancel_join_thread()


def _ray_episode(settings: RunSettings, task_id: str, trial: int, seed: int) -> str:
    from usi.run.cpu import tune_worker_gc
    from usi.tau.env import setup_environment

    setup_environment()
    tune_worker_gc(settings.domain)
    return episode_line(run_episode(settings, task_id, trial, seed))


def _run_ray(
    settings: RunSettings,
    jobs: list[EpisodeJob],
    concurrency: int,
    address: str | None,
    finished: Finished,
) -> None:
    import ray

    if not jobs:
        return
    env = _worker_env(settings)
    if address:  # a remote cluster cannot reach this machine's 127.0.0.1
        env.pop("USI_OFFLINE_API_BASE", None)
    started_here = False
    if not ray.is_initialized():
        init: dict[str, Any] = {
            "runtime_env": {"env_vars": env},
            "include_dashboard": False,
            "log_to_driver": False,
            "ignore_reinit_error": True,
        }
        if address:
            init["address"] = address
        else:
            init["num_cpus"] = max(1, min(concurrency, os.cpu_count() or 1))
        ray.init(**init)
        started_here = True
    remote = ray.remote(num_cpus=0.0001, max_retries=0)(
        _ray_episode
    )  # episodes wait on I/O, not CPU
    try:
        pending = list(jobs)
        in_flight: list[Any] = []
        while pending or in_flight:
            while pending and len(in_flight) < concurrency:
                job = pending.pop(0)
                in_flight.append(remote.remote(settings, job.task_id, job.trial, job.seed))
            ready, in_flight = ray.wait(in_flight, num_returns=1)
            for ref in ready:
                line = ray.get(ref)
                finished(Episode.model_validate_json(line), line)
    finally:
        if started_here and not address:
            ray.shutdown()


class _progress:
    """A rich progress bar with ETA, tokens, cost and success so far (silent when disabled)."""

    def __init__(self, total: int, settings: RunSettings, enabled: bool) -> None:
        self.total = total
        self.enabled = enabled
        self.settings = settings
        self.tokens = 0
        self.cost = 0.0
        self.successes = 0
        self.count = 0

    def __enter__(self) -> Callable[[Episode], None]:
        if not self.enabled:
            return self._count
        from rich.console import Console
        from rich.progress import Progress

        from usi.layout import progress_columns

        # Progress is for a person at a terminal, on stderr; a pipe or a log gets only the
        # summary line.
        console = Console(stderr=True)
        self.bar = Progress(
            *progress_columns(console.width),
            console=console,
            transient=False,
            disable=not console.is_terminal,
        )
        self.bar.__enter__()
        self.task = self.bar.add_task(
            f"{self.settings.domain} · {self.settings.source}", total=self.total, stats=""
        )
        return self._advance

    def _count(self, episode: Episode) -> None:
        self.count += 1
        tokens = episode.metadata.get("tokens", {})
        self.tokens += sum(
            v.get("prompt_tokens", 0) + v.get("completion_tokens", 0) for v in tokens.values()
        )
        cost = episode.metadata.get("cost", {})
        self.cost += sum(c for c in cost.values() if isinstance(c, int | float))
        self.successes += (episode.reward or 0.0) >= 1.0

    def _advance(self, episode: Episode) -> None:
        self._count(episode)
        stats = f"tokens {self.tokens:,} · ${self.cost:.4f} · success {self.successes}/{self.count}"
        self.bar.update(self.task, advance=1, stats=stats)

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self.bar.__exit__(None, None, None)


def iter_out(out: Path) -> Iterator[Episode]:
    episodes, _ = read_finished(out, repair=False)
    yield from episodes


def write_tau2_results(settings: RunSettings, out: Path, target: Path | None) -> None:
    """All episodes of OUT as a τ² ``Results`` file; survey in reward_info.info.usi_survey."""
    if target is None:
        return
    from tau2.data_model.simulation import (
        AgentInfo,
        Info,
        Results,
        RewardInfo,
        SimulationRun,
        UserInfo,
    )
    from tau2.registry import registry

    from usi.tau.messages import ENDED_BY, to_tau
    from usi.tau.tasks import domain_tasks

    episodes = list(iter_out(out))
    tasks = domain_tasks(settings.domain)
    simulations = []
    for ep in episodes:
        if ep.domain != settings.domain or ep.task_id not in tasks:
            continue
        meta = ep.metadata
        messages = to_tau(ep.messages, meta.get(ENDED_BY))
        reward_info = RewardInfo.model_validate(
            meta.get("reward_info") or {"reward": ep.reward or 0.0}
        )
        reward_info.info = {
            **(reward_info.info or {}),
            "usi_survey": ep.survey,
            "usi_source": ep.source,
            "usi_episode_id": ep.episode_id,
            "usi_error": meta.get("error"),
        }
        cost = meta.get("cost") or {}
        simulations.append(
            SimulationRun(
                id=str(meta.get("tau2_simulation_id") or ep.episode_id),
                task_id=str(ep.task_id),
                start_time=str(meta.get("start_time") or ""),
                end_time=str(meta.get("end_time") or ""),
                duration=float(meta.get("duration_s") or 0.0),
                termination_reason=meta.get("termination_reason") or "agent_error",
                agent_cost=cost.get("agent"),
                user_cost=cost.get("user"),
                reward_info=reward_info,
                messages=messages,
                trial=meta.get("trial"),
                seed=meta.get("seed"),
            )
        )
    used = sorted({s.task_id for s in simulations}, key=lambda t: (len(t), t))
    environment = registry.get_env_constructor(settings.domain)()
    info = Info(
        git_commit="",
        num_trials=max((int(s.trial or 0) for s in simulations), default=0) + 1,
        max_steps=settings.max_steps,
        max_errors=settings.max_errors,
        user_info=UserInfo(
            implementation=f"usi:{settings.simulator.kind}",
            llm=settings.user.model,
            llm_args=settings.user.sampling(),
        ),
        agent_info=AgentInfo(
            implementation="llm_agent", llm=settings.agent.model, llm_args=settings.agent.sampling()
        ),
        environment_info=environment.get_info(),
        seed=settings.seed,
    )
    results = Results(info=info, tasks=[tasks[t] for t in used], simulations=simulations)
    with atomic_writer(target) as handle:
        handle.write(results.model_dump_json(indent=2))


def summary_line(summary: RunSummary) -> str:
    """What the run did, in one line: counts, failures with the first error, success, files."""
    rate = summary.success_rate
    text = f"{summary.finished} episode(s) run, {summary.skipped} already done"
    if summary.rerun:
        text += f" ({summary.rerun} failed before, run again)"
    if summary.dropped_duplicates:
        text += f" ({summary.dropped_duplicates} written twice by overlapping runs, dropped)"
    if summary.errors:
        text += f", {summary.errors} failed (first error: {summary.first_error})"
    if rate is not None:
        text += f"; success {rate:.0%} over the episodes of this run that ran"
    if summary.finished and summary.backend != "thread":
        text += f" ({summary.backend} backend)"
    text += f" → {summary.out}"
    if summary.tau2_results:
        text += f" (τ² results: {summary.tau2_results})"
    return text


def failure_line(summary: RunSummary) -> str:
    """The one line of a run whose every episode failed (the CLI exits 1 with it)."""
    return (
        f"all {summary.finished} episode(s) failed, none recorded as behaviour; "
        f"first error: {summary.first_error} (fix it, then rerun with --resume) → {summary.out}"
    )


def dumps_settings(settings: RunSettings) -> str:
    return json.dumps(settings.recorded(), sort_keys=True)

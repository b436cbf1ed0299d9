"""Where a run's episodes run: a thread pool, spawned worker processes, or Ray tasks.

The same plan runs on a thread pool (``thread``), on worker processes each running threads
(``process``), or as Ray tasks (``ray``) with identical output; every backend hands each
finished episode to the caller's :data:`Finished`, and only the calling process writes OUT.

Why a process backend: each model call also costs CPU here (litellm, τ²'s orchestrator and
evaluator), and threads share one GIL, so the thread backend stops scaling once that CPU fills
one core — however long the model takes. Workers are spawned (not forked: litellm and τ² hold
threads and locks) and all talk to the one offline server of the parent.
"""

from __future__ import annotations

import os
import pickle
import queue
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from usi.core.episode import Episode
from usi.data.io import episode_line
from usi.errors import UsiInputError
from usi.llm.hooks import worker_env as model_worker_env
from usi.run.cpu import tuned_gc
from usi.run.episode import RunSettings, run_episode
from usi.tau.env import COST_MAP_ENV
from usi.tau.environment import warm_up
from usi.workers import usable_cores

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
    """One episode to run: a task, its trial number and that trial's seed."""

    task_id: str
    trial: int
    seed: int


class WorkersLost(Exception):
    """Worker processes died (killed, out of memory) with episodes unfinished."""


def resolve_backend(backend: str, concurrency: int, jobs: int) -> str:
    """The backend ``auto`` stands for: processes once one core would limit the run."""
    if backend != "auto":
        return backend
    cores = usable_cores()
    busy = min(concurrency, jobs)
    return "process" if cores > 1 and busy >= AUTO_PROCESS_CONCURRENCY else "thread"


def run_threads(
    settings: RunSettings,
    jobs: list[EpisodeJob],
    concurrency: int,
    finished: Finished,
) -> None:
    """``concurrency`` episodes in flight on threads of this process, its heap frozen first."""
    warm_up(settings.domain)
    with tuned_gc():
        _thread_pool(settings, jobs, concurrency, finished)


def _thread_pool(
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


def worker_env(settings: RunSettings) -> dict[str, str]:
    """The environment workers get: this process's, and what the models' families need
    (:mod:`usi.llm.hooks`; the offline models are served by this process's server)."""
    env = {k: os.environ[k] for k in _FORWARDED_ENV if k in os.environ}
    env.setdefault(COST_MAP_ENV, "True")
    env.update(model_worker_env((settings.agent.model, settings.user.model)))
    return env


def worker_threads(concurrency: int, jobs: int, workers: int | None = None) -> list[int]:
    """Threads of each worker process: ``concurrency`` spread evenly, one worker per core.

    Never more workers than episodes in flight or to run: an idle worker still pays ~2.5 s
    of CPU importing τ² and litellm.
    """
    n = max(1, min(concurrency, jobs, workers or usable_cores()))
    return [concurrency // n + (i < concurrency % n) for i in range(n)]


def run_processes(
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
    env = worker_env(settings)
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


def run_ray(
    settings: RunSettings,
    jobs: list[EpisodeJob],
    concurrency: int,
    address: str | None,
    finished: Finished,
) -> None:
    import ray

    if not jobs:
        return
    env = worker_env(settings)
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
            init["num_cpus"] = max(1, min(concurrency, usable_cores()))
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

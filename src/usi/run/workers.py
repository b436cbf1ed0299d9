"""The body of a ``--backend process`` worker (spawned by :mod:`usi.run.runner`).

A module of its own so that a spawned worker silences τ²'s import-time logging (loguru) before
unpickling its target pulls τ² in: a run must not print a banner per worker.
"""

from __future__ import annotations

import multiprocessing
import os
from typing import TYPE_CHECKING, Any

if multiprocessing.parent_process() is not None:  # only in a spawned worker, never the parent
    from loguru import logger

    logger.remove()

if TYPE_CHECKING:
    from usi.run.episode import RunSettings


def process_worker(
    settings: RunSettings,
    threads: int,
    env: dict[str, str],
    jobs: Any,
    results: Any,
) -> None:
    """One worker process: ``threads`` threads pull jobs until a ``None`` and send lines back."""
    os.environ.update(env)
    from concurrent.futures import ThreadPoolExecutor

    from usi.data.io import episode_line
    from usi.errors import UsiInputError
    from usi.run.cpu import tune_worker_gc
    from usi.run.episode import run_episode

    tune_worker_gc(settings.domain)

    def work() -> None:
        while (job := jobs.get()) is not None:
            try:
                results.put(("episode", episode_line(run_episode(settings, *job))))
            except UsiInputError as exc:
                results.put(("input_error", exc.message, exc.path, exc.where))
            except BaseException as exc:  # run_episode keeps episode failures; this is a bug
                results.put(("crash", f"{type(exc).__name__}: {exc}"))

    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="usi-episode") as pool:
        for _ in range(threads):
            pool.submit(work)

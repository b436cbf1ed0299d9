"""The body of a ``--backend process`` worker (spawned by :mod:`usi.run.backends`).

A spawned worker imports its target's module, and unpickles its arguments, before the target
runs: if the run settings came as an object, unpickling them would import τ² with loguru's
default handler still on, and every episode would then print τ²'s DEBUG log lines (each tool
response, whole orders) to the caller's stderr. So the settings arrive pickled, and are loaded
only once τ²'s logging is off (:func:`usi.tau.env.setup_environment`). (A module-level check
cannot do this:
``multiprocessing.parent_process()`` is still ``None`` while a spawned child unpickles its
target.)
"""

from __future__ import annotations

import os
import pickle
from typing import Any


def process_worker(
    settings_blob: bytes,
    threads: int,
    env: dict[str, str],
    jobs: Any,
    results: Any,
) -> None:
    """One worker process: ``threads`` threads pull jobs until a ``None`` and send lines back.

    ``settings_blob`` is the pickled :class:`~usi.run.episode.RunSettings` of the run.
    """
    os.environ.update(env)
    from usi.tau.env import setup_environment

    setup_environment()
    from concurrent.futures import ThreadPoolExecutor

    from usi.data.io import episode_line
    from usi.errors import UsiInputError
    from usi.run.cpu import tune_worker_gc
    from usi.run.episode import RunSettings, run_episode

    settings: RunSettings = pickle.loads(settings_blob)
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

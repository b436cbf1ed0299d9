"""Worker processes for the CPU-bound parts of a report: simulators and sections.

Simulators are independent (read, fingerprint, score) and so are the sections (each draws
its own figures), so on a multi-core machine they run in a small process pool. The pool
is a fresh ``forkserver``, never a fork of this process, whose threads and OpenMP state a
fork would copy; each worker keeps BLAS/OpenMP to one thread because the workers already
use every core.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager

from usi import workers

#: Below this many simulators, starting worker processes costs more than it saves.
PARALLEL_MIN_SIMS = 4
#: Imported once in the fork server, so each worker starts warm.
PRELOAD: tuple[str, ...] = (
    "threadpoolctl",
    "usi.metrics.score",
    "usi.fingerprint",
    "usi.report.build",
)


def default_workers(n_sims: int) -> int:
    """One worker per core when there are enough simulators to pay for starting them."""
    return workers.default_workers(n_sims, pays_from=PARALLEL_MIN_SIMS)


def _start_worker() -> None:
    """A worker is an entry point: the environment set-up (quiet τ² logging, litellm's offline
    cost map) and one BLAS thread each, as the pool already runs one process per core."""
    from threadpoolctl import threadpool_limits

    from usi.tau.env import setup_environment

    setup_environment()
    threadpool_limits(1)


@contextmanager
def worker_pool(workers: int) -> Iterator[Executor | None]:
    """A process pool of ``workers`` processes, or None (run in this process) for 1."""
    if workers <= 1:
        yield None
        return
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(PRELOAD))
    with ProcessPoolExecutor(workers, context, initializer=_start_worker) as pool:
        yield pool

"""What keeps the CPU each model call costs low, so runs scale with concurrency.

At 200 ms per completion, 32 episodes in flight make ~160 model calls a second; on two cores
that leaves ~12 ms of CPU per call for everything around the model (litellm, τ²'s agent,
environment and evaluator). Profiling a run showed four costs that are not the work itself
but how it is done, and each is removed here without changing what τ² computes:

- **Garbage collection.** A τ² domain database is ~30,000 collector-tracked objects (retail;
  36,000 airline), every episode builds three (its own environment, the evaluator's gold and
  predicted ones) and dumps two to hash them. Each such burst triggered cyclic collections
  that rescanned the whole long-lived heap (litellm, τ², the tasks): about 40% of a run's CPU.
  :func:`tuned_gc` freezes the heap that exists before the run and collects less often.
- **Reparsing the database file.** :func:`usi.tau.environment.environment` builds τ²'s own
  environment (``get_environment(db=...)``) on a fresh copy of the database ``DB.load`` read
  once per process, so no two environments share a mutable object.
- **Rebuilding tool schemas.** τ²'s ``generate`` asks each tool for its OpenAI schema on
  every agent turn, which regenerates a JSON schema from a pydantic model;
  :func:`usi.tau.environment.schema_cached_tools` hands the agent the same tools with that
  schema computed once.
- **Interleaving database work.** Building an environment and τ²'s evaluation (two more copies,
  two full hashes) are ~100 ms of pure CPU per episode. When 16 threads of one process do it
  at once, the interpreter switches between them every few ms, each time onto another
  database's objects, and the same work costs twice the CPU. :data:`database_work` lets one
  thread at a time do it; they could not run in parallel under the GIL anyway, and threads
  waiting on a model are not held up.

The evaluator gets the cached-database environment through τ²'s public registry
(:func:`usi.tau.environment.evaluation_domain`), so its reward logic is τ²'s, unmodified.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from usi.tau.env import GC_THRESHOLDS
from usi.tau.environment import warm_up

# One thread per process at a time builds or evaluates a τ² database (see the module docstring).
database_work = threading.Lock()

_gc_lock = threading.Lock()
_gc_users = 0
_gc_saved: tuple[int, int, int] | None = None
_worker_tuned = False


def _tune_gc() -> None:
    # The entry points' thresholds (:data:`usi.tau.env.GC_THRESHOLDS`), set here too for a
    # library caller's run: a full collection every ~200 episodes; an episode's allocations
    # are its database copies and messages, freed by reference counting, while its cyclic
    # garbage (~2,400 objects, < 1 MB) can wait for the next full collection.
    gc.collect(1)  # the young garbage; a full collection would rescan the whole heap
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


@contextmanager
def tuned_gc() -> Iterator[None]:
    """Freeze the heap built so far and collect less often while a run is in progress.

    Re-entrant and thread-safe: the first entry tunes, the last exit restores the caller's
    thresholds and unfreezes, so a library user's process is left as it was found.
    """
    global _gc_users, _gc_saved
    with _gc_lock:
        if _gc_users == 0:
            _gc_saved = gc.get_threshold()
            _tune_gc()
        _gc_users += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_users -= 1
            if _gc_users == 0 and _gc_saved is not None:
                gc.set_threshold(*_gc_saved)
                gc.unfreeze()
                _gc_saved = None


def tune_worker_gc(domain: str) -> None:
    """For a process that only runs episodes (process and Ray workers): tune once, for good."""
    global _worker_tuned
    with _gc_lock:
        if _worker_tuned:
            return
        warm_up(domain)
        _tune_gc()
        _worker_tuned = True

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
- **Reparsing the database file.** :func:`environment` builds τ²'s own environment
  (``get_environment(db=...)``) on a fresh copy of the database ``DB.load`` read once per
  process, so no two environments share a mutable object.
- **Rebuilding tool schemas.** τ²'s ``generate`` asks each tool for its OpenAI schema on
  every agent turn, which regenerates a JSON schema from a pydantic model;
  :func:`schema_cached_tools` hands the agent the same tools with that schema computed once.
- **Interleaving database work.** Building an environment and τ²'s evaluation (two more copies,
  two full hashes) are ~100 ms of pure CPU per episode. When 16 threads of one process do it
  at once, the interpreter switches between them every few ms, each time onto another
  database's objects, and the same work costs twice the CPU. :data:`database_work` lets one
  thread at a time do it; they could not run in parallel under the GIL anyway, and threads
  waiting on a model are not held up.

The evaluator gets the cached-database environment through τ²'s public registry
(:func:`evaluation_domain`), so its reward logic is τ²'s, unmodified.
"""

from __future__ import annotations

import copy
import gc
import pickle
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

# A young collection every 100,000 net allocations instead of 700, and a full one every
# 10 x 50 of those (~200 episodes): an episode's allocations are its database copies and
# messages, freed by reference counting, while its cyclic garbage (~2,400 objects, < 1 MB)
# can wait for the next full collection.
GC_THRESHOLDS = (100_000, 10, 50)

# One thread per process at a time builds or evaluates a τ² database (see the module docstring).
database_work = threading.Lock()

_registry_lock = threading.Lock()

_gc_lock = threading.Lock()
_gc_users = 0
_gc_saved: tuple[int, int, int] | None = None
_worker_tuned = False


def warm_up(domain: str) -> None:
    """Import and load what every episode of ``domain`` needs, so it can be frozen."""
    import litellm  # noqa: F401
    import tau2.agent.llm_agent
    import tau2.evaluator.evaluator
    import tau2.orchestrator.orchestrator  # noqa: F401

    from usi.tau.tasks import domain_tasks

    domain_tasks(domain)
    _database(domain)
    evaluation_domain(domain)


def _tune_gc() -> None:
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


@cache
def _database(domain: str) -> tuple[Any, bytes]:
    """(τ²'s ``get_environment``, its database as τ² loads it, pickled) of ``domain``.

    Unpickling makes a fresh copy of every object (no two environments share a mutable one)
    in a half (airline) to the same (retail) time as validating the file's JSON again.
    """
    from tau2.registry import registry

    get_environment = registry.get_env_constructor(domain)
    db = get_environment().tools.db
    return get_environment, pickle.dumps(db, protocol=pickle.HIGHEST_PROTOCOL)


def environment(domain: str, solo_mode: bool = False) -> Any:
    """τ²'s environment of ``domain`` on a fresh copy of its database, without rereading it."""
    get_environment, blob = _database(domain)
    return get_environment(db=pickle.loads(blob), solo_mode=solo_mode)


def evaluation_domain(domain: str) -> str:
    """The τ² registry name under which ``evaluate_simulation`` finds :func:`environment`."""
    from tau2.registry import registry

    name = f"{domain}@usi"
    with _registry_lock:
        if name in registry.get_domains():
            return name

        def constructor(solo_mode: bool = False) -> Any:
            return environment(domain, solo_mode=solo_mode)

        registry.register_domain(constructor, name)
    return name


class _SchemaCachedTool:
    """A τ² tool whose OpenAI schema is computed once; everything else is the tool's own."""

    __slots__ = ("_schema", "_tool")

    def __init__(self, tool: Any, schema: dict[str, Any]) -> None:
        self._tool = tool
        self._schema = schema

    @property
    def openai_schema(self) -> dict[str, Any]:
        """A copy (0.01 ms), since litellm's provider adapters may edit tool schemas in place."""
        return copy.deepcopy(self._schema)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tool, name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._tool(*args, **kwargs)


_schemas: dict[tuple[str, str], dict[str, Any]] = {}


def schema_cached_tools(domain: str, tools: list[Any]) -> list[Any]:
    """``tools`` with each schema built once per process (tools of a domain never change)."""
    out = []
    for tool in tools:
        key = (domain, tool.name)
        schema = _schemas.get(key)
        if schema is None:
            schema = _schemas.setdefault(key, tool.openai_schema)
        out.append(_SchemaCachedTool(tool, schema))
    return out

"""The process environment τ² and litellm need, set up by entry points — never at import.

Two things are process-wide and belong to whoever owns the process, so library code must not
do them as a side effect of being imported:

- litellm fetches its model-cost map from the network when it is imported, unless
  ``LITELLM_LOCAL_MODEL_COST_MAP`` is set; usi never needs the live map (costs are recorded
  as litellm reports them), and tests and offline runs must not touch the network;
- τ² logs through loguru (e.g. "No .env file found", every tool response at DEBUG). Its
  messages mean nothing to usi's users, so they are switched off *for the tau2 package*
  (``logger.disable("tau2")``); the host application's own handlers are left alone, which
  ``logger.remove()`` would not do;
- the cyclic garbage collector's thresholds (:data:`GC_THRESHOLDS`). usi's processes read,
  score and run in bulk: a pass over 20,000 episodes allocates millions of containers
  (decoded lines, pydantic models, feature rows), and with Python's default (a young
  collection every 700 net allocations) the survivors of each chunk were rescanned again and
  again — a third of ``usi fingerprint``'s CPU and a fifth of ``usi score``'s
  (``benchmarks/bench_score.py``). Those objects hold no reference cycle, so reference
  counting frees them; collecting less often changes no result. A library user's process
  keeps its own thresholds: only entry points call this.

:func:`setup_environment` is called by ``usi.cli.main`` and by every worker entry point
(process and Ray workers of ``usi run``, the offline server's child process).
"""

from __future__ import annotations

import gc
import os

COST_MAP_ENV = "LITELLM_LOCAL_MODEL_COST_MAP"
#: A young collection every 100,000 net allocations instead of 700, a full one every 10 x 50
#: of those: the bulk work's garbage is freed by reference counting, and its rare cyclic
#: garbage (τ² databases, tracebacks) can wait that long.
GC_THRESHOLDS = (100_000, 10, 50)


def setup_environment() -> None:
    """Offline cost map for litellm (unless the caller chose otherwise), quiet τ² logging and
    the collector's thresholds for bulk work."""
    os.environ.setdefault(COST_MAP_ENV, "True")
    quiet_tau2()
    gc.set_threshold(*GC_THRESHOLDS)


def quiet_tau2() -> None:
    """Silence τ²'s loguru messages without touching any other logger's handlers."""
    from loguru import logger

    logger.disable("tau2")

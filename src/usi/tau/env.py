"""The process environment τ² and litellm need, set up by entry points — never at import.

Two things are process-wide and belong to whoever owns the process, so library code must not
do them as a side effect of being imported:

- litellm fetches its model-cost map from the network when it is imported, unless
  ``LITELLM_LOCAL_MODEL_COST_MAP`` is set; usi never needs the live map (costs are recorded
  as litellm reports them), and tests and offline runs must not touch the network;
- τ² logs through loguru (e.g. "No .env file found", every tool response at DEBUG). Its
  messages mean nothing to usi's users, so they are switched off *for the tau2 package*
  (``logger.disable("tau2")``); the host application's own handlers are left alone, which
  ``logger.remove()`` would not do.

:func:`setup_environment` is called by ``usi.cli.main`` and by every worker entry point
(process and Ray workers of ``usi run``, the offline server's child process).
"""

from __future__ import annotations

import os

COST_MAP_ENV = "LITELLM_LOCAL_MODEL_COST_MAP"


def setup_environment() -> None:
    """Offline cost map for litellm (unless the caller chose otherwise) and quiet τ² logging."""
    os.environ.setdefault(COST_MAP_ENV, "True")
    quiet_tau2()


def quiet_tau2() -> None:
    """Silence τ²'s loguru messages without touching any other logger's handlers."""
    from loguru import logger

    logger.disable("tau2")

"""usi.run — benchmark any user simulator on τ² airline/retail tasks (``usi run``, ``usi judge``).

Public entry points (imported lazily: τ² and litellm take seconds to import):

- :func:`usi.llm.models.completion_kwargs`, :func:`usi.llm.models.validate_model`
- :func:`usi.run.runner.run_episodes` with :class:`usi.run.episode.RunSettings` /
  :class:`usi.run.episode.RoleSettings` — what ``usi run`` and ``usi demo`` call
- :func:`usi.run.judge.judge_file` — what ``usi judge`` calls
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "completion_kwargs": "usi.llm.models",
    "validate_model": "usi.llm.models",
    "run_episodes": "usi.run.runner",
    "RunSettings": "usi.run.episode",
    "RoleSettings": "usi.run.episode",
    "SimulatorSpec": "usi.tau.simulators",
    "judge_file": "usi.run.judge",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(name)

"""τ²'s domain environments, cheap to build many times, and the evaluator's name for them.

Every episode of ``usi run`` needs its own environment (a fresh copy of the domain database),
and τ²'s evaluator builds two more; the study's agent needs one per session, rebuilt by
replaying the session's tool calls. This module is where usi asks τ² for them:

- :func:`environment` builds τ²'s own environment (``get_environment(db=...)``) on a fresh
  copy of the database ``DB.load`` read once per process, so no two environments share a
  mutable object and the database file is not parsed again for each one;
- :func:`evaluation_domain` registers that constructor in τ²'s public registry, so τ²'s
  unmodified evaluator replays trajectories on the cached database (same reward, see
  ``tests/run/test_run_cpu.py``);
- :func:`schema_cached_tools` hands the agent the same tools with their OpenAI schema
  computed once (τ²'s ``generate`` asks every tool for it on every agent turn);
- :func:`replayed_environment` rebuilds a session's environment from its history;
- :func:`warm_up` imports and loads all of that before a run, so it can be frozen.
"""

from __future__ import annotations

import copy
import pickle
import threading
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tau2.data_model.message import Message as TauMessage
    from tau2.environment.environment import Environment

_registry_lock = threading.Lock()


def warm_up(domain: str) -> None:
    """Import and load what every episode of ``domain`` needs (agent, orchestrator, evaluator,
    tasks, database), so a run can freeze it before its first episode."""
    import litellm  # noqa: F401
    import tau2.agent.llm_agent
    import tau2.evaluator.evaluator
    import tau2.orchestrator.orchestrator  # noqa: F401

    from usi.tau.tasks import domain_tasks

    domain_tasks(domain)
    _database(domain)
    evaluation_domain(domain)


def load_registry() -> None:
    """Import τ²'s registry (its domains, agents and through them litellm: ~1.5 s of CPU)."""
    import tau2.registry  # noqa: F401


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


def environment(domain: str, solo_mode: bool = False) -> Environment:
    """τ²'s environment of ``domain`` on a fresh copy of its database, without rereading it."""
    get_environment, blob = _database(domain)
    env: Environment = get_environment(db=pickle.loads(blob), solo_mode=solo_mode)
    return env


def evaluation_domain(domain: str) -> str:
    """The τ² registry name under which ``evaluate_simulation`` finds :func:`environment`."""
    from tau2.registry import registry

    name = f"{domain}@usi"
    with _registry_lock:
        if name in registry.get_domains():
            return name

        def constructor(solo_mode: bool = False) -> Any:
            # looked up at call time, so a test can wrap environment()
            return environment(domain, solo_mode=solo_mode)

        registry.register_domain(constructor, name)
    return name


def replayed_environment(domain: str, task_id: str, history: Sequence[TauMessage]) -> Environment:
    """A fresh τ² environment for the task, with the tool calls of ``history`` replayed
    (τ²'s ``Environment.set_state`` checks every replayed result)."""
    from tau2.registry import registry

    from usi.tau.cards import load_tasks

    task = load_tasks(domain)[task_id]
    env: Environment = registry.get_env_constructor(domain)()
    initial = task.initial_state
    env.set_state(
        initialization_data=initial.initialization_data if initial else None,
        initialization_actions=initial.initialization_actions if initial else None,
        message_history=list(history),
    )
    return env


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

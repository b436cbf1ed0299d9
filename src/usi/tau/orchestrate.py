"""τ²'s orchestrator loop for one ``usi run`` episode, and what usi reads off its simulation.

The conversation itself is τ²'s: its ``Orchestrator`` (with τ²'s step and error budgets), or
:class:`usi.tau.limits.TurnLimitedOrchestrator` under the paper's per-turn limits. This
module builds the one or the other, records a conversation that crashed as the simulation τ²
would have ended it with (``agent_error`` / ``user_error``), and reads termination and token
usage off a simulation, so the runner never touches τ²'s types.
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tau2.data_model.simulation import SimulationRun
    from tau2.data_model.tasks import Task
    from tau2.environment.environment import Environment
    from tau2.orchestrator.orchestrator import Orchestrator


def orchestrator(
    *,
    domain: str,
    agent: Any,
    user: Any,
    environment: Environment,
    task: Task,
    seed: int,
    max_steps: int,
    max_errors: int,
    turn_limits: tuple[int, int] | None = None,
) -> Orchestrator:
    """τ²'s orchestrator of one conversation; ``turn_limits`` = (user turns, tool rounds)
    replaces τ²'s step and error budgets by the paper's limits."""
    if turn_limits is not None:
        from usi.tau.limits import TurnLimitedOrchestrator

        return TurnLimitedOrchestrator(
            domain=domain,
            agent=agent,
            user=user,
            environment=environment,
            task=task,
            seed=seed,
            max_user_turns=turn_limits[0],
            max_tool_rounds=turn_limits[1],
        )
    from tau2.orchestrator.orchestrator import Orchestrator

    return Orchestrator(
        domain=domain,
        agent=agent,
        user=user,
        environment=environment,
        task=task,
        max_steps=max_steps,
        max_errors=max_errors,
        seed=seed,
    )


def now() -> str:
    """The time as τ² stamps a simulation's start and end."""
    from tau2.utils.utils import get_now

    return str(get_now())


def crashed_simulation(
    run: Orchestrator, *, task_id: str, origin: str, start_time: str, started: float, seed: int
) -> SimulationRun:
    """The simulation of a conversation that raised: what it said so far, ended by an
    ``agent_error`` (or ``user_error`` when ``origin`` is ``"user"``), τ²'s own reasons."""
    from tau2.data_model.simulation import SimulationRun, TerminationReason

    reason = TerminationReason.USER_ERROR if origin == "user" else TerminationReason.AGENT_ERROR
    return SimulationRun(
        id=str(uuid.uuid4()),
        task_id=task_id,
        start_time=start_time,
        end_time=now(),
        duration=time.perf_counter() - started,
        termination_reason=reason,
        messages=run.get_trajectory(),
        seed=seed,
    )


def termination(simulation: SimulationRun) -> str:
    """How the conversation ended, as τ² names it (``user_stop``, ``max_steps`` …)."""
    reason = simulation.termination_reason
    return str(getattr(reason, "value", reason))


def token_usage(simulation: SimulationRun, role: str) -> dict[str, int]:
    """Prompt and completion tokens of the ``"agent"``'s or the ``"user"``'s messages."""
    from tau2.data_model.message import AssistantMessage, UserMessage

    cls = AssistantMessage if role == "agent" else UserMessage
    total = {"prompt_tokens": 0, "completion_tokens": 0}
    for m in simulation.messages:
        usage = getattr(m, "usage", None) if isinstance(m, cls) else None
        if usage:
            total["prompt_tokens"] += int(usage.get("prompt_tokens") or 0)
            total["completion_tokens"] += int(usage.get("completion_tokens") or 0)
    return total

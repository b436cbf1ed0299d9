"""The one call of τ²'s evaluator, for ``usi run``'s episodes and the study's sessions alike.

τ²'s ``evaluate_simulation`` replays the agent's tool calls on a fresh environment and compares
the final database, the actions and the communicated information with the task's gold
criteria; usi never re-implements any of it. Both callers evaluate with every criterion
(``EvaluationType.ALL``), not in solo mode, on the cached-database environment
(:func:`usi.tau.environment.evaluation_domain`, which gives τ²'s own reward to the field:
``tests/run/test_run_cpu.py``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from usi.tau.environment import evaluation_domain

if TYPE_CHECKING:
    from tau2.data_model.message import Message as TauMessage
    from tau2.data_model.simulation import RewardInfo, SimulationRun
    from tau2.data_model.tasks import Task


def evaluate(simulation: SimulationRun, task: Task, domain: str) -> RewardInfo:
    """τ²'s reward info of ``simulation`` on ``task`` of ``domain`` (raises what τ² raises)."""
    from tau2.evaluator.evaluator import EvaluationType, evaluate_simulation

    return evaluate_simulation(
        simulation=simulation,
        task=task,
        evaluation_type=EvaluationType.ALL,
        solo_mode=False,
        domain=evaluation_domain(domain),
    )


def failed_evaluation(error: str) -> RewardInfo:
    """The reward info of a conversation τ²'s evaluator could not score: 0, with the error."""
    from tau2.data_model.simulation import RewardInfo

    return RewardInfo(reward=0.0, info={"evaluation_error": error})


def user_stopped_simulation(task_id: str, messages: list[TauMessage]) -> SimulationRun:
    """A finished session as τ² records a simulation the user ended (``USER_STOP``), now."""
    from tau2.data_model.simulation import SimulationRun, TerminationReason

    now = datetime.now(UTC).isoformat()
    return SimulationRun(
        id=str(uuid.uuid4()),
        task_id=task_id,
        start_time=now,
        end_time=now,
        duration=0.0,
        termination_reason=TerminationReason.USER_STOP,
        messages=messages,
    )

"""The episode's reward, from τ²'s own evaluator (never re-implemented here).

A finished study session is a τ² simulation that the user ended (``USER_STOP``); the
evaluator replays the agent's tool calls on a fresh environment and compares the final
database, the actions and the communicated information with the task's gold criteria.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tau2.data_model.message import Message as TauMessage


def evaluate_reward(
    domain: str, task_id: str, messages: list[TauMessage]
) -> tuple[float, dict[str, Any]]:
    """(reward, reward info as JSON) of a finished session's trajectory."""
    from tau2.data_model.simulation import SimulationRun, TerminationReason
    from tau2.evaluator.evaluator import EvaluationType, evaluate_simulation

    from usi.tau.cards import load_tasks

    task = load_tasks(domain)[task_id]
    now = datetime.now(UTC).isoformat()
    simulation = SimulationRun(
        id=str(uuid.uuid4()),
        task_id=task_id,
        start_time=now,
        end_time=now,
        duration=0.0,
        termination_reason=TerminationReason.USER_STOP,
        messages=messages,
    )
    info = evaluate_simulation(
        simulation=simulation,
        task=task,
        evaluation_type=EvaluationType.ALL,
        solo_mode=False,
        domain=domain,
    )
    return float(info.reward), json.loads(info.model_dump_json())

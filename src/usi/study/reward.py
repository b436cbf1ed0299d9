"""The episode's reward, from τ²'s own evaluator (never re-implemented here).

A finished study session is a τ² simulation that the user ended (``USER_STOP``); the
evaluator (:func:`usi.tau.evaluate.evaluate`, the one ``usi run`` uses too) replays the
agent's tool calls on a fresh environment and compares the final database, the actions and
the communicated information with the task's gold criteria.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from usi.tau.cards import load_tasks
from usi.tau.evaluate import evaluate, user_stopped_simulation

if TYPE_CHECKING:
    from tau2.data_model.message import Message as TauMessage


def evaluate_reward(
    domain: str, task_id: str, messages: list[TauMessage]
) -> tuple[float, dict[str, Any]]:
    """(reward, reward info as JSON) of a finished session's trajectory."""
    task = load_tasks(domain)[task_id]
    info = evaluate(user_stopped_simulation(task_id, messages), task, domain)
    return float(info.reward), json.loads(info.model_dump_json())

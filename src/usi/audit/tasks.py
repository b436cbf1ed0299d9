"""What the audit knows about a τ² task: the instruction text and the gold write actions.

Some checks compare the user with its task — a premature stop needs the gold actions, a
hallucinated identifier or a leaked instruction needs the instruction. Tasks are loaded
through ONE function of the project (:func:`usi.tau.tasks.domain_tasks`,
cached per process), so the task source can be repointed in one place.

*Write* actions are the gold actions that change the database
(:func:`usi.tau.tasks.write_tools`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from usi.tau.tasks import DOMAINS as TASK_DOMAINS  # the domains whose tasks the audit loads
from usi.tau.tasks import scenario_text, write_tools


@dataclass(frozen=True)
class GoldAction:
    """One action the agent must take for the task to succeed."""

    name: str
    arguments: dict[str, Any]
    #: ``name(key='value', …)``, as evidence quotes it (written once per task: tasks are
    #: cached, and many episodes stop before the same action).
    description: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        args = ", ".join(f"{k}={v!r}" for k, v in self.arguments.items())
        object.__setattr__(self, "description", f"{self.name}({args})")

    def describe(self) -> str:
        return self.description


@dataclass(frozen=True)
class TaskFacts:
    """The parts of one τ² task the audit checks against."""

    domain: str
    task_id: str
    instruction: str
    writes: tuple[GoldAction, ...]


def _load_tasks(domain: str) -> Mapping[str, Any]:
    """τ² tasks of ``domain`` by id: the project's one task loader (:mod:`usi.tau.tasks`)."""
    from usi.tau.tasks import domain_tasks

    return domain_tasks(domain)


@functools.cache
def task_facts(domain: str, task_id: str) -> TaskFacts | None:
    """The facts of one task, or None when τ² has no such task (the episode is unaligned)."""
    if domain not in TASK_DOMAINS:
        return None
    task = _load_tasks(domain).get(task_id)
    if task is None:
        return None
    writes = write_tools(domain)
    criteria = task.evaluation_criteria
    gold = [
        GoldAction(action.name, dict(action.arguments))
        for action in ((criteria.actions or ()) if criteria is not None else ())
        if action.requestor == "assistant" and action.name in writes
    ]
    return TaskFacts(domain, task_id, scenario_text(task, with_persona=True), tuple(gold))

"""The study's tasks: τ² tasks by domain, and the instruction card a participant reads.

The card follows the study's canvas (spec §8): "You are role-playing as a user interacting
with an agent", the scenario, "You may start with:" and a suggested first message, and the
rules. τ² keeps the scenario structured (reason for call, known and unknown info, task
instructions); the card shows those parts in that order.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from usi.errors import UsiInputError

if TYPE_CHECKING:
    from tau2.data_model.tasks import Task

from usi.tau.tasks import DOMAINS as STUDY_DOMAINS

# The τ² split holding the τ-bench test scenarios the study used.
DEFAULT_TASK_SPLIT = "base"

CARD_INTRO = "You are role-playing as a user interacting with an agent."
CARD_RULES: tuple[str, ...] = (
    "Write one message at a time, as the user in this scenario would.",
    "Only use the information given on this card; do not invent details.",
    "When your request is resolved (or cannot be), click Stop or send /stop.",
)


@dataclass(frozen=True)
class TaskCard:
    """What a participant is shown before chatting."""

    domain: str
    task_id: str
    intro: str
    scenario: tuple[tuple[str, str], ...]
    suggested_first_message: str
    rules: tuple[str, ...]

    def as_text(self) -> str:
        """The card as plain text (the judge reads it; so would a printed copy)."""
        parts = [f"Instruction: {self.intro}"]
        parts += [f"{title}: {body}" for title, body in self.scenario]
        parts.append(f"You may start with: {self.suggested_first_message}")
        parts.append("Rules: " + " ".join(self.rules))
        return "\n\n".join(parts)


@functools.cache
def load_tasks(domain: str) -> dict[str, Task]:
    """All τ² tasks of ``domain`` by τ² id, through the one τ² adapter (:mod:`usi.tau`)."""
    from usi.tau.tasks import domain_tasks

    if domain not in STUDY_DOMAINS:
        raise UsiInputError(
            f"unknown study domain {domain!r} (known: {', '.join(STUDY_DOMAINS)})",
            where="--domains",
        )
    return dict(domain_tasks(domain))


def default_task_ids(domain: str) -> list[str]:
    """The τ² ``base`` split of ``domain`` in τ² order."""
    from usi.tau.tasks import task_splits

    ids = task_splits(domain).get(DEFAULT_TASK_SPLIT)
    return [str(i) for i in ids] if ids else list(load_tasks(domain))


def read_task_list(path: str | Path | None, domains: Sequence[str]) -> dict[str, list[str]]:
    """The task ids per domain: from a JSON file ``{"airline": ["0", "1"], ...}`` or the default.

    A domain missing from the file gets its default split; an unknown task id is an error
    so a typo never silently shrinks the study.
    """
    chosen: Mapping[str, Any] = {}
    if path is not None:
        try:
            chosen = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise UsiInputError(f"cannot read task list ({exc})", path=path) from exc
        if not isinstance(chosen, dict):
            raise UsiInputError('expected {"domain": [task ids]}', path=path)
    result: dict[str, list[str]] = {}
    for domain in domains:
        known = load_tasks(domain)
        ids = chosen.get(domain)
        if ids is None:
            result[domain] = default_task_ids(domain)
            continue
        if not isinstance(ids, list) or not ids:
            raise UsiInputError("expected a non-empty list of task ids", path=path, where=domain)
        task_ids = [str(i) for i in ids]
        unknown = [i for i in task_ids if i not in known]
        if unknown:
            raise UsiInputError(f"unknown τ² task ids {unknown}", path=path, where=domain)
        result[domain] = list(dict.fromkeys(task_ids))
    return result


_PRONOUNS: tuple[tuple[str, str], ...] = (
    (r"\byou are\b", "I am"),
    (r"\byou're\b", "I'm"),
    (r"\byou have\b", "I have"),
    (r"\byou've\b", "I've"),
    (r"\byou were\b", "I was"),
    (r"\byourself\b", "myself"),
    (r"\byours\b", "mine"),
    (r"\byour\b", "my"),
    (r"\byou\b", "I"),
)


def suggested_first_message(reason_for_call: str) -> str:
    """A first message in the participant's voice, from the task's reason for call.

    The study showed a suggested opening line; τ² has none, so we take the first sentence of
    the reason for call and turn the second person into the first ("You want to cancel
    reservation EHGLP3." → "Hi! I want to cancel reservation EHGLP3.").
    """
    text = " ".join(reason_for_call.split())
    first = re.split(r"(?<=[.!?])\s+", text, maxsplit=1)[0] if text else ""
    for pattern, repl in _PRONOUNS:
        first = re.sub(pattern, repl, first, flags=re.IGNORECASE)
    first = re.sub(r"\bI (wants|needs|wishes)\b", lambda m: "I " + m.group(1)[:-1], first)
    if first and not first.endswith((".", "!", "?")):
        first += "."
    return f"Hi! {first}" if first else "Hi!"


def task_card(domain: str, task_id: str) -> TaskCard:
    """The instruction card of one τ² task."""
    task = load_tasks(domain)[task_id]
    instructions = task.user_scenario.instructions
    if isinstance(instructions, str):
        scenario: list[tuple[str, str]] = [("Your situation", instructions.strip())]
        reason = instructions
    else:
        reason = instructions.reason_for_call
        scenario = [("Why you are contacting the agent", reason.strip())]
        if instructions.known_info:
            scenario.append(("What you know", instructions.known_info.strip()))
        if instructions.unknown_info:
            scenario.append(("What you don't know", instructions.unknown_info.strip()))
        if instructions.task_instructions:
            scenario.append(("How to behave", instructions.task_instructions.strip()))
    return TaskCard(
        domain=domain,
        task_id=task_id,
        intro=CARD_INTRO,
        scenario=tuple(scenario),
        suggested_first_message=suggested_first_message(reason),
        rules=CARD_RULES,
    )

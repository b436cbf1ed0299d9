"""The instructions the study's participants saw, per τ² task, for ``--protocol tau-usi``.

They come from the study data the user has (``--instructions HUMAN_FILE``: the tau-usi JSON,
or the canonical file ``usi data convert`` / ``usi data fetch`` wrote from it): every human
episode carries its card's instruction (``metadata["instruction"]``) and the study's task
index (``metadata["tau_index"]``). The data is gated and non-commercial, so usi never ships it.

Each study task is run on the τ² task :func:`usi.tau.align.tau2_task_id` names — the one
mapping between the two numberings, whose inverse gives the episode's ``tau_usi_key`` — so an
instruction is never run on another task's environment, whatever a stale ``task_id`` in a
converted file says. A study task with no τ² version is left out and counted, and so is a τ²
task the file has no instruction for; a τ² task whose gold write actions differ from the
study's is kept and flagged (its reward is τ²'s, not the study's).
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

from usi.errors import UsiInputError


@dataclass(frozen=True)
class StudyTask:
    """One task of the study, as it is run."""

    task_id: str  # the τ² task giving tools, database and reward
    key: str  # the study's instance key, {domain}_{index}
    index: int
    instruction: str
    gold_actions_changed: bool


@dataclass(frozen=True)
class StudyInstructions:
    """The study's instructions for one domain, and what could not be run."""

    source: str
    domain: str
    tasks: tuple[StudyTask, ...]
    no_tau2_task: tuple[str, ...]  # study keys τ² has no version of
    no_instruction: tuple[str, ...]  # τ² ids the file gives no instruction for

    @property
    def sha256(self) -> str:
        """A digest of what is run: every (key, τ² id, instruction), in order."""
        rows = [(t.key, t.task_id, t.instruction) for t in self.tasks]
        return hashlib.sha256(json.dumps(rows, ensure_ascii=False).encode()).hexdigest()

    def by_task(self) -> dict[str, StudyTask]:
        return {t.task_id: t for t in self.tasks}

    def task(self, task_id: str) -> StudyTask:
        """The study's task run on τ² task ``task_id``; bad input when the file has none."""
        found = self.by_task().get(task_id)
        if found is None:
            raise UsiInputError(
                f"{self.domain} task {task_id} has no instruction in {self.source}",
                where="--tasks",
            )
        return found

    def warnings(self) -> list[str]:
        """One line per kind of task left out or flagged (empty when there is none)."""
        lines = []
        if self.no_tau2_task or self.no_instruction:
            parts = []
            if self.no_tau2_task:
                parts.append(
                    f"{len(self.no_tau2_task)} study task(s) with no τ² task "
                    f"({', '.join(self.no_tau2_task)})"
                )
            if self.no_instruction:
                parts.append(
                    f"{len(self.no_instruction)} τ² {self.domain} task(s) with no instruction in "
                    "the file"
                )
            lines.append(f"{self.source}: left out {' and '.join(parts)}")
        changed = [t.key for t in self.tasks if t.gold_actions_changed]
        if changed:
            lines.append(
                f"{self.source}: τ² changed the gold actions of {len(changed)} task(s) "
                f"({', '.join(changed)}): their reward is τ²'s, not the study's"
            )
        return lines


def load_study_instructions(path: str | Path, domain: str) -> StudyInstructions:
    """The study's instruction for every task of ``domain`` in ``path`` (any format usi reads).

    Bad input (one line, exit 2): a file usi cannot read, or one without any instruction
    card for the domain (a simulator's episodes, say).
    """
    from usi.data.readers import iter_episodes
    from usi.tau.align import GOLD_ACTIONS_CHANGED, AlignmentWarning, tau2_task_id
    from usi.tau.tasks import domain_tasks

    p = Path(path)
    cards: dict[int, str] = {}
    with warnings.catch_warnings():
        # The reader's alignment warns per unaligned session; what is left out here is
        # counted instead (see :meth:`StudyInstructions.warnings`).
        warnings.simplefilter("ignore", AlignmentWarning)
        for episode in iter_episodes(p, agent=False):  # the cards are needed, not the agent
            if episode.domain != domain:
                continue
            instruction = episode.metadata.get("instruction")
            index = episode.metadata.get("tau_index")
            if isinstance(instruction, str) and instruction.strip() and isinstance(index, int):
                cards.setdefault(index, instruction)  # every session of a task shows one card
    if not cards:
        raise UsiInputError(
            f"no study instruction for {domain} (human episodes with metadata.instruction and "
            "metadata.tau_index: a tau-usi file, or what usi data convert/fetch wrote from one)",
            p,
        )
    tau2 = domain_tasks(domain)
    tasks: list[StudyTask] = []
    missing: list[str] = []
    for index in sorted(cards):
        task_id = tau2_task_id(domain, index)
        if task_id is None or task_id not in tau2:
            missing.append(f"{domain}_{index}")
            continue
        tasks.append(
            StudyTask(
                task_id=task_id,
                key=f"{domain}_{index}",
                index=index,
                instruction=cards[index],
                gold_actions_changed=task_id in GOLD_ACTIONS_CHANGED.get(domain, frozenset()),
            )
        )
    if not tasks:
        raise UsiInputError(
            f"none of the study's {domain} tasks in the file has a τ² task ({', '.join(missing)})",
            p,
        )
    covered = {t.task_id for t in tasks}
    return StudyInstructions(
        source=str(path),
        domain=domain,
        tasks=tuple(tasks),
        no_tau2_task=tuple(missing),
        no_instruction=tuple(t for t in tau2 if t not in covered),
    )

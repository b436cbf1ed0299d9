"""bench_validity's perturbations: nested strengths, hand-worked edits, and a clone scoring 100."""

from __future__ import annotations

import sys
from itertools import pairwise
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from bench_validity import (
    PERTURBATIONS,
    POLITE_SUFFIX,
    SIM_SOURCE,
    STRENGTHS,
    best_survey,
    formalise,
    front_loaded,
    monotone,
    score_usi_v2,
    split_people,
    without_questions,
)
from usi.core.episode import Episode, Message


def _episode(i: int, task: str, turns: list[str], reward: float = 0.0) -> Episode:
    messages = []
    for t in turns:
        messages += [Message(role="user", content=t), Message(role="assistant", content="ok.")]
    return Episode(
        episode_id=f"h{i}",
        source="human",
        batch=1,
        domain="retail",
        task_id=task,
        messages=messages,
        reward=reward,
        survey={"human_like": "No", "task_success": "No - Task failed"},
    )


PEOPLE = [
    _episode(i, str(i % 4), [f"hi i need help {i}", "can u check it?", "ok thanks"], i % 2)
    for i in range(12)
]


def _user_texts(episodes: list[Episode]) -> list[list[str]]:
    return [[m.content for m in e.messages if m.role == "user"] for e in episodes]


def test_strengths_are_nested_and_run_from_nothing_to_everything() -> None:
    polite = next(p for p in PERTURBATIONS if p.name == "politeness added")
    changed = []
    for s in STRENGTHS:
        out = _user_texts(polite.apply(PEOPLE, s, 3))
        changed.append(
            {
                (i, j)
                for i, turns in enumerate(out)
                for j, t in enumerate(turns)
                if t.endswith(POLITE_SUFFIX)
            }
        )
    assert changed[0] == set() and len(changed[-1]) == 3 * len(PEOPLE)
    for smaller, larger in pairwise(changed):
        assert smaller <= larger


def test_edits_by_hand() -> None:
    assert formalise("i dont know u r right") == "I don't know you are right."
    assert formalise("yeah pls cancel it") == "Yes please cancel it."
    assert without_questions("Can you check? I need it today.") == "I need it today."
    assert without_questions("What? Huh?") is None
    joined = front_loaded(PEOPLE[0])
    assert _user_texts([joined]) == [["hi i need help 0 can u check it? ok thanks"]]
    best = best_survey(PEOPLE[0]).survey
    assert best == {"human_like": "Yes", "task_success": "Fully - Exceeded expectations"}


def test_halves_split_within_tasks_and_a_clone_scores_100() -> None:
    sim, hum = split_people(PEOPLE, seed=0)
    assert {e.source for e in sim} == {SIM_SOURCE} and {e.source for e in hum} == {"human"}
    assert {e.task_id for e in sim} == {e.task_id for e in hum} == {"0", "1", "2", "3"}
    assert len(sim) + len(hum) == len(PEOPLE)
    clone = [e.model_copy(update={"source": SIM_SOURCE}) for e in PEOPLE]
    usi, components = score_usi_v2(clone, PEOPLE)
    assert usi == pytest.approx(100.0)
    assert all(v == pytest.approx(1.0) for v in components.values() if v is not None)


def test_monotone_means_never_rising() -> None:
    assert monotone([90.0, 90.0, 85.0, None, 80.0])
    assert not monotone([90.0, 90.5, 85.0])

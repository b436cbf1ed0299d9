"""The CPU savings of usi run change nothing τ² computes: same databases, rewards and schemas."""

from __future__ import annotations

import gc
from typing import Any

import pytest

from usi.run.cpu import tuned_gc
from usi.run.episode import RoleSettings, RunSettings, domain_tasks
from usi.tau.env import GC_THRESHOLDS
from usi.tau.environment import environment, evaluation_domain, schema_cached_tools

_ORACLE_RETAIL = RunSettings(
    domain="retail", agent=RoleSettings("offline/oracle"), user=RoleSettings("offline/cooperative")
)


def _gold_simulation(domain: str, task_id: str, *, act: bool) -> Any:
    """A finished τ² simulation whose agent performs the task's gold actions (or none)."""
    from tau2.data_model.message import AssistantMessage, ToolCall, UserMessage
    from tau2.data_model.simulation import SimulationRun, TerminationReason
    from tau2.registry import registry

    task = domain_tasks(domain)[task_id]
    env = registry.get_env_constructor(domain)()
    messages: list[Any] = [UserMessage(role="user", content="Hi, I need help.")]
    for i, action in enumerate(task.evaluation_criteria.actions or [] if act else []):
        call = ToolCall(id=f"call_{i}", name=action.name, arguments=action.arguments)
        messages.append(AssistantMessage(role="assistant", tool_calls=[call]))
        messages.append(env.get_response(call))
    messages.append(AssistantMessage(role="assistant", content="Done. Anything else?"))
    messages.append(UserMessage(role="user", content="No, thanks. ###STOP###"))
    return task, SimulationRun(
        id=f"{domain}-{task_id}-{act}",
        task_id=task_id,
        start_time="2026-01-01T00:00:00",
        end_time="2026-01-01T00:01:00",
        duration=60.0,
        termination_reason=TerminationReason.USER_STOP,
        messages=messages,
    )


@pytest.mark.parametrize(
    ("domain", "task_id"), [("retail", "0"), ("retail", "5"), ("airline", "20"), ("airline", "30")]
)
@pytest.mark.parametrize("act", [True, False])
def test_evaluator_on_cached_database_gives_tau2s_own_reward(
    domain: str, task_id: str, act: bool
) -> None:
    from tau2.evaluator.evaluator import EvaluationType, evaluate_simulation

    task, simulation = _gold_simulation(domain, task_id, act=act)
    results = [
        evaluate_simulation(
            simulation=simulation,
            task=task,
            evaluation_type=EvaluationType.ALL,
            solo_mode=False,
            domain=name,
        ).model_dump(mode="json")
        for name in (domain, evaluation_domain(domain))
    ]
    assert results[0] == results[1]
    # each of these tasks writes to the database: the gold actions pass, doing nothing fails
    assert results[0]["reward"] == (1.0 if act else 0.0)


@pytest.mark.parametrize("domain", ["retail", "airline"])
def test_each_environment_gets_its_own_copy_of_tau2s_database(domain: str) -> None:
    from tau2.registry import registry

    reference = registry.get_env_constructor(domain)()
    first, second = environment(domain), environment(domain)
    assert first.get_db_hash() == reference.get_db_hash() == second.get_db_hash()
    db = first.tools.db
    collection = db.users
    user_id = next(iter(collection))
    collection[user_id].name.first_name = "Changed"
    assert first.get_db_hash() != second.get_db_hash()
    assert environment(domain).get_db_hash() == reference.get_db_hash()


def test_evaluation_domain_registers_once() -> None:
    from tau2.registry import registry

    assert evaluation_domain("retail") == evaluation_domain("retail") == "retail@usi"
    assert registry.get_domains().count("retail@usi") == 1


def test_schema_cached_tools_match_tau2_and_cannot_be_corrupted() -> None:
    env = environment("retail")
    tools = env.get_tools()
    cached = schema_cached_tools("retail", tools)
    assert [t.openai_schema for t in cached] == [t.openai_schema for t in tools]
    assert [t.name for t in cached] == [t.name for t in tools]
    cached[0].openai_schema["function"]["name"] = "edited by a provider adapter"
    assert cached[0].openai_schema == tools[0].openai_schema
    again = schema_cached_tools("retail", environment("retail").get_tools())
    assert again[0].openai_schema == tools[0].openai_schema


def test_tuned_gc_restores_the_callers_settings_even_when_nested() -> None:
    before = gc.get_threshold()
    with tuned_gc():
        assert gc.get_threshold() == GC_THRESHOLDS
        assert gc.get_freeze_count() > 0
        with tuned_gc():
            assert gc.get_threshold() == GC_THRESHOLDS
        assert gc.get_threshold() == GC_THRESHOLDS
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_an_episode_leaves_no_database_for_the_garbage_collector(
    offline_server, monkeypatch
) -> None:
    """Reference counting alone frees every τ² database an episode built (no cycle holds one)."""
    import weakref

    from usi.run.episode import run_episode
    from usi.tau import environment as tau_environment

    offline_server()
    built: list[weakref.ref[Any]] = []
    original = tau_environment.environment

    def recording(domain: str, solo_mode: bool = False) -> Any:
        env = original(domain, solo_mode=solo_mode)
        built.append(weakref.ref(env.tools.db))
        return env

    monkeypatch.setattr(tau_environment, "environment", recording)
    settings = _ORACLE_RETAIL
    gc.collect()
    gc.disable()  # read the references before any collection could free a cycle
    try:
        episode = run_episode(settings, "0", 0, 1)
        freed = [ref() is None for ref in built]
    finally:
        gc.enable()
    assert episode.reward == 1.0
    assert len(built) == 3  # the episode's own environment, the evaluator's gold and predicted
    assert freed == [True, True, True]


def test_database_work_is_one_thread_at_a_time(offline_server) -> None:
    """An episode waits for the process's database lock before building its environment."""
    import threading

    from usi.run.cpu import database_work
    from usi.run.episode import run_episode

    offline_server()
    settings = _ORACLE_RETAIL
    results: list[Any] = []
    worker = threading.Thread(target=lambda: results.append(run_episode(settings, "0", 0, 1)))
    with database_work:
        worker.start()
        worker.join(timeout=1.0)
        assert worker.is_alive() and not results  # held at the lock, not failed or finished
    worker.join(timeout=60)
    assert results and results[0].reward == 1.0

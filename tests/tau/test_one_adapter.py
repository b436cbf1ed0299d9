"""usi.tau is the one adapter to τ²: what moved there computes what the old call sites did.

- the study's reward is τ²'s own evaluator on the very trajectory (one evaluation wrapper for
  ``usi run`` and the study);
- the ``.tau2.json`` writer and the ``tau2 run`` reader are inverses on what usi records;
- the offline models reach the runner through the hook registry, never by import.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from usi.core.episode import Episode, Message, ToolCall

SRC = Path(__file__).resolve().parents[2] / "src"


def _gold_messages(domain: str, task_id: str) -> list[Any]:
    """A session whose agent performs the task's gold actions, then the user stops."""
    from tau2.data_model.message import AssistantMessage, UserMessage
    from tau2.data_model.message import ToolCall as TauToolCall
    from tau2.registry import registry

    from usi.tau.tasks import domain_tasks

    task = domain_tasks(domain)[task_id]
    env = registry.get_env_constructor(domain)()
    messages: list[Any] = [UserMessage(role="user", content="Hi, I need help.")]
    for i, action in enumerate(task.evaluation_criteria.actions or []):
        call = TauToolCall(id=f"call_{i}", name=action.name, arguments=action.arguments)
        messages.append(AssistantMessage(role="assistant", tool_calls=[call]))
        messages.append(env.get_response(call))
    messages.append(AssistantMessage(role="assistant", content="Done. Anything else?"))
    messages.append(UserMessage(role="user", content="No, thanks. ###STOP###"))
    return messages


@pytest.mark.parametrize(("domain", "task_id"), [("retail", "0"), ("airline", "20")])
def test_the_studys_reward_is_tau2s_own_evaluation(domain: str, task_id: str) -> None:
    """The study's reward (now through usi.tau.evaluate) equals τ²'s evaluator called as the
    study called it before: on τ²'s registry domain, every criterion, not solo."""
    from tau2.data_model.simulation import SimulationRun, TerminationReason
    from tau2.evaluator.evaluator import EvaluationType, evaluate_simulation

    from usi.study.reward import evaluate_reward
    from usi.tau.tasks import domain_tasks

    messages = _gold_messages(domain, task_id)
    reward, info = evaluate_reward(domain, task_id, messages)
    direct = evaluate_simulation(
        simulation=SimulationRun(
            id="x",
            task_id=task_id,
            start_time="t",
            end_time="t",
            duration=0.0,
            termination_reason=TerminationReason.USER_STOP,
            messages=messages,
        ),
        task=domain_tasks(domain)[task_id],
        evaluation_type=EvaluationType.ALL,
        solo_mode=False,
        domain=domain,
    )
    assert reward == 1.0
    assert info == json.loads(direct.model_dump_json())


def test_tau2_results_written_by_usi_read_back_as_the_same_episodes() -> None:
    from usi.tau.results import RunInfo, read_tau2_results, tau2_results_json

    episode = Episode(
        episode_id="retail-0-trial0-abcdef12",
        source="my-sim",
        domain="retail",
        task_id="0",
        messages=[
            Message(role="user", content="Hi, I want to exchange two items."),
            Message(
                role="assistant",
                content="",
                tool_calls=[ToolCall(id="c1", name="find_user_id_by_email", arguments={"e": 1})],
            ),
            Message(role="tool", content="yusuf_rossi_9620", tool_call_id="c1"),
            Message(role="assistant", content="Done. Anything else?"),
            Message(role="user", content="No, thanks."),
        ],
        reward=1.0,
        survey={"task_success": "Yes - Task completed"},
        metadata={
            "trial": 0,
            "seed": 7,
            "ended_by": "###STOP###",
            "termination_reason": "user_stop",
            "reward_info": {"reward": 1.0},
            "cost": {"agent": 0.5, "user": 0.25},
        },
    )
    other_domain = episode.model_copy(update={"domain": "airline", "episode_id": "other"})
    run = RunInfo(
        domain="retail",
        seed=300,
        max_steps=100,
        max_errors=10,
        user_implementation="usi:prompt",
        user_llm="offline/cooperative",
        agent_llm="offline/oracle",
        user_args={"temperature": 0.0},
    )
    document = json.loads(tau2_results_json([episode, other_domain], run))
    assert [s["id"] for s in document["simulations"]] == ["retail-0-trial0-abcdef12"]
    assert [t["id"] for t in document["tasks"]] == ["0"]
    assert document["info"]["user_info"]["implementation"] == "usi:prompt"
    assert document["info"]["user_info"]["llm_args"] == {"temperature": 0.0}
    assert document["info"]["num_trials"] == 1
    (back,) = read_tau2_results("x.tau2.json", document=document)
    assert back.episode_id == episode.episode_id
    assert back.source == "my-sim"
    assert back.messages == episode.messages
    assert back.reward == 1.0
    assert back.survey == {"task_success": "Yes - Task completed"}
    assert back.metadata["ended_by"] == "###STOP###"
    assert (back.metadata["agent_cost"], back.metadata["user_cost"]) == (0.5, 0.25)


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_the_runner_never_imports_the_offline_models() -> None:
    offenders = {
        str(path.relative_to(SRC)): sorted(m for m in _imports(path) if "offline" in m)
        for path in sorted((SRC / "usi" / "run").glob("*.py"))
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_offline_models_register_their_run_hooks() -> None:
    """Importing the runner (which resolves models through usi.llm.models) registers them."""
    code = (
        "import usi.run.runner\n"
        "from usi.llm import hooks\n"
        "print(hooks.hooks_of('offline/flaky').prefix, hooks.hooks_of('openai/gpt-4o'))\n"
        "print(hooks.worker_env(['openai/gpt-4o', None]))\n"
        "print(hooks.user_episode_metadata('offline/cooperative', 'retail', '0', [], 1))\n"
        "print(hooks.user_episode_metadata('openai/gpt-4o', 'retail', '0', [], 1))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(SRC), "LITELLM_LOCAL_MODEL_COST_MAP": "True", "PATH": ""},
    )
    assert done.stdout == "offline/ None\n{}\n{}\n{}\n"


def test_flaky_metadata_comes_through_the_hook() -> None:
    from usi.llm.hooks import user_episode_metadata
    from usi.llm.offline.flaky import episode_metadata

    messages = [Message(role="user", content="Hi, I want to return an item.")]
    assert user_episode_metadata("offline/flaky", "retail", "0", messages, 3) == (
        episode_metadata("offline/flaky", "retail", "0", messages, 3)
    )
    assert set(user_episode_metadata("offline/flaky", "retail", "0", messages, 3)) == {
        "injected_errors",
        "flaky_rates",
    }

"""Synthetic input files for the data-capability tests, built with the formats' own tools.

The tau-usi fixture is a hand-written JSON file (``fixtures/tau_usi_small.json``); the
``tau2 run`` results file is built here from τ²'s own pydantic objects and saved with
``Results.save`` — the same writer ``tau2 run`` uses — so the reader is tested against the
real shape, not a guess of it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tau2.data_model.message import (
    AssistantMessage,
    MultiToolMessage,
    SystemMessage,
    ToolCall,
    ToolMessage,
    UserMessage,
)
from tau2.data_model.simulation import (
    AgentInfo,
    Info,
    Results,
    RewardInfo,
    SimulationRun,
    TerminationReason,
    UserInfo,
)
from tau2.domains.retail.environment import get_tasks as retail_tasks
from tau2.environment.environment import EnvironmentInfo

FIXTURES = Path(__file__).parent / "fixtures"
TAU_USI_SMALL = FIXTURES / "tau_usi_small.json"

SIM_SURVEY = {
    "task_success": "Yes - Task completed",
    "efficiency": "Very efficient",
    "question_amount_preference": "About right",
    "answer_effort_time": "Low",
    "human_like": "Yes",
    "interaction_flow": "Excellent",
    "overall_score": "5 (Excellent)",
    "reuse": "Absolutely yes",
    "specific_examples": "quick and clear",
    "improvement_suggestions": "",
}


def _simulation(sim_id: str, task_id: str, trial: int, reward: float | None) -> SimulationRun:
    messages = [
        SystemMessage(role="system", content="You are a retail agent."),
        AssistantMessage(role="assistant", content="Hi! How can I help you today?", turn_idx=0),
        UserMessage(
            role="user", content="I want to exchange a lamp. I am mei_kovacs_8020.", turn_idx=1
        ),
        AssistantMessage(
            role="assistant",
            content=None,
            tool_calls=[
                ToolCall(
                    id="tc-1", name="get_user_details", arguments={"user_id": "mei_kovacs_8020"}
                ),
                ToolCall(id="tc-2", name="calculate", arguments={"expression": "2 + 2"}),
            ],
            turn_idx=2,
        ),
        MultiToolMessage(
            role="tool",
            tool_messages=[
                ToolMessage(id="tc-1", role="tool", content='{"user_id": "mei_kovacs_8020"}'),
                ToolMessage(id="tc-2", role="tool", content="4.0"),
            ],
        ),
        AssistantMessage(role="assistant", content="Found you. Which order?", turn_idx=3),
        UserMessage(role="user", content="the latest one, thanks", turn_idx=4),
        AssistantMessage(
            role="assistant",
            content="Looking it up.",
            tool_calls=[
                ToolCall(id="tc-3", name="get_order_details", arguments={"order_id": "#W1"})
            ],
            turn_idx=5,
        ),
        ToolMessage(id="tc-3", role="tool", content="Error: order not found", error=True),
        AssistantMessage(role="assistant", content="I could not find it.", turn_idx=6),
        UserMessage(role="user", content="###STOP###", turn_idx=7),
    ]
    return SimulationRun(
        id=sim_id,
        task_id=task_id,
        start_time="2026-01-01T00:00:00",
        end_time="2026-01-01T00:01:00",
        duration=60.0,
        termination_reason=TerminationReason.USER_STOP,
        agent_cost=0.012,
        user_cost=0.003,
        reward_info=RewardInfo(reward=reward) if reward is not None else None,
        messages=messages,
        trial=trial,
        seed=300 + trial,
    )


def tau2_results(user_llm: str | None = "gpt-4o-mini") -> Results:
    """A two-simulation retail run as ``tau2 run`` would record it."""
    tasks = [t for t in retail_tasks(None) if t.id in ("5", "7")]
    return Results(
        info=Info(
            git_commit="0" * 40,
            num_trials=1,
            max_steps=30,
            max_errors=10,
            user_info=UserInfo(implementation="user_simulator", llm=user_llm),
            agent_info=AgentInfo(implementation="llm_agent", llm="gpt-4.1"),
            environment_info=EnvironmentInfo(domain_name="retail", policy="Be helpful."),
            seed=300,
        ),
        tasks=tasks,
        simulations=[
            _simulation("sim-a", "5", trial=0, reward=1.0),
            _simulation("sim-b", "7", trial=1, reward=None),
        ],
    )


def write_tau2_results(
    path: Path,
    *,
    user_llm: str | None = "gpt-4o-mini",
    survey_top_level: dict[str, Any] | None = None,
    survey_in_reward_info: dict[str, Any] | None = None,
    simulator: str | None = None,
    usi_run_info: dict[str, Any] | None = None,
) -> Path:
    """Save a results file with ``Results.save``; optionally add what ``usi run`` adds."""
    tau2_results(user_llm).save(path)
    extras = (survey_top_level, survey_in_reward_info, simulator, usi_run_info)
    if all(extra is None for extra in extras):
        return path
    document = json.loads(path.read_text())
    first = document["simulations"][0]
    if survey_top_level is not None:
        first["survey"] = survey_top_level
    if survey_in_reward_info is not None:
        first["reward_info"]["info"] = {"survey": survey_in_reward_info}
    if simulator is not None:
        first["simulator"] = simulator
    if usi_run_info is not None:
        first["reward_info"]["info"] = usi_run_info
    path.write_text(json.dumps(document, indent=4))
    return path

"""`usi run --protocol tau2|tau-usi` on the offline models: what the simulator is told, the
greeting, the paper's limits, the provenance of every episode, and study tasks left out.

The study file is written here (invented cards in the tau-usi format, never the study's data);
the offline server runs in this process, so its ``complete`` can be wrapped to see every
request, or replaced for one role to script a simulator or an agent that never stops.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from usi.core.episode import Episode
from usi.core.survey import ITEMS_BY_ID, SURVEY_ITEMS
from usi.data.readers import read_episodes
from usi.llm.offline import server as offline
from usi.run import paper
from usi.run.episode import RoleSettings, RunSettings
from usi.run.instructions import load_study_instructions
from usi.run.runner import run_episodes
from usi.tau.tasks import domain_tasks
from usi_main import Usi

PROVENANCE_KEYS = (
    "protocol",
    "instruction",
    "instruction_sha256",
    "instruction_source",
    "tau_usi_key",
    "trial",
    "agent_model",
)


def card(index: int) -> str:
    return f"STUDY CARD {index}. You bought something from the shop and want it sorted out."


def study_file(path: Path, domain: str, indices: tuple[int, ...]) -> Path:
    """A tau-usi file with one session per index (two for the first: batches share a card)."""

    def session(index: int) -> dict[str, Any]:
        canvas = (
            "<|canvas|>**Instruction:** You are role-playing as a user interacting with an "
            f"agent.\n\n{card(index)}\n\n**Rules:**\n- one line at a time\n\n"
            f"**Task split:** {domain}<|/canvas|>Hello! What can I do for you today?"
        )
        return {
            "conversation": [
                {"role": "user", "content": f"\\tau task_index:{domain}-{index} model:m"},
                {"role": "assistant", "content": canvas},
                {"role": "user", "content": "hi i need help"},
                {"role": "assistant", "content": "Sure."},
                {"role": "user", "content": "/stop"},
            ],
            "reward": 1.0,
        }

    sessions = {f"{domain}_{i}": session(i) for i in indices}
    sessions[f"{domain}_{indices[0]}_ann2"] = session(indices[0])
    path.write_text(json.dumps(sessions), encoding="utf-8")
    return path


def settings(protocol: str = "tau2", study: Path | None = None) -> RunSettings:
    return RunSettings(
        domain="retail",
        agent=RoleSettings("offline/oracle", temperature=0.0),
        user=RoleSettings("offline/cooperative", temperature=0.0),
        protocol=protocol,
        study=load_study_instructions(study, "retail") if study else None,
    )


Requests = list[tuple[str, list[dict[str, Any]]]]


@pytest.fixture
def requests(monkeypatch: pytest.MonkeyPatch) -> Requests:
    """Every completion the offline server answers: (role, messages)."""
    seen: Requests = []
    real = offline.complete

    def recording(body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        seen.append((headers.get("x-usi-role", ""), list(body.get("messages") or [])))
        return real(body, headers)

    monkeypatch.setattr(offline, "complete", recording)
    return seen


def scripted(monkeypatch: pytest.MonkeyPatch, role: str, message: dict[str, Any]) -> None:
    """The offline server answers every request of ``role`` with ``message``."""
    real = offline.complete

    def answer(body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        response = real(body, headers)
        if headers.get("x-usi-role") == role:
            response["choices"][0]["message"] = {"role": "assistant", **message}
            response["choices"][0]["finish_reason"] = (
                "tool_calls" if message.get("tool_calls") else "stop"
            )
        return response

    monkeypatch.setattr(offline, "complete", answer)


def only(path: Path) -> Episode:
    (episode,) = read_episodes(path)
    return episode


def test_tau_usi_gives_the_study_card_the_paper_rules_and_the_greeting_first(
    offline_server: Callable[..., Any], requests: Requests, tmp_path: Path
) -> None:
    offline_server()
    study = study_file(tmp_path / "study.json", "retail", (0,))
    out = tmp_path / "out.jsonl"
    run_episodes(settings("tau-usi", study), out, progress=False)
    episode = only(out)
    user_calls = [messages for role, messages in requests if role == "user"]
    first = user_calls[0]
    assert first[0] == {"role": "system", "content": f"{card(0)}\n\n{paper.USER_RULES}"}
    assert first[1:] == [{"role": "user", "content": "Hi! How can I help you today?"}]
    assert "<scenario>" not in first[0]["content"]  # none of τ²'s guidelines or scenario
    assert (episode.messages[0].role, episode.messages[0].content) == (
        "assistant",
        paper.GREETING,
    )
    assert episode.messages[1].role == "user"
    meta = episode.metadata
    assert {k: meta[k] for k in PROVENANCE_KEYS} == {
        "protocol": "tau-usi",
        "instruction": card(0),
        "instruction_sha256": hashlib.sha256(card(0).encode()).hexdigest(),
        "instruction_source": str(study),
        "tau_usi_key": "retail_0",
        "trial": 0,
        "agent_model": "offline/oracle",
    }
    assert meta["termination_reason"] == "user_stop" and meta["limit"] is None
    assert meta["settings"]["limits"] == {"max_user_turns": 80, "max_tool_rounds": 64}
    # The survey follows in the simulator's own chat: its prompt, the conversation, the
    # paper's survey request; its last turn keeps the stop token as it wrote it.
    (survey_call,) = [messages for role, messages in requests if role == "survey"]
    assert survey_call[0] == first[0]
    assert survey_call[1] == first[1]
    assert survey_call[-2]["role"] == "assistant"
    assert survey_call[-2]["content"].endswith(" ###STOP###")
    assert survey_call[-1] == {"role": "user", "content": paper.survey_prompt()}
    assert len(survey_call) == 2 + 2 * sum(1 for m in episode.messages if m.role == "user")
    assert episode.survey is not None and episode.survey["task_success"] == "Yes - Task completed"


def test_tau2_gives_tau2_scenario_and_records_the_instance_key(
    offline_server: Callable[..., Any], requests: Requests, tmp_path: Path
) -> None:
    offline_server()
    out = tmp_path / "out.jsonl"
    run_episodes(settings(), out, task_ids=["95"], progress=False)
    scenario = str(domain_tasks("retail")["95"].user_scenario)
    first = next(messages for role, messages in requests if role == "user")
    assert first[0]["role"] == "system"
    assert f"<scenario>\n{scenario}\n</scenario>" in first[0]["content"]
    assert paper.USER_RULES not in first[0]["content"]
    assert first[1:] == [{"role": "user", "content": "Hi! How can I help you today?"}]
    meta = only(out).metadata
    assert {k: meta[k] for k in PROVENANCE_KEYS} == {
        "protocol": "tau2",
        "instruction": scenario,
        "instruction_sha256": hashlib.sha256(scenario.encode()).hexdigest(),
        "instruction_source": "tau2",
        "tau_usi_key": "retail_96",  # τ² dropped τ-bench's retail 95: τ² 95 is the study's 96
        "trial": 0,
        "agent_model": "offline/oracle",
    }
    assert meta["tau2_gold_actions_changed"] is False and meta["limit"] is None


def test_a_simulator_that_never_stops_ends_after_80_user_turns(
    offline_server: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    offline_server()
    scripted(monkeypatch, "user", {"content": "hello? are you still there?"})
    scripted(monkeypatch, "agent", {"content": "I am here. What can I do for you?"})
    study = study_file(tmp_path / "study.json", "retail", (3,))
    out = tmp_path / "out.jsonl"
    run_episodes(settings("tau-usi", study), out, progress=False)
    episode = only(out)
    roles = [m.role for m in episode.messages]
    # The answer to the greeting, then the rollout's 80 turns; the agent never answers the last.
    assert roles.count("user") == 81
    assert roles.count("assistant") == 81  # the greeting and 80 answers
    assert roles[-1] == "user"
    assert episode.metadata["limit"] == "user_turns"
    assert episode.metadata["termination_reason"] == "max_steps"
    assert episode.metadata["ended_by"] is None


def test_the_same_simulator_under_tau2_ends_at_tau2_step_budget(
    offline_server: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    offline_server()
    scripted(monkeypatch, "user", {"content": "hello? are you still there?"})
    scripted(monkeypatch, "agent", {"content": "I am here. What can I do for you?"})
    out = tmp_path / "out.jsonl"
    run_episodes(settings(), out, task_ids=["3"], progress=False)
    episode = only(out)
    assert [m.role for m in episode.messages].count("user") == 50  # 100 τ² steps
    assert episode.metadata["limit"] is None
    assert episode.metadata["termination_reason"] == "max_steps"


def test_an_agent_that_only_calls_tools_ends_after_64_rounds(
    offline_server: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    offline_server()
    call = {
        "id": "call_0",
        "type": "function",
        "function": {"name": "calculate", "arguments": json.dumps({"expression": "1 + 1"})},
    }
    scripted(monkeypatch, "agent", {"content": None, "tool_calls": [call]})
    study = study_file(tmp_path / "study.json", "retail", (3,))
    out = tmp_path / "out.jsonl"
    run_episodes(settings("tau-usi", study), out, progress=False)
    episode = only(out)
    roles = [m.role for m in episode.messages]
    assert roles.count("user") == 1  # it answered the greeting, then waited
    assert roles.count("tool") == 64 and roles[-1] == "tool"
    assert episode.metadata["limit"] == "tool_rounds"


def test_study_tasks_without_a_tau2_task_are_left_out_and_counted(tmp_path: Path) -> None:
    study = study_file(tmp_path / "study.json", "retail", (0, 95, 99, 130))
    loaded = load_study_instructions(study, "retail")
    assert [(t.key, t.task_id, t.gold_actions_changed) for t in loaded.tasks] == [
        ("retail_0", "0", False),
        ("retail_99", "98", True),  # τ² changed its gold write actions
    ]
    assert loaded.tasks[0].instruction == card(0)
    assert loaded.no_tau2_task == ("retail_95", "retail_130")
    assert len(loaded.no_instruction) == 112
    assert loaded.warnings() == [
        f"{study}: left out 2 study task(s) with no τ² task (retail_95, retail_130) and 112 τ² "
        "retail task(s) with no instruction in the file",
        f"{study}: τ² changed the gold actions of 1 task(s) (retail_99): their reward is τ²'s, "
        "not the study's",
    ]


def test_cli_runs_the_study_tasks_and_warns_once_for_those_left_out(
    offline_server: Callable[..., Any], usi: Usi, tmp_path: Path
) -> None:
    offline_server()
    study = study_file(tmp_path / "study.json", "retail", (2, 95))
    out = tmp_path / "out.jsonl"
    args = ("run", "--domain", "retail", "--quiet", "-o", str(out))
    code, _, err = usi(*args, "--protocol", "tau-usi", "--instructions", study)
    assert code == 0
    assert [line for line in err.splitlines() if "warning" in line.lower()] == [
        f"usi: warning: {study}: left out 1 study task(s) with no τ² task (retail_95) and 113 "
        "τ² retail task(s) with no instruction in the file"
    ]
    assert [e.metadata["tau_usi_key"] for e in read_episodes(out)] == ["retail_2"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--protocol", "tau-usi"), "--protocol: --protocol tau-usi needs --instructions"),
        (("--instructions", "STUDY"), "--instructions: has no effect without --protocol tau-usi"),
        (("--protocol", "tau3"), "--protocol: unknown protocol 'tau3' (known: tau2, tau-usi)"),
        (
            ("--protocol", "tau-usi", "--instructions", "STUDY", "--max-steps", "50"),
            "--max-steps: has no effect with --protocol tau-usi",
        ),
        (
            ("--protocol", "tau-usi", "--instructions", "STUDY", "--user-prompt", "STUDY"),
            "--user-prompt: has no effect with --protocol tau-usi",
        ),
        (
            ("--protocol", "tau-usi", "--instructions", "STUDY", "--tasks", "7"),
            "retail task 7 has no instruction in",
        ),
        (
            ("--protocol", "tau-usi", "--instructions", "MISSING"),
            "no such study file",
        ),
    ],
)
def test_protocol_flags_are_checked_before_any_work(
    usi: Usi,
    tmp_path: Path,
    extra: tuple[str, ...],
    message: str,
) -> None:
    study = study_file(tmp_path / "study.json", "retail", (2,))
    extra = tuple(
        str(study) if a == "STUDY" else str(tmp_path / "missing.json") if a == "MISSING" else a
        for a in extra
    )
    out = tmp_path / "out.jsonl"
    code, _, err = usi("run", "--domain", "retail", "--quiet", "-o", out, *extra)
    err = err.strip()
    assert code == 2
    assert err.startswith("usi: error: ") and "\n" not in err and message in err
    assert not out.exists()


def test_the_paper_survey_lists_usi_labels_in_the_paper_order() -> None:
    for item in SURVEY_ITEMS:
        assert sorted(paper.paper_options(item.id)) == sorted(item.options)
    prompt = paper.survey_prompt()
    assert prompt.startswith("Based on the above conversation, fill out the survey below.\n\n")
    assert (
        "- question_amount_preference: How did the number of clarifying questions feel to you?\n"
        "  Options: ['Too many', 'About right', 'Too few']\n"
    ) in prompt
    assert prompt.endswith("Do not include any text outside JSON.")
    assert prompt.count("  Options: ") == len(ITEMS_BY_ID) == 8


def test_the_greeting_is_tau2_first_agent_message() -> None:
    from tau2.orchestrator.orchestrator import DEFAULT_FIRST_AGENT_MESSAGE

    assert DEFAULT_FIRST_AGENT_MESSAGE.content == paper.GREETING

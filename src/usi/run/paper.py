"""The paper's run protocol (``usi run --protocol tau-usi``): prompt, greeting, limits, survey.

What "Mind the Sim2Real Gap in User Simulation for Agentic Tasks" ran its simulators with, as
its public rollout code documents it: ``rollout_one_task`` in ``agents/tau_usi/agent.py`` of
sunnweiwei/OdysSim (Copyright 2025 OdysSim Authors, Apache License 2.0). The user rules, the
greeting and the survey prompt below reproduce that code's text, because they are part of the
protocol; everything else here is usi's own.

- The simulator's system prompt is the instruction the study's participants saw (the original
  τ-bench instruction), a blank line, then :data:`USER_RULES`.
- The agent opens with :data:`GREETING` and the simulator answers it (τ²'s orchestrator does
  exactly this: its default first agent message is the same sentence, a test checks it).
- After that answer, at most :data:`MAX_USER_TURNS` user turns, and at most
  :data:`MAX_TOOL_ROUNDS` agent messages in a row before the user speaks again.
- After the conversation the simulator, still in its own chat, is sent :func:`survey_prompt`.
"""

from __future__ import annotations

from collections.abc import Sequence

from usi.core.episode import Message
from usi.core.survey import ITEMS_BY_ID, SURVEY_ITEMS

PROTOCOLS: tuple[str, ...] = ("tau2", "tau-usi")
TAU2, TAU_USI = PROTOCOLS

GREETING = "Hi! How can I help you today?"
# The rollout's loop: ``for _user_turn in range(80)`` after the answer to the greeting, so a
# simulator that never stops writes 1 + 80 user messages; ``for _ in range(64)`` agent calls
# per user turn.
MAX_USER_TURNS = 80
MAX_TOOL_ROUNDS = 64

# OdysSim agents/tau_usi/agent.py, rollout_one_task (Apache-2.0): the rules after the instruction.
USER_RULES = """Rules:
- Just generate one line at a time to simulate the user's message.
- Do not give away all the instruction at once. Only provide the information that is necessary for the current step.
- Do not hallucinate information that is not provided in the instruction. For example, if the agent asks for the order id but it is not mentioned in the instruction, do not make up an order id, just say you do not remember or have it.
- If the instruction goal is satisfied, generate '###STOP###' as a standalone message without anything else to end the conversation.
- If transferring to a human, after the agent confirms the transfer is successful, you must generate '###STOP###' immediately to end the conversation with the agent.
- Do not repeat the exact instruction in the conversation. Instead, use your own words to convey the same information.
- Try to make the conversation as natural as possible, and stick to the personalities in the instruction."""  # noqa: E501

# The rollout lists each item's options in the order of OdysSim's FIELD_ORDINAL
# (agents/tau_usi/utils.py), which is not always usi's scale order: the same labels, listed
# as the paper's simulators read them. A test checks they are a permutation of usi's.
PAPER_OPTION_ORDER: dict[str, tuple[str, ...]] = {
    "task_success": (
        "No - Task failed",
        "No - Due to a policy issue, which the agent clearly explained",
        "Partially - Some progress",
        "Yes - Task completed",
        "Fully - Exceeded expectations",
    ),
    "question_amount_preference": ("Too many", "About right", "Too few"),
    "answer_effort_time": ("High", "Medium", "Low"),
}


def user_system_prompt(instruction: str) -> str:
    """The simulator's system prompt: the instruction, a blank line, the rules."""
    return f"{instruction}\n\n{USER_RULES}"


def paper_options(item_id: str) -> tuple[str, ...]:
    """The options of one survey item in the order the paper's prompt lists them."""
    return PAPER_OPTION_ORDER.get(item_id, ITEMS_BY_ID[item_id].options)


def survey_prompt() -> str:
    """The request sent after the conversation, in the simulator's own chat.

    Reproduces the rollout's prompt (OdysSim, Apache-2.0): each item id, its question, and its
    options written as a Python list.
    """
    lines = []
    for item in SURVEY_ITEMS:
        lines.append(f"- {item.id}: {item.question}")
        lines.append(f"  Options: {list(paper_options(item.id))}")
    questions = "\n".join(lines)
    return (
        "Based on the above conversation, fill out the survey below.\n\n"
        f"{questions}\n\n"
        "Respond ONLY with a JSON object mapping each survey field id to exactly one listed "
        "option string.\nDo not include any text outside JSON."
    )


def simulator_chat(messages: Sequence[Message], ended_by: str | None) -> list[dict[str, str]]:
    """The conversation as the simulator's own chat: the agent is ``user``, itself ``assistant``.

    Only what the simulator saw and wrote: the agent's text turns (the greeting first) and its
    own turns, the last one with the control token it wrote (put back by
    :func:`usi.tau.messages.to_tau`, the one place that restores it). Tool traffic is the
    agent's and is left out.
    """
    from usi.tau.messages import to_tau

    chat: list[dict[str, str]] = []
    for message in to_tau(messages, ended_by):
        content = message.content or ""
        if message.role == "assistant" and content.strip():
            chat.append({"role": "user", "content": content})
        elif message.role == "user" and not message.tool_calls:
            chat.append({"role": "assistant", "content": content})
    return chat

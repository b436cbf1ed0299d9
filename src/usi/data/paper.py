"""The paper's raw transcripts (spec §10.2): meta messages, user turns and ``n_turns``.

The paper scores raw transcripts — ``{role, content}`` lists in which an agent message holds
its tool calls and results as markup — and removes *meta messages* first. Human sessions:
content starting with ``\\tau `` or ``\\reward``, content containing ``<|canvas|>``,
``<|highlight|>`` or ``<|survey|>`` (any role), content equal to ``/stop`` after stripping.
Simulators: content equal to ``###STOP###`` after stripping — a token glued to text is *not*
meta and stays, token included (the paper counts it as a word).

usi's canonical episode splits an agent message into assistant and tool messages, so the
readers of the paper's two raw formats record the raw count of non-meta messages as
``metadata["tau_usi_n_turns"]``; for other episodes (``usi run``, ``tau2 run`` results) the
count is rebuilt the way the paper's rollout records a conversation: user and assistant
messages, tool results left out. A τ² simulator's control token, which usi keeps as
``metadata["ended_by"]``, is put back where τ² had it (glued to the last user message, or a
message of its own), exactly as :func:`usi.tau.messages.to_tau` restores it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from usi.core.episode import Episode, Message

N_TURNS_KEY = "tau_usi_n_turns"
"""Metadata key: the paper's ``n_turns`` of a raw transcript, recorded by the readers."""

STOP = "###STOP###"
INSTANCE_KEY = "tau_usi_instance"
"""Metadata key: the entry's key in the paper's results or ratings file, as written there."""
TAU_KEY = "tau_usi_key"
"""Metadata key: the tau-usi task key ``{domain}_{index}`` of a usi run's episode."""
_HUMAN_PREFIXES = ("\\tau ", "\\reward")


def is_meta(content: str, human: bool) -> bool:
    """The paper's ``_is_meta_message`` (note: the prefixes are tested on the raw text)."""
    if human:
        if content.startswith(_HUMAN_PREFIXES):
            return True
        # Every marker opens with "<|": most messages are rejected by that one test (this
        # runs on every message of a raw file); the markers are then tested in line, not by
        # a generator (a third of the agent messages hold "<|": think blocks, tool results).
        if "<|" in content and (
            "<|canvas|>" in content or "<|highlight|>" in content or "<|survey|>" in content
        ):
            return True
        return content.strip() == "/stop"
    return content.strip() == STOP


def raw_turns(conversation: Iterable[dict[str, Any]], human: bool) -> tuple[list[str], int]:
    """User turns and ``n_turns`` of a raw ``{role, content}`` transcript."""
    turns: list[str] = []
    n_turns = 0
    for message in conversation:
        content = str(message.get("content", ""))
        if is_meta(content, human):
            continue
        n_turns += 1
        if str(message.get("role", "")) == "user":
            turns.append(content)
    return turns, n_turns


def _recorded_turns(episode: Episode) -> int | None:
    recorded = episode.metadata.get(N_TURNS_KEY)
    return recorded if isinstance(recorded, int) and not isinstance(recorded, bool) else None


def _agent_text(message: Message) -> str:
    """An assistant message as the paper's transcripts write it: text, then call markup."""
    calls = "".join(
        f"<function={call.name}>\n"
        + "".join(
            f"<parameter={name}>{value if isinstance(value, str) else json.dumps(value)}"
            "</parameter>\n"
            for name, value in call.arguments.items()
        )
        + "</function>"
        for call in message.tool_calls or []
    )
    return message.content + calls


def paper_conversation(episode: Episode) -> list[dict[str, str]]:
    """The episode as the paper's rollout records a conversation (§10.1).

    User and assistant messages in order (tool results are not part of it; an agent's tool
    calls are written in the paper's ``<function=…>`` markup). A τ² simulator's ending token
    is put back where τ² had it — glued to the last user message, or a message of its own;
    an episode read from one of the paper's files keeps its messages as written.
    """
    out = [
        {"role": m.role, "content": m.content if m.role == "user" else _agent_text(m)}
        for m in episode.messages
        if m.role in ("user", "assistant")
    ]
    token = episode.metadata.get("ended_by")
    if not (isinstance(token, str) and token) or episode.is_human:
        return out
    if _recorded_turns(episode) is not None:  # the paper's file had it as its own message
        out.append({"role": "user", "content": token})
    else:
        if out and out[-1]["role"] == "user" and episode.messages[-1].role == "user":
            out[-1]["content"] = f"{out[-1]['content']} {token}".strip()
        else:
            out.append({"role": "user", "content": token})
    return out


def episode_turns(episode: Episode) -> tuple[list[str], int]:
    """User turns and ``n_turns`` of a canonical episode, as the paper would count them.

    ``n_turns`` is the count the paper's file recorded when the episode came from one
    (``metadata["tau_usi_n_turns"]``), else the count of :func:`paper_conversation`.
    """
    recorded = _recorded_turns(episode)
    if recorded is not None and episode.is_human:
        # A session of the study, its count recorded: its turns are its user messages as
        # written (nothing is put back for a person), so the conversation is not rebuilt.
        turns = [
            m.content for m in episode.messages if m.role == "user" and not is_meta(m.content, True)
        ]
        return turns, recorded
    turns, n_turns = raw_turns(paper_conversation(episode), human=episode.is_human)
    return turns, (n_turns if recorded is None else recorded)


def tau_key(episode: Episode) -> str | None:
    """``{domain}_{index}``: recorded by a usi run or a study reader, else from the τ² task id
    (:func:`usi.tau.align.tau_usi_index`); None when the task has no tau-usi index."""
    key = episode.metadata.get(TAU_KEY)
    if isinstance(key, str) and key:
        return key
    index = episode.metadata.get("tau_index")
    if isinstance(index, int) and not isinstance(index, bool):
        return f"{episode.domain}_{index}"
    # A run written before usi recorded the key: its τ² task, mapped to the study's index.
    from usi.tau.align import tau_usi_key

    return tau_usi_key(episode.domain, episode.task_id)

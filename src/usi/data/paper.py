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

from collections.abc import Iterable
from typing import Any

from usi.data.episode import Episode

N_TURNS_KEY = "tau_usi_n_turns"
"""Metadata key: the paper's ``n_turns`` of a raw transcript, recorded by the readers."""

STOP = "###STOP###"
_HUMAN_PREFIXES = ("\\tau ", "\\reward")
_HUMAN_MARKERS = ("<|canvas|>", "<|highlight|>", "<|survey|>")


def is_meta(content: str, human: bool) -> bool:
    """The paper's ``_is_meta_message`` (note: the prefixes are tested on the raw text)."""
    if human:
        if content.startswith(_HUMAN_PREFIXES):
            return True
        if any(marker in content for marker in _HUMAN_MARKERS):
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


def episode_turns(episode: Episode) -> tuple[list[str], int]:
    """User turns and ``n_turns`` of a canonical episode, as the paper would count them."""
    human = episode.is_human
    contents = [m.content for m in episode.messages if m.role == "user"]
    token = episode.metadata.get("ended_by")
    recorded = episode.metadata.get(N_TURNS_KEY)
    verbatim = isinstance(recorded, int) and not isinstance(recorded, bool)
    # A paper file keeps its user messages as written (a standalone token was meta and is
    # gone); a τ² run's token is put back where τ² had it.
    if isinstance(token, str) and token and not human and not verbatim:
        if episode.messages and episode.messages[-1].role == "user":
            contents[-1] = f"{contents[-1]} {token}".strip()
        else:
            contents.append(token)
    turns = [c for c in contents if not is_meta(c, human)]
    if verbatim:
        return turns, int(recorded)
    n_agent = sum(
        1 for m in episode.messages if m.role == "assistant" and not is_meta(m.content, human)
    )
    return turns, len(turns) + n_agent

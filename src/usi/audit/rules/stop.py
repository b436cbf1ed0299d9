"""``premature_stop``: the user ended the conversation before the task's write action ran.

Rule (needs the aligned τ² task): the user ended the conversation, and at least one of the
task's gold *write* actions (those that change the database, :mod:`usi.audit.tasks`) was
never executed by the agent. τ²'s sierra-research/tau2-bench #297 and #182: the user stops
right after the agent proposes the change or asks to confirm it, so the agent never runs it
and the agent is blamed for the failure.

*The user ended it* when, in this order:

1. the episode's metadata names how it ended (``ended_by``, ``termination`` or
   ``termination_reason`` — τ²'s ``user_stop``): a user ending counts, any other ending
   (the agent's stop, max steps, an error) does not;
2. otherwise, the last user message carries a stop token (τ²'s ``###STOP###``, the study's
   ``/stop``) or says goodbye ("bye", "that's all", "have a nice day", "never mind", …).

Skipped without an aligned task, and on a transcript whose agent messages were removed
(the tool calls are then unknown). Not premature: a conversation the agent handed to a
human (a ``transfer_to_human…`` tool call, τ²'s ``###TRANSFER###``) or the scenario
declared out of scope (``###OUT-OF-SCOPE###``).
A gold write counts as executed when the agent called that tool (as many times as the gold
actions do), whatever the arguments and the result: a wrong argument or a call the database
refused is the agent's doing, not a premature stop (τ²'s own gold actions sometimes fail
when replayed, e.g. "Non-delivered order cannot be exchanged", and still earn reward 1).
Evidence: the first write never executed, and what the agent said last.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterator

from usi.audit.models import AuditError
from usi.audit.view import TURN_CACHE, EpisodeView
from usi.tau.messages import STOP

#: Metadata keys that may record how the conversation ended, most specific first.
ENDING_KEYS: tuple[str, ...] = ("ended_by", "termination", "termination_reason")
#: Their values that mean the user ended it (τ²: ``TerminationReason.USER_STOP``).
#: ``ended_by`` holds the control token that ended a τ² conversation (usi.tau.messages).
USER_ENDINGS: frozenset[str] = frozenset(
    {"user", "user_stop", "user_stopped", "stop", STOP.lower()}
)
STOP_TOKEN_RE = re.compile(r"###STOP###|(?<!\S)/stop(?!\S)", re.IGNORECASE)
HANDOFF_TOKEN_RE = re.compile(r"###(?:TRANSFER|OUT-OF-SCOPE)###", re.IGNORECASE)
GOODBYE_RE = re.compile(
    r"(?<!\w)(?:good ?bye|bye(?: bye)?|that(?:'s| is|s) (?:all|it|everything)"
    r"|nothing else|no further (?:questions|help)|have a (?:good|great|nice|wonderful) (?:day|one)"
    r"|never ?mind|forget (?:it|about it)|i(?:'ll| will) (?:call|come|check) back"
    r"|i(?:'m| am) done)(?!\w)",
    re.IGNORECASE,
)
TRANSFER_TOOL_PREFIX = "transfer_to_human"
#: How much of the agent's last message the evidence quotes.
AGENT_QUOTE_CHARS = 160


def _metadata_ending(view: EpisodeView) -> bool | None:
    """True/False when the metadata says who ended it; None when it does not say."""
    metadata = view.episode.metadata
    for key in ENDING_KEYS:
        value = metadata.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip().lower() in USER_ENDINGS
    return None


@functools.lru_cache(maxsize=TURN_CACHE)
def _last_words(text: str) -> tuple[bool, bool]:
    """(hands off, says stop or goodbye) of a last user message; cached by text, as the
    turns' reading is (people end with the same few words)."""
    if HANDOFF_TOKEN_RE.search(text):
        return True, False
    return False, bool(STOP_TOKEN_RE.search(text) or GOODBYE_RE.search(text))


def user_ended(view: EpisodeView) -> bool:
    """Did the user end the conversation (metadata first, then the last user message)?"""
    if not view.turns:
        return False
    handoff, stop = _last_words(view.turns[-1].text)
    if handoff:
        return False
    said = _metadata_ending(view)
    if said is not None:
        return said
    return stop


def executed_writes(view: EpisodeView) -> tuple[Counter[str], bool]:
    """Agent tool calls by name, and whether the agent transferred to a human."""
    done: Counter[str] = Counter()
    transferred = False
    for call in view.agent_calls:
        if call.name.startswith(TRANSFER_TOOL_PREFIX):
            transferred = True
        done[call.name] += 1
    return done, transferred


def skipped(view: EpisodeView) -> list[str]:
    """Without the task there are no gold actions; without the agent's messages, no calls."""
    return ["premature_stop"] if view.task is None or view.incomplete else []


def check(view: EpisodeView) -> Iterator[AuditError]:
    task = view.task
    if task is None or not task.writes or not user_ended(view):
        return
    done, transferred = executed_writes(view)
    if transferred:
        return
    needed: Counter[str] = Counter()
    missing = None
    for action in task.writes:
        needed[action.name] += 1
        if needed[action.name] > done[action.name]:
            missing = action
            break
    if missing is None:
        return
    last = view.turns[-1]
    agent = " ".join(view.last_agent_text(last.position).split())
    if len(agent) > AGENT_QUOTE_CHARS:  # keep the end: the proposal or the question
        agent = "…" + agent[-AGENT_QUOTE_CHARS + 1 :]
    evidence = f"{missing.describe()} not executed"
    if agent:
        evidence += f"; the agent had said: {agent!r}"
    yield AuditError(kind="premature_stop", turn=last.turn, evidence=evidence)

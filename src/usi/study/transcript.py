"""Conversions of a session's messages: database rows ↔ τ² messages ↔ canonical messages.

The database keeps the full τ² trajectory (tool calls and results included) so the
environment can be replayed and the τ² evaluator can score the episode; the participant
sees only rows marked ``visible`` (their own messages and the agent's text).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from usi.core.episode import Message
from usi.study.schema import StoredMessage
from usi.tau.messages import from_tau, stored_to_tau

if TYPE_CHECKING:
    from tau2.data_model.message import Message as TauMessage

STOP_COMMAND = "/stop"


def is_stop_command(text: str) -> bool:
    """True for the participant's ``/stop`` (case and surrounding space ignored)."""
    return text.strip().lower() == STOP_COMMAND


def to_tau(rows: Iterable[StoredMessage]) -> list[TauMessage]:
    """τ² messages of the stored rows, in order (:func:`usi.tau.messages.stored_to_tau`)."""
    return stored_to_tau(rows)


def row_fields(message: TauMessage) -> dict[str, Any]:
    """Column values of a τ² message (what :class:`StoredMessage` stores)."""
    role = message.role
    if role == "tool":
        return {
            "role": "tool",
            "content": message.content or "",
            "tool_calls": None,
            "tool_call_id": getattr(message, "id", None),
            "tool_error": bool(getattr(message, "error", False)),
            "visible": False,
        }
    calls = getattr(message, "tool_calls", None) or []
    return {
        "role": str(role),
        "content": message.content or "",
        "tool_calls": [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in calls]
        or None,
        "tool_call_id": None,
        "tool_error": False,
        "visible": not calls and bool((message.content or "").strip()),
    }


def to_canonical(rows: Sequence[StoredMessage]) -> list[Message]:
    """Canonical :class:`usi.data.Message` list of a session (what ``export`` writes).

    Through τ² messages and usi's one converter (:func:`usi.tau.messages.from_tau`), so a
    study session reads exactly like a ``usi run`` episode.
    """
    return from_tau(stored_to_tau(rows)).messages

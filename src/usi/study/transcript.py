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

if TYPE_CHECKING:
    from tau2.data_model.message import Message as TauMessage

STOP_COMMAND = "/stop"


def is_stop_command(text: str) -> bool:
    """True for the participant's ``/stop`` (case and surrounding space ignored)."""
    return text.strip().lower() == STOP_COMMAND


def to_tau(rows: Iterable[StoredMessage]) -> list[TauMessage]:
    """τ² messages of the stored rows, in order."""
    from tau2.data_model.message import AssistantMessage, ToolMessage, UserMessage
    from tau2.data_model.message import ToolCall as TauToolCall

    messages: list[TauMessage] = []
    for row in rows:
        if row.role == "assistant":
            calls = [
                TauToolCall(
                    id=c.get("id") or "", name=c["name"], arguments=c.get("arguments") or {}
                )
                for c in row.tool_calls or []
            ]
            messages.append(
                AssistantMessage(
                    role="assistant", content=row.content or None, tool_calls=calls or None
                )
            )
        elif row.role == "user":
            messages.append(UserMessage(role="user", content=row.content))
        elif row.role == "tool":
            messages.append(
                ToolMessage(
                    id=row.tool_call_id or "",
                    role="tool",
                    content=row.content,
                    requestor="assistant",
                    error=row.tool_error,
                )
            )
    return messages


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
    from usi.tau.messages import from_tau

    return from_tau(to_tau(rows)).messages

"""The one message converter each way between τ² and usi's canonical episode.

τ² records a conversation as typed messages (``UserMessage``, ``AssistantMessage``,
``ToolMessage``, ``MultiToolMessage``, ``SystemMessage``); usi's canonical
:class:`~usi.core.episode.Message` has the same agent-centric roles. Every path that turns
one into the other — ``usi run``, the ``tau2 run`` results reader, the ``.tau2.json`` export,
the study's transcripts — goes through :func:`from_tau` / :func:`to_tau`, so the same
conversation gives the same canonical episode whichever file it is read from.

Control tokens. A τ² user simulator ends the conversation by writing ``###STOP###`` (or
``###TRANSFER###``, ``###OUT-OF-SCOPE###``) into its last message. The token is protocol, not
speech — τ²'s equivalent of a participant's ``/stop`` — so a canonical user turn never keeps
it: :func:`from_tau` removes it, drops a user message that held only the token (a message
that was empty to begin with stays: the simulator sent it), and reports the
token as how the episode ended (stored as ``metadata["ended_by"]``). :func:`to_tau` puts it
back at the end of the last user message (or as a last user message of its own), so an
exported ``.tau2.json`` reads in τ² exactly as τ² wrote it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from usi.core.episode import Message, ToolCall

if TYPE_CHECKING:
    from tau2.data_model.message import Message as TauMessage

# The values of tau2.user.base.STOP / TRANSFER / OUT_OF_SCOPE (a test checks they still are);
# spelled out so that reading a canonical file never has to import τ².
STOP = "###STOP###"
TRANSFER = "###TRANSFER###"
OUT_OF_SCOPE = "###OUT-OF-SCOPE###"
CONTROL_TOKENS: tuple[str, ...] = (STOP, TRANSFER, OUT_OF_SCOPE)
# The metadata key of the canonical episode that records the token that ended it.
ENDED_BY = "ended_by"


class Converted(NamedTuple):
    """Canonical messages of a τ² conversation, and the control token that ended it (if any)."""

    messages: list[Message]
    ended_by: str | None


def strip_control_tokens(text: str) -> tuple[str, str | None]:
    """``text`` without control tokens (trimmed), and the last token it held (None if none).

    Text without a token is returned as it is.
    """
    found: tuple[int, str] | None = None
    for token in CONTROL_TOKENS:
        at = text.rfind(token)
        if at != -1 and (found is None or at > found[0]):
            found = (at, token)
    if found is None:
        return text, None
    for token in CONTROL_TOKENS:
        text = text.replace(token, "")
    return text.strip(), found[1]


def _calls(raw: Any) -> list[ToolCall] | None:
    if not raw:
        return None
    return [ToolCall(id=c.id or None, name=c.name, arguments=dict(c.arguments)) for c in raw]


def from_tau(messages: Iterable[Any]) -> Converted:
    """τ² messages → canonical messages, in order (see the module doc for control tokens).

    System messages (the agent's prompt) are not part of the conversation and are dropped; a
    ``MultiToolMessage`` becomes its tool messages; tool calls keep their ids.
    """
    from tau2.data_model.message import (
        AssistantMessage,
        MultiToolMessage,
        ToolMessage,
        UserMessage,
    )

    out: list[Message] = []
    ended_by: str | None = None
    for message in messages:
        if isinstance(message, UserMessage):
            text, token = strip_control_tokens(message.content or "")
            ended_by = token or ended_by
            calls = _calls(message.tool_calls)
            if text or calls or token is None:  # an empty turn the user sent stays (audit)
                out.append(Message(role="user", content=text, tool_calls=calls))
        elif isinstance(message, AssistantMessage):
            out.append(
                Message(
                    role="assistant",
                    content=message.content or "",
                    tool_calls=_calls(message.tool_calls),
                )
            )
        elif isinstance(message, ToolMessage):
            out.append(_tool(message))
        elif isinstance(message, MultiToolMessage):
            out.extend(_tool(tool_message) for tool_message in message.tool_messages)
    return Converted(out, ended_by)


def _tool(message: Any) -> Message:
    return Message(role="tool", content=message.content or "", tool_call_id=message.id or None)


def to_tau(messages: Sequence[Message], ended_by: str | None = None) -> list[TauMessage]:
    """Canonical messages → τ² messages (``turn_idx`` = position), the ending token restored."""
    from tau2.data_model.message import AssistantMessage, ToolMessage, UserMessage
    from tau2.data_model.message import ToolCall as TauToolCall

    contents = [m.content for m in messages]
    if ended_by is not None:
        if messages and messages[-1].role == "user":
            contents[-1] = f"{contents[-1]} {ended_by}".strip()
        else:
            messages = [*messages, Message(role="user", content=ended_by)]
            contents.append(ended_by)
    out: list[TauMessage] = []
    for turn, (message, content) in enumerate(zip(messages, contents, strict=True)):
        calls = [
            TauToolCall(id=c.id or "", name=c.name, arguments=c.arguments)
            for c in message.tool_calls or []
        ] or None
        if message.role == "user":
            out.append(
                UserMessage(role="user", content=content or None, tool_calls=calls, turn_idx=turn)
            )
        elif message.role == "assistant":
            out.append(
                AssistantMessage(
                    role="assistant", content=content or None, tool_calls=calls, turn_idx=turn
                )
            )
        else:
            out.append(
                ToolMessage(
                    id=message.tool_call_id or "",
                    role="tool",
                    content=content,
                    requestor="assistant",
                    turn_idx=turn,
                )
            )
    return out


class StoredRow(Protocol):
    """A message as the study's database stores it (``usi.study.schema.StoredMessage``):
    the whole τ² message, tool calls as plain dicts and the tool error flag included."""

    @property
    def role(self) -> str: ...
    @property
    def content(self) -> str: ...
    @property
    def tool_calls(self) -> list[dict[str, Any]] | None: ...
    @property
    def tool_call_id(self) -> str | None: ...
    @property
    def tool_error(self) -> bool: ...


def stored_to_tau(rows: Iterable[StoredRow]) -> list[TauMessage]:
    """τ² messages of the study's stored rows, in order, exactly as the agent produced them.

    Unlike :func:`to_tau` (canonical messages, which keep neither the tool error flag nor
    empty user turns as τ² wrote them), nothing is lost: the environment is replayed and the
    session evaluated from these.
    """
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

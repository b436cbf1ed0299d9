"""``empty_turn``: a user message with nothing in it.

Rule: a user message is an empty turn when it is empty, whitespace only, or holds nothing
but control tokens — τ²'s ``###STOP###``/``###TRANSFER###``, chat-template tokens such as
``<|im_end|>`` or ``</s>``, the study's ``/stop``. The one exception is the conversation's
LAST user message when it is only a stop token: that is how a simulator or a participant
ends the conversation, not an empty turn. The study's protocol lines (``\\tau`` set-up,
``\\reward``) are not user turns at all. Evidence: the message as sent (``""`` if empty).

A message with user tool calls (τ² domains where the user has tools) is never empty.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from usi.audit.models import AuditError
from usi.audit.view import EpisodeView

_STOP_ONLY_RE = re.compile(r"^\s*(?:###(?:STOP|TRANSFER|OUT-OF-SCOPE)###|/stop)\s*$", re.I)


def check(view: EpisodeView) -> Iterator[AuditError]:
    messages = view.episode.messages
    for turn in view.turns:
        if turn.clean or messages[turn.position].tool_calls:
            continue
        if turn is view.turns[-1] and _STOP_ONLY_RE.match(turn.text):
            continue
        yield AuditError(kind="empty_turn", turn=turn.turn, evidence=repr(turn.text))

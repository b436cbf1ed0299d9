"""Regressions of the second audit (issue 18) on the study server, in-process where they can be.

The ones that need real concurrent clients, a real kill or a real browser drive a live
server (``live_server`` of conftest) or Chromium; each says which failure it guards.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi.testclient import TestClient

from .conftest import Participant, participant_of
from .test_study_api import study_of


class CountingAgent:
    """Answers "ok"; counts how often its greeting was asked for."""

    greetings = 0

    def greeting(self) -> str:
        CountingAgent.greetings += 1
        return "Hello"

    def respond(self, key: int, domain: str, task_id: str, history: Sequence[Any]) -> list[Any]:
        from tau2.data_model.message import AssistantMessage

        return [AssistantMessage(role="assistant", content="ok")]


def test_the_greeting_is_read_once_at_start_not_on_the_task_page(
    make_app: Callable[..., TestClient],
) -> None:
    """τ²'s greeting lives in a module whose first import is seconds of CPU: read by the
    first POST /task, it held every participant at the task page (p95 3.5 s)."""
    CountingAgent.greetings = 0
    client = make_app(CountingAgent())
    assert CountingAgent.greetings == 1
    for i in range(3):
        p = participant_of(client)
        p.to_chat(f"greet{i:04d}")
        assert p.messages()["messages"][0]["text"] == "Hello"
    assert CountingAgent.greetings == 1
    assert study_of(client).greeting == "Hello"


__all__ = ["Participant"]

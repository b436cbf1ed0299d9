"""Live-server tests: a real ``usi study serve`` in a subprocess, killed and restarted."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from usi.study.db import make_engine, session_factory
from usi.study.loadtest import run_loadtest
from usi.study.schema import StoredMessage

from .conftest import CSRF_RE, LiveServer, start_live

pytestmark = pytest.mark.slow
POLL_LIMIT_S = 90.0


def _wait_idle(client: httpx.Client) -> dict[str, object]:
    deadline = time.monotonic() + POLL_LIMIT_S
    while time.monotonic() < deadline:
        try:
            data = client.get("/chat/messages").json()
        except httpx.HTTPError:
            time.sleep(0.2)
            continue
        if data["agent_status"] != "pending":
            return data
        time.sleep(0.2)
    raise AssertionError("no agent reply in time")


def test_kill_and_restart_loses_no_message(tmp_path: Path) -> None:
    # Every LLM call takes 3 s, so the server is killed while the agent is thinking.
    server: LiveServer = start_live(tmp_path, {"USI_OFFLINE_LATENCY_MS": "3000"})
    try:
        client = httpx.Client(base_url=server.url, timeout=30)
        entry = client.get("/start", params={"PROLIFIC_PID": "killtest01"}, follow_redirects=True)
        csrf = CSRF_RE.search(entry.text).group(1)  # type: ignore[union-attr]
        client.post("/consent", data={"csrf": csrf, "choice": "agree"})
        client.post("/task", data={"csrf": csrf})
        first = "Hi! I need help with my order."
        sent = client.post(
            "/chat/message", data={"csrf": csrf, "text": first, "client_id": "kill-msg-00001"}
        )
        assert sent.json()["ok"]
        assert client.get("/chat/messages").json()["agent_status"] == "pending"
        server.stop(kill=True)  # SIGKILL mid-turn
        server.env.pop("USI_OFFLINE_LATENCY_MS")
        server.restart()
        # The participant's retry of the same message after the crash is recognised.
        again = client.post(
            "/chat/message", data={"csrf": csrf, "text": first, "client_id": "kill-msg-00001"}
        )
        assert again.json()["duplicate"] is True
        data = _wait_idle(client)
        assert data["agent_status"] == "idle"
        texts = [m["text"] for m in data["messages"]]  # type: ignore[index]
        assert texts.count(first) == 1 and len(texts) == 3
        # Continue the session on the restarted server, then finish it.
        second = "My name is Yusuf Rossi and my zip code is 19122."
        client.post(
            "/chat/message", data={"csrf": csrf, "text": second, "client_id": "kill-msg-00002"}
        )
        data = _wait_idle(client)
        texts = [m["text"] for m in data["messages"]]  # type: ignore[index]
        assert texts[:2] == [texts[0], first] and texts.count(second) == 1
        engine = make_engine(server.db_url)
        with session_factory(engine)() as db:
            rows = list(db.scalars(select(StoredMessage).order_by(StoredMessage.seq)))
        engine.dispose()
        assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
        assert sum(r.content == first for r in rows) == 1
        stop = client.post("/chat/stop", data={"csrf": csrf, "client_id": "kill-stop-0001"})
        assert stop.status_code == 303
        client.close()
    finally:
        server.stop()


def test_loadtest_against_live_server(live_server: LiveServer) -> None:
    result = asyncio.run(run_loadtest(live_server.url, participants=4, concurrency=2, turns=3))
    assert result.errors == []
    assert result.completed == 4
    assert result.lost_messages == 0 and result.duplicated_messages == 0
    assert result.idempotency_checks == 4 and result.double_survey_rejected == 4
    assert result.sent_messages == 12
    # The admin page sees the four finished sessions.
    headers = {"Authorization": "Bearer test-admin-token-0123456789abcdef"}
    page = httpx.get(live_server.url + "/admin?state=done", headers=headers, timeout=30).text
    assert len(set(re.findall(r'<a href="/admin/sessions/(\d+)">', page))) == 4

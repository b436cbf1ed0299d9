"""Regressions of the second audit (issue 18) on the study server, in-process where they can be.

The ones that need real concurrent clients, a real kill or a real browser drive a live
server (``live_server`` of conftest) or Chromium; each says which failure it guards.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from usi.core.survey import SURVEY_ITEMS
from usi.data.readers import read_episodes
from usi.errors import UsiInputError
from usi.inputs.sides import human_side, read_input
from usi.study import service
from usi.study.agent import AgentFailure
from usi.study.db import make_engine, migrate
from usi.study.schema import ACTIVE_STATES, StudySession
from usi_main import Usi

from .conftest import LiveServer, Participant, free_port, participant_of, wait_ready
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


def _at_once(count: int, call: Callable[[int], Any]) -> list[Any]:
    """``call(i)`` from ``count`` threads released together (real concurrent clients)."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        results[i] = call(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def test_simultaneous_entries_with_one_id_make_one_live_session(live_server: LiveServer) -> None:
    """Six cookie-less /start calls with one PROLIFIC_PID at once, to a live server: one
    session; the others get the resume page. Before: 5-6 live sessions, 4-5 slots."""
    query = {"PROLIFIC_PID": "twice0001", "STUDY_ID": "s1", "SESSION_ID": "x1"}

    def enter(_i: int) -> tuple[int, str]:
        with httpx.Client(base_url=live_server.url, timeout=60) as client:
            response = client.get("/start", params=query)
            return response.status_code, response.headers.get("location", "")

    results = _at_once(6, enter)
    assert sorted(results) == [(303, "/consent")] + [(409, "")] * 5
    engine = make_engine(live_server.db_url)
    try:
        with engine.connect() as conn:
            live = conn.execute(
                select(StudySession.id).where(
                    StudySession.prolific_pid == "twice0001",
                    StudySession.state.in_(ACTIVE_STATES),
                )
            ).all()
    finally:
        engine.dispose()
    assert len(live) == 1


def test_the_migration_expires_older_duplicate_live_sessions(tmp_path: Path) -> None:
    """A database from before the unique index may hold two live sessions of one id: the
    newest stays, the older one expires and its slot returns to the pool."""
    from alembic import command
    from alembic.config import Config

    from usi.study.db import MIGRATIONS_DIR

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0002")
        now = "2026-12-01 10:00:00"
        conn.exec_driver_sql(
            "INSERT INTO slots (id, domain, task_id, batch, position, active, status, "
            "session_id) VALUES (1, 'retail', '0', 1, 0, 1, 'assigned', 1)"
        )
        for sid in (1, 2):
            conn.exec_driver_sql(
                "INSERT INTO sessions (id, token_hash, csrf_token, prolific_pid, state, "
                "agent_model, agent_status, created_at, last_active_at, slot_id) VALUES "
                f"({sid}, 't{sid}', 'c', 'dup', '{'task' if sid == 1 else 'consent'}', 'm', "
                f"'idle', '{now}', '{now}', {1 if sid == 1 else 'NULL'})"
            )
    migrate(engine)
    with engine.connect() as conn:
        states = conn.exec_driver_sql("SELECT id, state FROM sessions ORDER BY id").all()
        slot = conn.exec_driver_sql("SELECT status, session_id FROM slots").one()
    engine.dispose()
    assert [tuple(r) for r in states] == [(1, "expired"), (2, "consent")]
    assert tuple(slot) == ("open", None)


def _expire_now(client: TestClient) -> None:
    """The hold of every live session ran out, and the reaper came by."""
    study = study_of(client)
    with study.factory.begin() as db:
        db.execute(update(StudySession).values(last_active_at=datetime(2000, 1, 1)))
    study.reap_once()


def test_a_late_survey_from_a_browser_whose_cookie_moved_on_is_stored(
    make_app: Callable[..., TestClient],
) -> None:
    """The hold ran out, the participant opened the study link again (a new session in
    the cookie), then sent the survey still open in a tab: stored, with its completion
    code — not "Expired form" (403)."""
    client = make_app(CountingAgent())
    p = Participant(client)
    p.to_chat("late0001")
    assert p.stop("late").json()["redirect"] == "/survey"
    first = service.find_session(study_of(client).factory, client.cookies.get("usi_session"))
    _expire_now(client)
    assert service.get_session(study_of(client).factory, first.id).state == "expired"
    old_csrf = p.csrf
    assert p.enter("late0001").url.path == "/consent"  # a new session in this browser
    answer = client.post(
        "/survey",
        data={"csrf": old_csrf, **{i.id: i.options[-1] for i in SURVEY_ITEMS}},
    )
    finished = service.get_session(study_of(client).factory, first.id)
    assert (answer.status_code, finished.state) == (200, "done")
    assert f'id="completion-code">{finished.completion_code}<' in answer.text


def test_a_late_survey_whose_slot_was_taken_is_told_the_session_expired(
    make_app: Callable[..., TestClient],
) -> None:
    client = make_app(CountingAgent(), tasks={"retail": ["0"]}, batches=1)
    p = Participant(client)
    p.to_chat("late0002")
    p.stop("late2")
    _expire_now(client)
    participant_of(client).to_chat("late0003")  # takes the only slot
    answer = p.survey()
    assert answer.status_code == 410
    assert "Session expired" in answer.text


class DownForFirstAgent(CountingAgent):
    """The provider is down for the first session, up for the others."""

    def respond(self, key: int, domain: str, task_id: str, history: Sequence[Any]) -> list[Any]:
        if key == 1:
            raise AgentFailure("LLM is down (HTTP 503)")
        return super().respond(key, domain, task_id, history)


def test_an_outage_session_is_exported_as_a_failed_run_and_score_leaves_it_out(
    make_app: Callable[..., TestClient], tmp_path: Path, usi: Usi
) -> None:
    """Before: reward 0.0 and no metadata.error, so usi score counted a person who never
    got an answer as a human failure (human success 0.0)."""
    client = make_app(DownForFirstAgent(), judge_model=None)
    down = Participant(client)
    down.to_chat("outage0001")
    assert down.send("anyone there?", "outage-msg-0001").json()["ok"]
    assert down.wait_agent()["agent_status"] == "error"
    down.send("/stop", "outage-stop-0001")
    assert down.survey().url.path == "/done"
    up = participant_of(client)
    up.to_chat("outage0002")
    up.stop("up")
    assert up.survey().url.path == "/done"
    out = tmp_path / "human.jsonl"
    result = usi("study", "export", "--db", study_of(client).config.db_url, "-o", out)
    assert result.exit_code == 0, result.output
    assert (
        "1 written sessions had no agent reply: exported with metadata.error, so usi score "
        "leaves them out (they are not behaviour)" in result.output
    )
    outage, answered = read_episodes(out)
    assert outage.metadata["error"] == (
        "the agent never answered: 1 failed turn(s), first: error: LLM is down (HTTP 503)"
    )
    assert outage.reward is None
    assert "error" not in answered.metadata
    source = read_input(out)
    assert human_side(source)["episode_id"].tolist() == [answered.episode_id]
    (note,) = source.screening.notes()
    assert note.startswith(f"{out}: left out 1 episode(s) that failed for infrastructure")


def _shard_pids(server_pid: int) -> list[int]:
    """The live agent shard processes of a server (spawned children running spawn_main)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = next(line for line in status.splitlines() if line.startswith("PPid:"))
        state = next(line for line in status.splitlines() if line.startswith("State:"))
        if (
            int(parent.split()[1]) == server_pid
            and b"spawn_main" in cmdline
            and "zombie" not in state
        ):
            found.append(int(entry.name))
    return found


def test_a_killed_agent_shard_is_started_again_and_answers_the_waiting_turn(
    live_server: LiveServer,
) -> None:
    """kill -9 of the agent shard (as the OOM killer would): before, every later turn
    failed at the deadline and nothing restarted it."""
    with httpx.Client(base_url=live_server.url, follow_redirects=True, timeout=60) as client:
        p = Participant(client)  # type: ignore[arg-type]
        p.to_chat("shardkill1")
        assert p.send("Hi, I need help.", "shard-kill-msg-01").json()["ok"]
        assert p.wait_agent()["agent_status"] == "idle"  # the shard is up and answering
        (shard,) = _shard_pids(live_server.process.pid)
        os.kill(shard, signal.SIGKILL)
        assert p.send("Are you still there?", "shard-kill-msg-02").json()["ok"]
        data = p.wait_agent(timeout=90)
        assert data["agent_status"] == "idle"
        assert [m["role"] for m in data["messages"]] == ["assistant", "user"] * 2 + ["assistant"]
        (again,) = _shard_pids(live_server.process.pid)
        assert again != shard


def test_a_restart_with_another_agent_model_is_refused_while_chats_are_live(
    make_app: Callable[..., TestClient], tmp_path: Path
) -> None:
    """Before: the new model answered live chats and the export labelled the mixed
    transcript with the old model. Now: refused, in one line, while a chat is live; a
    session not yet chatting takes the new model."""
    client = make_app(CountingAgent(), judge_model=None)
    chatting = participant_of(client)
    chatting.to_chat("model0001")
    waiting = participant_of(client)
    waiting.enter("model0002")  # at the consent page
    db_url = study_of(client).config.db_url
    message = (
        "--agent-model: 1 live chat(s) are being answered by another model (1 with "
        "offline/oracle); serve with that --agent-model until they finish, or end them in "
        "the admin first"
    )
    command = [sys.executable, "-m", "usi", "study", "serve", "--db", db_url]
    command += ["--agent-model", "offline/cooperative", "--port", str(free_port())]
    serve = subprocess.run(
        command,
        env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (serve.returncode, serve.stderr.splitlines()) == (2, [f"usi: error: {message}"])
    with pytest.raises(UsiInputError) as caught:
        make_app(CountingAgent(), agent_model="offline/cooperative", judge_model=None)
    assert caught.value.one_line() == message
    chatting.stop("model")
    assert chatting.survey().url.path == "/done"
    make_app(CountingAgent(), agent_model="offline/cooperative", judge_model=None)
    factory = study_of(client).factory
    models = {row.prolific_pid: row.agent_model for row in service.list_sessions(factory)}
    assert models == {"model0001": "offline/oracle", "model0002": "offline/cooperative"}


def _limit_fds() -> None:
    """In the server's process before exec: 256 descriptors, and no raising them."""
    import resource

    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))


def test_one_client_holding_hundreds_of_connections_cannot_lock_participants_out(
    tmp_path: Path,
) -> None:
    """300 idle connections from 127.0.0.1 to a server with 256 descriptors: before, they
    used them all and a participant's requests hung in the backlog. Now that address gets
    64 (the default cap), every connection over it a 503 at once, and a participant from
    another address is served."""
    import selectors
    import socket

    port = free_port()
    command = [sys.executable, "-m", "usi", "study", "serve", "--port", str(port)]
    command += ["--db", f"sqlite:///{tmp_path / 'fd.db'}", "--agent-model", "offline/oracle"]
    command += ["--domains", "retail"]
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "HF_HUB_OFFLINE": "1"}
    env["USI_STUDY_ADMIN_TOKEN"] = "test-admin-token-0123456789abcdef"
    process = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=_limit_fds,
    )
    server = LiveServer(f"http://127.0.0.1:{port}", "", process, command, env)
    held: list[socket.socket] = []
    try:
        wait_ready(server)
        selector = selectors.DefaultSelector()
        for _ in range(300):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ)
            held.append(sock)
        refused = 0
        answered: set[int] = set()
        deadline = time.monotonic() + 30  # a bound on the wait, not a measurement
        while len(answered) < 236 and time.monotonic() < deadline:
            for key, _ in selector.select(0.5):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                data = sock.recv(4096)
                selector.unregister(sock)
                answered.add(sock.fileno())
                refused += data.startswith(b"HTTP/1.1 503 Service Unavailable")
        assert refused == 236
        other = httpx.HTTPTransport(local_address="127.0.0.2")
        with httpx.Client(base_url=server.url, transport=other, timeout=8) as participant:
            statuses = [participant.get("/").status_code for _ in range(5)]
            entry = participant.get("/start", params={"PROLIFIC_PID": "fdparticipant1"})
        assert statuses == [200] * 5
        assert (entry.status_code, entry.headers["location"]) == (303, "/consent")
    finally:
        for sock in held:
            sock.close()
        server.stop()

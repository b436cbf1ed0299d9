"""API tests of the study web app with the offline agent (τ²'s LLMAgent + offline/oracle)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from usi.study import service
from usi.study.agent import AgentFailure
from usi.study.schema import Slot, StoredMessage, StudySession
from usi.study.security import token_digest

from .conftest import ADMIN_TOKEN, Participant, participant_of

XSS = '<script>alert("pwned")</script><img src=x onerror=alert(1)>'


class OkAgent:
    """An agent that greets and answers every turn with "ok" at once."""

    def greeting(self) -> str:
        return "Hello"

    def respond(self, key: int, domain: str, task_id: str, history: Sequence[Any]) -> list[Any]:
        from tau2.data_model.message import AssistantMessage

        return [AssistantMessage(role="assistant", content="ok")]


def study_of(client: TestClient) -> Any:
    return client.app.state.study  # type: ignore[attr-defined]


def full_session(client: TestClient, pid: str) -> Participant:
    """Entry → consent → card → chat with the oracle on the assigned task → stop."""
    p = Participant(client)
    p.to_chat(pid)
    card = client.get("/chat").text
    assert "You may start with" in card
    session = service.find_session(study_of(client).factory, client.cookies.get("usi_session"))
    assert session is not None and session.task_id is not None
    from usi.tau.cards import load_tasks, task_card

    task = load_tasks(session.domain)[session.task_id]
    known = task.user_scenario.instructions.known_info or ""
    texts = [task_card(session.domain, session.task_id).suggested_first_message, known, "yes"]
    for i, text in enumerate(texts):
        assert p.send(text, f"{pid}-msg-{i:04d}").json()["ok"]
        assert p.wait_agent()["agent_status"] == "idle"
    return p


def test_full_participant_session_with_offline_oracle(
    make_app: Callable[..., TestClient],
) -> None:
    app_client = make_app(tasks={"retail": ["0"]})
    p = full_session(app_client, "pid0001")
    study = study_of(app_client)
    sid = service.find_session(study.factory, app_client.cookies.get("usi_session")).id
    visible = p.messages()["messages"]
    stored = service.messages_of(study.factory, sid, visible_only=False)
    # The agent's tool calls ran on the server: stored, never shown to the participant.
    assert any(m.role == "tool" for m in stored)
    assert all(m["role"] in ("user", "assistant") for m in visible)
    assert len(visible) < len(stored)
    assert visible[0]["text"] == study.agent.greeting()
    # Stop by typing /stop.
    stop = p.send("/stop", "pid0001-stop-0001").json()
    assert stop["redirect"] == "/survey"
    page = app_client.get("/survey")
    assert page.status_code == 200 and "About the agent" in page.text
    # All 8 items required: a partial survey is refused and nothing is stored.
    partial = app_client.post("/survey", data={"csrf": p.csrf, "task_success": "No - Task failed"})
    assert partial.status_code == 422 and "Please answer" in partial.text
    done = p.survey(specific_examples="fine")
    assert done.url.path == "/done"
    code = service.get_session(study.factory, sid).completion_code
    assert code and code in done.text
    assert f"https://recruiter.example/complete?cc={code}" in done.text
    # Double submission is rejected, the first answers stand.
    again = p.survey(specific_examples="second")
    assert again.status_code == 409
    worker = study.worker
    assert worker.compute_reward(sid) == 1.0  # the oracle replays the gold actions
    row = service.get_session(study.factory, sid)
    assert row.state == "done" and row.survey["specific_examples"] == "fine"
    with study.factory() as db:
        slot = db.get(Slot, row.slot_id)
        assert slot.status == "filled" and slot.session_id == sid


def test_stop_button_and_card_text(app_client: TestClient) -> None:
    p = Participant(app_client)
    p.to_chat("pid0002")
    chat = app_client.get("/chat").text
    assert "You are role-playing as a user interacting with an agent." in chat
    assert "send /stop" in chat or "/stop" in chat
    # Stop before saying anything: there is no conversation to survey (issue 13).
    early = app_client.post("/chat/stop", data={"csrf": p.csrf, "client_id": "stopbutton00"})
    assert early.status_code == 409 and "before you stop" in early.text
    assert p.send("/stop", "stop-typed-00").status_code == 409
    p.send("Hello", "stopbutton-hello")
    p.wait_agent()
    response = app_client.post("/chat/stop", data={"csrf": p.csrf, "client_id": "stopbutton01"})
    assert response.url.path == "/survey"
    assert app_client.get("/chat").url.path == "/survey"  # the chat is closed


def test_message_is_idempotent_and_committed_before_the_agent_answers(
    make_app: Callable[..., TestClient],
) -> None:
    release = threading.Event()

    class SlowAgent:
        def greeting(self) -> str:
            return "Hello"

        def respond(self, key: int, domain: str, task_id: str, history: Sequence[Any]) -> list[Any]:
            from tau2.data_model.message import AssistantMessage

            assert release.wait(30)
            return [AssistantMessage(role="assistant", content=f"echo {history[-1].content}")]

    client = make_app(SlowAgent())
    p = Participant(client)
    p.to_chat("pid0003")
    first = p.send("hello there", "client-id-0001").json()
    again = p.send("hello there", "client-id-0001").json()
    assert first["duplicate"] is False and again["duplicate"] is True
    assert first["seq"] == again["seq"]
    # Committed while the agent is still thinking.
    data = p.messages()
    assert data["agent_status"] == "pending"
    assert [m["text"] for m in data["messages"] if m["role"] == "user"] == ["hello there"]
    # A new message while the agent is busy is refused, not queued twice.
    busy = p.send("another", "client-id-0002")
    assert busy.status_code == 409
    release.set()
    data = p.wait_agent()
    texts = [m["text"] for m in data["messages"]]
    assert texts == ["Hello", "hello there", "echo hello there"]


def test_agent_error_shows_retry_never_a_stack_trace(make_app: Callable[..., TestClient]) -> None:
    calls = {"n": 0}

    class FlakyAgent:
        def greeting(self) -> str:
            return "Hello"

        def respond(self, key: int, domain: str, task_id: str, history: Sequence[Any]) -> list[Any]:
            from tau2.data_model.message import AssistantMessage

            calls["n"] += 1
            if calls["n"] == 1:
                raise AgentFailure("RateLimitError: upstream said 429")
            if calls["n"] == 2:
                raise RuntimeError("Traceback (most recent call last): secret internals")
            return [AssistantMessage(role="assistant", content="Sorry for the wait!")]

    client = make_app(FlakyAgent())
    p = Participant(client)
    p.to_chat("pid0004")
    p.send("help me", "client-id-0101")
    data = p.wait_agent()
    assert data["agent_status"] == "error" and data["retry"] is True
    page = client.get("/chat").text
    assert "could not answer" in page
    assert "RateLimitError" not in page and "Traceback" not in page
    assert "429" not in json.dumps(data)
    client.post("/chat/retry", data={"csrf": p.csrf})
    data = p.wait_agent()
    assert data["agent_status"] == "error"
    assert "Traceback" not in client.get("/chat").text
    client.post("/chat/retry", data={"csrf": p.csrf})
    data = p.wait_agent()
    assert data["agent_status"] == "idle"
    assert data["messages"][-1]["text"] == "Sorry for the wait!"
    # The participant's message was stored once through all the retries.
    assert [m["text"] for m in data["messages"] if m["role"] == "user"] == ["help me"]


def test_assignment_fills_every_slot_once_and_never_repeats_a_task(
    make_app: Callable[..., TestClient],
) -> None:
    client = make_app(tasks={"retail": ["0", "1"]}, batches=2, judge_model=None)
    study = study_of(client)
    assigned: list[tuple[str, str | None, int | None]] = []
    # One participant takes two different tasks, then has none left.
    repeat = Participant(client)
    for round_ in range(2):
        if round_:
            repeat.client.cookies.clear()
        repeat.to_chat("repeater")
        repeat.stop(f"repeater-{round_:03d}")
        assert repeat.survey().url.path == "/done"
        row = service.find_session(study.factory, repeat.client.cookies.get("usi_session"))
        assigned.append(("repeater", row.task_id, row.batch))
    assert {t for _, t, _ in assigned} == {"0", "1"}
    repeat.client.cookies.clear()
    repeat.enter("repeater")
    full = repeat.consent()
    assert "full" in full.text.lower()  # slots remain, but only tasks they already had
    # Two more participants fill batch 2.
    for pid in ("alice", "bob"):
        p = participant_of(client)
        p.to_chat(pid)
        p.stop(pid)
        assert p.survey().url.path == "/done"
    with study.factory() as db:
        slots = list(db.scalars(select(Slot)))
        sessions = list(db.scalars(select(StudySession).where(StudySession.state == "done")))
    assert len(slots) == 4 and all(s.status == "filled" for s in slots)
    assert len({s.session_id for s in slots}) == 4
    assert sorted((s.task_id, s.batch) for s in sessions) == [
        ("0", 1),
        ("0", 2),
        ("1", 1),
        ("1", 2),
    ]
    late = participant_of(client)
    late.enter("carol")
    assert "full" in late.consent().text.lower()


def test_abandoned_session_is_released_to_the_pool(make_app: Callable[..., TestClient]) -> None:
    from datetime import timedelta

    client = make_app(tasks={"retail": ["0"]}, batches=1, judge_model=None)
    study = study_of(client)
    first = Participant(client)
    first.to_chat("leaver")
    other = participant_of(client)
    other.enter("waiter")
    assert "full" in other.consent().text.lower()
    with study.factory.begin() as db:
        for row in db.scalars(select(StudySession)):
            row.last_active_at = service.utcnow() - timedelta(hours=2)
    assert service.release_expired(study.factory, timedelta(minutes=60)) == 1
    third = participant_of(client)
    third.to_chat("newcomer")
    assert third.client.get("/chat").status_code == 200
    # The one who left finds their session ended, not someone else's chat.
    assert first.client.get("/chat").url.path == "/ended"


def test_csrf_rate_limit_and_size_limits(make_app: Callable[..., TestClient]) -> None:
    client = make_app(OkAgent())
    p = Participant(client)
    p.enter("pid0005")
    assert client.post("/consent", data={"choice": "agree"}).status_code == 403
    assert client.post("/consent", data={"choice": "agree", "csrf": "forged"}).status_code == 403
    p.consent()
    p.start_chat()
    no_csrf = client.post("/chat/message", data={"text": "hi", "client_id": "client-id-0201"})
    assert no_csrf.status_code == 403
    too_long = p.send("x" * 2001, "client-id-0202")
    assert too_long.status_code == 413
    huge = client.post(
        "/chat/message", data={"csrf": p.csrf, "text": "y" * 100_000, "client_id": "c" * 16}
    )
    assert huge.status_code == 413
    # A chunked body declares no length, so the cap could not apply: refused outright.
    chunked = client.post(
        "/chat/message",
        content=iter([f"csrf={p.csrf}&client_id={'d' * 16}&text=".encode(), b"z" * 100_000]),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert chunked.status_code == 411
    statuses = []
    for i in range(30):
        statuses.append(p.send(f"message {i}", f"client-id-{i + 300:04d}").status_code)
        p.wait_agent()
    assert 429 in statuses and statuses[0] == 200


def test_tokens_are_long_hashed_and_sessions_isolated(app_client: TestClient) -> None:
    study = study_of(app_client)
    a = Participant(app_client)
    a.to_chat("alice01")
    a.send(XSS, "alice-msg-00001")
    a.wait_agent()
    token = app_client.cookies.get("usi_session")
    assert token is not None and len(token) >= 43  # 32 random bytes, URL-safe base64
    with study.factory() as db:
        row = db.scalar(select(StudySession))
        assert row.token_hash == token_digest(token) and token not in row.token_hash
        assert len(row.csrf_token) >= 43
    b = participant_of(app_client)
    b.to_chat("bob0001")
    seen = json.dumps(b.messages())
    assert "pwned" not in seen and XSS not in seen
    # A forged cookie finds nothing; the admin pages are closed to participants.
    b.client.cookies.clear()
    b.client.cookies.set("usi_session", token[:-2] + "xx")
    assert b.client.get("/chat").url.path == "/missing"
    assert b.client.get("/admin").url.path == "/admin/login"
    assert b.client.get(f"/admin/sessions/{row.id}").url.path == "/admin/login"


def test_participant_text_is_escaped_on_every_page_admin_included(app_client: TestClient) -> None:
    p = Participant(app_client)
    p.to_chat("pid0006")
    p.send(XSS, "xss-msg-000001")
    p.wait_agent()
    chat = app_client.get("/chat")
    assert XSS not in chat.text and "&lt;script&gt;alert(" in chat.text
    assert "script-src 'self'" in chat.headers["content-security-policy"]
    p.send("/stop", "xss-stop-00001")
    p.survey(specific_examples=XSS, improvement_suggestions=XSS)
    admin = participant_of(app_client).client
    assert admin.post("/admin/login", data={"token": "wrong"}).status_code == 403
    admin.post("/admin/login", data={"token": ADMIN_TOKEN})
    sid = service.list_sessions(study_of(app_client).factory)[0].id
    page = admin.get(f"/admin/sessions/{sid}")
    assert page.status_code == 200
    assert XSS not in page.text and "<script>alert" not in page.text
    assert page.text.count("&lt;script&gt;alert(") >= 3  # message + two free-text answers
    index = admin.get("/admin")
    assert "retail" in index.text and "Progress" in index.text


def test_admin_bearer_csrf_keep_and_judge(app_client: TestClient) -> None:
    study = study_of(app_client)
    p = Participant(app_client)
    p.to_chat("pid0007")
    p.stop("judge")
    p.survey()
    sid = service.list_sessions(study.factory)[0].id
    admin = participant_of(app_client).client
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    assert admin.get("/admin", headers=headers).status_code == 200
    forged = admin.post(
        f"/admin/sessions/{sid}/keep", data={"decision": "discard"}, headers=headers
    )
    assert forged.status_code == 403
    page = admin.get(f"/admin/sessions/{sid}", headers=headers).text
    csrf = page.split('name="csrf" value="')[1].split('"')[0]
    admin.post(
        f"/admin/sessions/{sid}/keep", data={"decision": "discard", "csrf": csrf}, headers=headers
    )
    assert service.get_session(study.factory, sid).keep is False
    score = study.worker.compute_quality(sid)
    row = service.get_session(study.factory, sid)
    assert score is not None and 0 <= row.quality_score <= 100 and row.quality_reasoning
    assert service.effective_keep(row, 0.0) is False  # manual discard wins over the judge
    admin.post(
        f"/admin/sessions/{sid}/keep", data={"decision": "auto", "csrf": csrf}, headers=headers
    )
    row = service.get_session(study.factory, sid)
    assert service.effective_keep(row, 0.0) is True
    assert service.effective_keep(row, 101.0) is False


def test_resume_after_restart_keeps_transcript(
    make_app: Callable[..., TestClient], tmp_path: Path
) -> None:
    """In-process restart: a pending turn left by a dead app is answered by the next one."""
    client = make_app()
    study = study_of(client)
    p = Participant(client)
    p.to_chat("pid0008")
    sid = service.find_session(study.factory, client.cookies.get("usi_session")).id
    # Simulate a crash between the commit of the participant's message and the agent's reply.
    service.post_message(
        study.factory, sid, "Hi, I need help with an order.", "crash-msg-0001", stop=False
    )
    cookie = client.cookies.get("usi_session")
    client.__exit__(None, None, None)
    revived = make_app()
    revived.cookies.clear()
    revived.cookies.set("usi_session", cookie)
    again = Participant(revived, p.csrf)
    data = again.wait_agent()
    assert data["agent_status"] == "idle"
    texts = [m["text"] for m in data["messages"]]
    assert texts[1] == "Hi, I need help with an order." and len(texts) == 3
    with study_of(revived).factory() as db:
        seqs = list(db.scalars(select(StoredMessage.seq).where(StoredMessage.session_id == sid)))
    assert seqs == sorted(seqs) == list(range(1, len(seqs) + 1))


def test_entry_link_requires_recruiter_ids_and_second_browser_is_refused(
    app_client: TestClient,
) -> None:
    assert app_client.get("/start").status_code == 400
    assert app_client.get("/start", params={"PROLIFIC_PID": "<script>"}).status_code == 400
    p = Participant(app_client)
    p.enter("pid0009")
    other = participant_of(app_client)
    assert other.enter("pid0009").status_code == 409
    # The same browser is sent back to where it was.
    assert p.enter("pid0009").url.path == "/consent"


def test_survey_rejects_unknown_options(app_client: TestClient) -> None:
    p = Participant(app_client)
    p.to_chat("pid0010")
    p.stop("unknown-opt")
    bad = p.survey(task_success="Totally")
    assert bad.status_code == 422 and "choose one of the options" in bad.text
    assert p.survey().url.path == "/done"


def test_slow_judge_flow_is_optional(make_app: Callable[..., TestClient]) -> None:
    client = make_app(judge_model=None)
    p = Participant(client)
    p.to_chat("pid0011")
    p.stop("nojudge")
    assert p.survey().url.path == "/done"
    sid = service.list_sessions(study_of(client).factory)[0].id
    assert study_of(client).worker.compute_quality(sid) is None
    time.sleep(0)  # nothing scheduled: the app closes cleanly


@pytest.mark.parametrize(
    "reason, expected",
    [
        (
            "You want to cancel reservation EHGLP3. It may be late.",
            "Hi! I want to cancel reservation EHGLP3.",
        ),
        (
            "You received your order #W2378156 and wish to exchange it",
            "Hi! I received my order #W2378156 and wish to exchange it.",
        ),
    ],
)
def test_suggested_first_message(reason: str, expected: str) -> None:
    from usi.tau.cards import suggested_first_message

    assert suggested_first_message(reason) == expected


def test_turn_submitted_while_the_previous_one_finishes_is_not_dropped(tmp_path: Path) -> None:
    """Regression: a message posted just as the last turn finishes used to go unanswered."""
    from usi.study.db import make_engine, migrate, session_factory
    from usi.study.worker import StudyWorker

    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    migrate(engine)
    inside = threading.Event()
    release = threading.Event()
    runs: list[int] = []

    class Probe(StudyWorker):
        def run_turn(self, session_id: int) -> None:
            runs.append(session_id)
            if len(runs) == 1:
                inside.set()
                assert release.wait(10)

    worker = Probe(session_factory(engine), agent=None, workers=2)  # type: ignore[arg-type]
    first = worker.submit_turn(7)
    assert first is not None and inside.wait(10)
    assert worker.submit_turn(7) is None  # deduplicated while running ...
    release.set()
    first.result(timeout=10)
    assert runs == [7, 7]  # ... but run once more afterwards
    worker.shutdown(wait=True)
    engine.dispose()


def test_a_post_queued_on_the_write_gate_does_not_stall_other_requests(
    make_app: Callable[..., TestClient],
) -> None:
    """Handlers that touch the database run in the thread pool, never on the event loop."""

    from usi.study.db import _GATES

    app_client = make_app(OkAgent())
    study = study_of(app_client)
    p = Participant(app_client)
    p.to_chat("pid0099")
    other = participant_of(app_client)
    gate = _GATES[id(study.engine)]
    answers: dict[str, int] = {}

    def post() -> None:
        answers["message"] = p.send("held at the gate", "client-id-0999").status_code

    def entry() -> None:
        answers["entry"] = other.enter("pid0100").status_code

    with gate:  # another writer is committing: the POST below must queue
        poster = threading.Thread(target=post, daemon=True)
        poster.start()
        time.sleep(0.3)  # let the POST reach the gate
        assert "message" not in answers
        home = threading.Thread(
            target=lambda: answers.setdefault("home", app_client.get("/").status_code),
            daemon=True,
        )
        home.start()
        home.join(10)
        assert answers.get("home") == 200, "the event loop was blocked by a queued writer"
        reader = threading.Thread(target=entry, daemon=True)
        reader.start()
        time.sleep(0.3)
        assert "entry" not in answers  # entry writes too: it queues, the loop stays free
    poster.join(10)
    reader.join(10)
    assert answers["message"] == 200 and answers["entry"] == 200


def test_a_shard_never_writes_the_database_itself(make_app: Callable[..., TestClient]) -> None:
    """A shard's reply is committed by the web process's committer, and only then acknowledged.

    Regression: a niced shard holding SQLite's write lock stalled every participant's POST
    for up to 1.5 s in SQLite's busy back-off.
    """
    import queue

    from tau2.data_model.message import AssistantMessage

    from usi.study.shards import RemoteWriter, commit_writes
    from usi.study.worker import StudyWorker, direct_writer

    class DownAgent:
        def greeting(self) -> str:
            return "Hello"

        def respond(self, key: int, domain: str, task_id: str, history: Sequence[Any]) -> list[Any]:
            raise AgentFailure("down")

    class ShardAgent(DownAgent):
        def respond(self, key: int, domain: str, task_id: str, history: Sequence[Any]) -> list[Any]:
            return [AssistantMessage(role="assistant", content="from the shard")]

    client = make_app(DownAgent())
    study = study_of(client)
    p = Participant(client)
    p.to_chat("pid0200")
    p.send("are you there?", "client-id-0200")
    assert p.wait_agent()["agent_status"] == "error"
    sid = service.find_session(study.factory, client.cookies.get("usi_session")).id
    assert service.retry_agent(study.factory, sid)  # pending again, for the "shard" below

    committed_by: list[str] = []
    commit = direct_writer(study.factory)

    def web_commit(name: str, *args: Any) -> Any:
        committed_by.append(threading.current_thread().name)
        return commit(name, *args)

    writes: queue.Queue[Any] = queue.Queue()
    answers: queue.Queue[Any] = queue.Queue()
    committer = threading.Thread(
        target=commit_writes, args=(writes, [answers], web_commit), name="web-committer"
    )
    committer.start()

    writer = RemoteWriter(0, writes, answers)
    shard = StudyWorker(study.factory, ShardAgent(), workers=1, writer=writer)
    try:
        shard.run_turn(sid)  # returns only once the web side has committed the reply
        assert committed_by == ["web-committer"]
        rows = service.messages_of(study.factory, sid)
        assert rows[-1].content == "from the shard"
        assert service.get_session(study.factory, sid).agent_status == "idle"
        with pytest.raises(RuntimeError, match="not a worker write"):
            writer("delete_everything", sid)
    finally:
        writes.put(None)
        committer.join(10)
        shard.shutdown(wait=True)
    assert not committer.is_alive()

"""Issue 13: what a paid study must survive — a hung agent, hostile links, slot grabs, bad input.

Each test here failed on the code before the fix it names.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from usi.data.readers import read_episodes
from usi.study import service
from usi.study.agent import AgentFailure
from usi.study.schema import Slot, StoredMessage, StudySession
from usi_main import Usi

from .conftest import ADMIN_TOKEN, Participant, participant_of
from .test_study_api import OkAgent, study_of

RESUME_RE = re.compile(r'id="resume-code-shown">([A-Z0-9-]+)<')
ENTRY_CSRF_RE = re.compile(r'name="entry_csrf" value="([^"]+)"')


class HangingAgent:
    """An endpoint that accepts and never replies (until the test lets it go)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.calls = 0

    def greeting(self) -> str:
        return "Hello"

    def respond(self, key: int, domain: str, task_id: str, history: Sequence[Any]) -> list[Any]:
        from tau2.data_model.message import AssistantMessage

        self.calls += 1
        self.release.wait(60)
        return [AssistantMessage(role="assistant", content="too late")]


class DownAgent(OkAgent):
    def respond(self, key: int, domain: str, task_id: str, history: Sequence[Any]) -> list[Any]:
        raise AgentFailure("APIConnectionError: the LLM is down")


@pytest.fixture
def hanging() -> Iterator[HangingAgent]:
    agent = HangingAgent()
    yield agent
    agent.release.set()


def session_row(client: TestClient) -> StudySession:
    row = service.find_session(study_of(client).factory, client.cookies.get("usi_session"))
    assert row is not None
    return row


def age(client: TestClient, session_id: int, minutes: float) -> None:
    """Pretend the session was last active ``minutes`` ago."""
    with study_of(client).factory.begin() as db:
        db.execute(
            update(StudySession)
            .where(StudySession.id == session_id)
            .values(last_active_at=service.utcnow() - timedelta(minutes=minutes))
        )


def admin_client(client: TestClient) -> TestClient:
    admin = TestClient(client.app)
    assert admin.post("/admin/login", data={"token": ADMIN_TOKEN}).url.path == "/admin"
    return admin


def admin_csrf(admin: TestClient) -> str:
    page = admin.get("/admin").text
    return page.split('name="csrf" value="')[1].split('"')[0]


# --- 1. the agent's deadline ------------------------------------------------------------------


def test_a_hung_agent_turn_becomes_a_retryable_error_at_the_deadline(
    make_app: Callable[..., TestClient], hanging: HangingAgent
) -> None:
    client = make_app(hanging, agent_timeout=timedelta(seconds=1))
    p = Participant(client)
    p.to_chat("hung0001")
    started = time.monotonic()
    assert p.send("hello?", "hung-msg-0001").json()["ok"]
    data = p.wait_agent(timeout=20)
    assert data["agent_status"] == "error" and data["retry"] is True
    assert time.monotonic() - started < 15
    (error,) = service.agent_errors_of(study_of(client).factory, session_row(client).id)
    assert error.kind == "timeout" and "1 s" in error.error and error.after_seq == 2
    # The reply that finally arrives is dropped: the turn is over.
    hanging.release.set()
    time.sleep(0.3)
    texts = [m["text"] for m in p.messages()["messages"]]
    assert "too late" not in texts


def test_stop_works_while_the_agent_is_thinking_and_cancels_the_turn(
    make_app: Callable[..., TestClient], hanging: HangingAgent
) -> None:
    client = make_app(hanging)
    p = Participant(client)
    p.to_chat("hung0002")
    p.send("hello?", "hung-msg-0002")
    assert p.messages()["agent_status"] == "pending"
    stop = client.post("/chat/stop", data={"csrf": p.csrf, "client_id": "hung-stop-0002"})
    assert stop.url.path == "/survey"
    hanging.release.set()
    time.sleep(0.3)
    sid = session_row(client).id
    rows = service.messages_of(study_of(client).factory, sid, visible_only=False)
    assert [m.content for m in rows] == ["Hello", "hello?", "/stop"]
    (error,) = service.agent_errors_of(study_of(client).factory, sid)
    assert error.kind == "cancelled"


def test_a_session_waiting_for_the_agent_is_subject_to_the_session_timeout(
    make_app: Callable[..., TestClient], hanging: HangingAgent
) -> None:
    client = make_app(hanging, tasks={"retail": ["0"]}, batches=1)
    p = Participant(client)
    p.to_chat("hung0003")
    p.send("hello?", "hung-msg-0003")
    sid = session_row(client).id
    age(client, sid, 61)
    assert service.release_expired(study_of(client).factory, timedelta(minutes=60)) == 1
    assert service.get_session(study_of(client).factory, sid).state == "expired"
    with study_of(client).factory() as db:
        assert db.scalar(select(Slot.status)) == "open"


def test_the_llm_call_gets_the_turn_budget_as_litellm_timeout() -> None:
    from usi.study.agent import TauStudyAgent

    seen: dict[str, Any] = {}

    def resolver(model: str, **_: Any) -> dict[str, Any]:
        return {"model": "openai/never", "timeout": 999}

    agent = TauStudyAgent("x", resolver=resolver, timeout_s=7.0)
    from tau2.agent import llm_agent

    original = llm_agent.LLMAgent.generate_next_message

    def spy(self: Any, message: Any, state: Any) -> Any:
        seen.update(self.llm_args)
        raise RuntimeError("stop here")

    llm_agent.LLMAgent.generate_next_message = spy  # type: ignore[method-assign]
    try:
        from tau2.data_model.message import UserMessage

        with pytest.raises(AgentFailure):
            agent.respond(1, "airline", "0", [UserMessage(role="user", content="hi")])
    finally:
        llm_agent.LLMAgent.generate_next_message = original  # type: ignore[method-assign]
    assert 0 < seen["timeout"] <= 7.0


# --- 1/5. exports that say what they are --------------------------------------------------------


def test_a_session_with_no_agent_reply_is_flagged_gives_its_slot_back_and_is_not_kept(
    make_app: Callable[..., TestClient], tmp_path: Path, usi: Usi
) -> None:
    client = make_app(DownAgent(), tasks={"retail": ["0"]}, batches=1, judge_model=None)
    p = Participant(client)
    p.to_chat("outage01")
    for i in range(2):
        p.send(f"anyone there {i}?", f"outage-msg-{i:04d}")
        assert p.wait_agent()["agent_status"] == "error"
        client.post("/chat/retry", data={"csrf": p.csrf})
        assert p.wait_agent()["agent_status"] == "error"
        if i == 0:
            client.post("/chat/retry", data={"csrf": p.csrf})
            p.wait_agent()
            break
    assert p.send("/stop", "outage-stop-0001").json()["redirect"] == "/survey"
    assert p.survey().url.path == "/done"  # the participant did their part
    study = study_of(client)
    with study.factory() as db:
        assert db.scalar(select(Slot.status)) == "open"  # the cell still needs a conversation
    service.set_keep(study.factory, session_row(client).id, True)
    out = tmp_path / "all.jsonl"
    result = usi("study", "export", "--db", study.config.db_url, "-o", out)
    assert result.exit_code == 0, result.output
    (episode,) = read_episodes(out)
    meta = episode.metadata
    assert meta["agent_replies"] == 0 and meta["participant_messages"] == 1
    assert meta["incomplete"] == ["no_agent_reply"]
    assert [e["kind"] for e in meta["agent_errors"]] == ["error", "error", "error"]
    assert all("LLM is down" in e["error"] for e in meta["agent_errors"])
    kept = tmp_path / "kept.jsonl"
    result = usi("study", "export", "--db", study.config.db_url, "-o", kept, "--kept-only")
    assert result.exit_code == 0
    assert kept.read_text() == ""
    assert "wrote 0 of 1 finished sessions" in result.output
    assert "left out 1: incomplete" in result.output


def test_kept_only_without_a_judge_says_why_it_wrote_nothing(
    make_app: Callable[..., TestClient], tmp_path: Path, usi: Usi
) -> None:
    client = make_app(OkAgent(), judge_model=None)
    p = Participant(client)
    p.to_chat("nojudge01")
    p.stop("nojudge01")
    p.survey()
    out = tmp_path / "kept.jsonl"
    result = usi(
        "study", "export", "--db", study_of(client).config.db_url, "-o", out, "--kept-only"
    )
    assert result.exit_code == 0
    assert "wrote 0 of 1" in result.output
    assert "left out 1: not judged" in result.output and "hint:" in result.output


# --- 2. sessions -------------------------------------------------------------------------------


def test_a_cross_site_link_never_replaces_the_open_session(app_client: TestClient) -> None:
    p = Participant(app_client)
    p.to_chat("victim01")
    before = session_row(app_client)
    csrf = p.csrf
    hostile = app_client.get("/start", params={"PROLIFIC_PID": "attacker01"})
    assert hostile.status_code == 409 and "already have a session open" in hostile.text
    assert session_row(app_client).id == before.id  # same session, same cookie
    assert app_client.get("/chat").status_code == 200
    # A forged confirmation (no CSRF token) changes nothing.
    forged = app_client.post(
        "/start/switch", data={"choice": "switch", "PROLIFIC_PID": "attacker01"}
    )
    assert forged.status_code == 403 and session_row(app_client).id == before.id
    keep = app_client.post(
        "/start/switch", data={"csrf": csrf, "choice": "keep", "PROLIFIC_PID": "attacker01"}
    )
    assert keep.url.path == "/chat"
    bogus = app_client.post(
        "/start/switch", data={"csrf": csrf, "choice": "yes", "PROLIFIC_PID": "attacker01"}
    )
    assert bogus.status_code == 422
    switch = app_client.post(
        "/start/switch", data={"csrf": csrf, "choice": "switch", "PROLIFIC_PID": "other01"}
    )
    assert switch.url.path == "/consent"
    now = session_row(app_client)
    assert now.prolific_pid == "other01" and now.id != before.id
    old = service.get_session(study_of(app_client).factory, before.id)
    assert old.state == "expired"
    with study_of(app_client).factory() as db:
        assert db.get(Slot, old.slot_id).status == "open"
    # The same id resumes: no new session.
    assert app_client.get("/start", params={"PROLIFIC_PID": "other01"}).url.path == "/consent"


def test_a_lost_cookie_is_recovered_with_the_resume_code_not_the_recruiter_id(
    app_client: TestClient,
) -> None:
    p = Participant(app_client)
    p.to_chat("lostcookie1")
    original = session_row(app_client)
    code = RESUME_RE.search(app_client.get("/chat").text).group(1)  # type: ignore[union-attr]
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}", code)
    other = participant_of(app_client).client
    blocked = other.get("/start", params={"PROLIFIC_PID": "lostcookie1"})
    assert blocked.status_code == 409 and "resume code" in blocked.text
    entry_csrf = ENTRY_CSRF_RE.search(blocked.text).group(1)  # type: ignore[union-attr]
    fields = {"PROLIFIC_PID": "lostcookie1", "choice": "resume", "entry_csrf": entry_csrf}
    wrong = other.post("/start/resume", data={**fields, "code": "AAAA-AAAA"})
    assert wrong.status_code == 403 and other.get("/chat").url.path == "/missing"
    back = other.post("/start/resume", data={**fields, "code": code.lower().replace("-", " ")})
    assert back.url.path == "/chat"
    assert session_row(other).id == original.id  # the same session and task
    assert app_client.get("/chat").url.path == "/missing"  # the lost browser is signed out
    # Restart: a new session, the old one ends and its slot returns.
    new_code = RESUME_RE.search(other.get("/chat").text).group(1)  # type: ignore[union-attr]
    third = participant_of(app_client).client
    shown = third.get("/start", params={"PROLIFIC_PID": "lostcookie1"}).text
    fields["entry_csrf"] = ENTRY_CSRF_RE.search(shown).group(1)  # type: ignore[union-attr]
    again = third.post("/start/resume", data={**fields, "choice": "restart", "code": new_code})
    assert again.url.path == "/consent"
    assert service.get_session(study_of(app_client).factory, original.id).state == "expired"
    # Guessing is throttled per recruiter id (from a browser without a session of its own).
    fourth = participant_of(app_client).client
    shown = fourth.get("/start", params={"PROLIFIC_PID": "lostcookie1"}).text
    fields["entry_csrf"] = ENTRY_CSRF_RE.search(shown).group(1)  # type: ignore[union-attr]
    statuses = [
        fourth.post(
            "/start/resume", data={**fields, "PROLIFIC_PID": "lostcookie1", "code": "ZZZZ-ZZZZ"}
        ).status_code
        for _ in range(6)
    ]
    assert statuses[-1] == 429


def test_a_survey_is_held_for_the_survey_timeout_then_stored_only_if_the_slot_is_free(
    make_app: Callable[..., TestClient],
) -> None:
    client = make_app(OkAgent(), tasks={"retail": ["0"]}, batches=1, judge_model=None)
    study = study_of(client)
    p = Participant(client)
    p.to_chat("late0001")
    p.stop("late0001")
    sid = session_row(client).id
    age(client, sid, 20)
    hour, half = timedelta(minutes=60), timedelta(minutes=30)
    assert service.release_expired(study.factory, hour, half) == 0  # held
    age(client, sid, 31)
    assert service.release_expired(study.factory, hour, half) == 1
    assert p.survey().url.path == "/done"  # late, but the slot was still free: stored
    row = service.get_session(study.factory, sid)
    assert row.state == "done" and row.survey
    with study.factory() as db:
        assert db.scalar(select(Slot.status)) == "filled"
    # A second participant whose slot was taken meanwhile is told plainly.
    service.set_keep(study.factory, sid, False)  # frees the only slot
    q = participant_of(client)
    q.to_chat("late0002")
    q.stop("late0002")
    qid = session_row(q.client).id
    age(q.client, qid, 31)
    service.release_expired(study.factory, hour, half)
    r = participant_of(client)
    r.to_chat("late0003")  # takes the slot
    answer = q.survey()
    assert answer.status_code == 410 and "expired" in answer.text
    assert "already recorded" not in answer.text
    assert service.get_session(study.factory, qid).survey is None


# --- 3. slots ---------------------------------------------------------------------------------


def test_session_creation_is_throttled_per_address_and_overall(
    make_app: Callable[..., TestClient],
) -> None:
    client = make_app(starts_per_address=3, starts_per_minute=0)
    codes = [
        TestClient(client.app).get("/start", params={"PROLIFIC_PID": f"grab{i:04d}"}).status_code
        for i in range(5)
    ]
    assert codes == [200, 200, 200, 429, 429]
    overall = make_app(starts_per_address=0, starts_per_minute=2)
    codes = [
        TestClient(overall.app).get("/start", params={"PROLIFIC_PID": f"all{i:04d}"}).status_code
        for i in range(3)
    ]
    assert codes == [200, 200, 429]


def test_recruiter_ids_are_matched_whole_and_against_the_prolific_preset(
    make_app: Callable[..., TestClient],
) -> None:
    client = make_app()
    assert client.get("/start", params={"PROLIFIC_PID": "nl1\n"}).status_code == 400
    assert (
        client.get("/start", params={"PROLIFIC_PID": "ok1", "STUDY_ID": "s\n"}).status_code == 400
    )
    prolific = make_app(pid_pattern="prolific")
    fresh = TestClient(prolific.app)
    assert fresh.get("/start", params={"PROLIFIC_PID": "made-up-id"}).status_code == 400
    assert fresh.get("/start", params={"PROLIFIC_PID": "5f" * 11 + "AB"}).status_code == 400
    assert fresh.get("/start", params={"PROLIFIC_PID": "5f3a" * 6}).url.path == "/consent"


def test_a_discarded_session_gives_its_slot_back_and_stays_in_the_export(
    make_app: Callable[..., TestClient], tmp_path: Path, usi: Usi
) -> None:
    client = make_app(OkAgent(), tasks={"retail": ["0"]}, batches=1, judge_model=None)
    study = study_of(client)
    p = Participant(client)
    p.to_chat("discard01")
    p.stop("discard01")
    p.survey()
    sid = session_row(client).id
    waiting = participant_of(client)
    waiting.enter("discard02")
    assert "full" in waiting.consent().text.lower()
    admin = admin_client(client)
    csrf = admin_csrf(admin)
    admin.post(f"/admin/sessions/{sid}/keep", data={"decision": "discard", "csrf": csrf})
    with study.factory() as db:
        assert db.scalar(select(Slot.status)) == "open"
    nxt = participant_of(client)
    nxt.to_chat("discard03")  # the next real participant gets the task
    out = tmp_path / "all.jsonl"
    result = usi("study", "export", "--db", study.config.db_url, "-o", out)
    assert result.exit_code == 0, result.output
    (episode,) = read_episodes(out)
    assert episode.metadata["study_session"] == sid and episode.metadata["keep"] is False


def test_the_admin_can_release_a_held_slot(make_app: Callable[..., TestClient]) -> None:
    client = make_app(OkAgent(), tasks={"retail": ["0"]}, batches=1)
    p = Participant(client)
    p.to_chat("holder01")
    sid = session_row(client).id
    admin = admin_client(client)
    page = admin.get(f"/admin/sessions/{sid}").text
    assert 'id="release-btn"' in page
    forged = admin.post(f"/admin/sessions/{sid}/release", data={})
    assert forged.status_code == 403
    admin.post(f"/admin/sessions/{sid}/release", data={"csrf": admin_csrf(admin)})
    assert client.get("/chat").url.path == "/ended"
    with study_of(client).factory() as db:
        assert db.scalar(select(Slot.status)) == "open"


# --- 4. input ---------------------------------------------------------------------------------


def test_out_of_range_integers_are_refused_not_a_server_error(app_client: TestClient) -> None:
    p = Participant(app_client)
    p.to_chat("bigint01")
    huge = "99999999999999999999"
    assert app_client.get("/chat/messages", params={"after": huge}).status_code == 422
    assert app_client.get("/chat/messages", params={"after": -1}).status_code == 422
    admin = admin_client(app_client)
    assert admin.get(f"/admin/sessions/{huge}").status_code in (404, 422)
    assert admin.get("/admin/sessions/424242").status_code == 404
    assert admin.get("/admin", params={"before": huge}).status_code == 422


@pytest.mark.parametrize("bad", ["nul\x00here", "bell\x07", "esc\x1b[31m", "del\x7f"])
def test_control_characters_in_messages_are_refused(
    make_app: Callable[..., TestClient], bad: str
) -> None:
    client = make_app(OkAgent())
    p = Participant(client)
    p.to_chat("ctrl0001")
    answer = p.send(bad, "ctrl-msg-00001")
    assert answer.status_code == 422 and "control characters" in answer.json()["error"]
    sid = session_row(client).id
    assert [m.content for m in service.messages_of(study_of(client).factory, sid)] == ["Hello"]


def test_messages_are_normalised_and_invalid_utf8_is_refused(
    make_app: Callable[..., TestClient],
) -> None:
    client = make_app(OkAgent())
    p = Participant(client)
    p.to_chat("utf8test1")
    raw = f"csrf={p.csrf}&client_id=utf8-msg-0001&text=caf%FF".encode()
    answer = client.post(
        "/chat/message",
        content=raw,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 400
    assert p.send("cafe\u0301\r\nline two\ttab", "utf8-msg-0002").status_code == 200
    p.wait_agent()
    sid = session_row(client).id
    stored = [m.content for m in service.messages_of(study_of(client).factory, sid)]
    assert stored[1] == "caf\u00e9\nline two\ttab"


def test_consent_accepts_only_its_two_values(app_client: TestClient) -> None:
    p = Participant(app_client)
    p.enter("consent01")
    for choice in ("AGREE", "", "yes"):
        bad = app_client.post("/consent", data={"csrf": p.csrf, "choice": choice})
        assert bad.status_code == 422
        assert session_row(app_client).state == "consent"
    assert p.consent().url.path == "/task"


# --- 5. admin ---------------------------------------------------------------------------------


def test_the_admin_cookie_is_a_revocable_session_not_the_token(app_client: TestClient) -> None:
    admin = admin_client(app_client)
    cookie = admin.cookies.get("usi_admin")
    assert cookie and cookie != ADMIN_TOKEN and ADMIN_TOKEN not in cookie
    csrf = admin_csrf(admin)
    assert admin.post("/admin/logout", data={"csrf": csrf}).url.path == "/admin/login"
    replay = TestClient(app_client.app)
    replay.cookies.set("usi_admin", cookie, path="/admin")
    assert replay.get("/admin").url.path == "/admin/login"  # revoked server-side
    forged = TestClient(app_client.app)
    forged.cookies.set("usi_admin", ADMIN_TOKEN, path="/admin")
    assert forged.get("/admin").url.path == "/admin/login"  # the token is not a cookie


def test_admin_login_is_throttled(app_client: TestClient) -> None:
    guesser = TestClient(app_client.app)
    codes = [
        guesser.post("/admin/login", data={"token": f"guess-{i}"}).status_code for i in range(8)
    ]
    assert codes[:5] == [403] * 5 and codes[5:] == [429] * 3
    assert guesser.post("/admin/login", data={"token": ADMIN_TOKEN}).status_code == 429


def test_the_session_list_is_paged(app_client: TestClient) -> None:
    study = study_of(app_client)
    for i in range(service.SESSIONS_PER_PAGE + 5):
        service.create_session(
            study.factory,
            pid=f"page{i:04d}",
            study_id=None,
            recruiter_session_id=None,
            agent_model="m",
        )
    admin = admin_client(app_client)
    first = admin.get("/admin").text
    rows = re.findall(r'<td><a href="/admin/sessions/(\d+)">', first)
    assert len(rows) == service.SESSIONS_PER_PAGE
    older = re.search(r'id="older" href="([^"]+)"', first).group(1)  # type: ignore[union-attr]
    second = admin.get(older.replace("&amp;", "&")).text
    rest = re.findall(r'<td><a href="/admin/sessions/(\d+)">', second)
    assert len(rest) == 5 and not set(rest) & set(rows)
    assert sorted(map(int, rows + rest)) == list(range(1, service.SESSIONS_PER_PAGE + 6))


def test_the_admin_token_passed_on_the_command_line_gets_a_warning(tmp_path: Path) -> None:
    import subprocess
    import sys

    token = "cli-" + "9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f0e"
    base = [sys.executable, "-m", "usi", "study", "serve", "--domains", "nope"]
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)}
    seen = subprocess.run(
        [*base, "--admin-token", token], capture_output=True, text=True, env=env, timeout=120
    )
    assert "USI_STUDY_ADMIN_TOKEN" in seen.stderr and "ps" in seen.stderr
    quiet = subprocess.run(
        base,
        capture_output=True,
        text=True,
        env={**env, "USI_STUDY_ADMIN_TOKEN": token},
        timeout=120,
    )
    assert "USI_STUDY_ADMIN_TOKEN" not in quiet.stderr


# --- 6. server --------------------------------------------------------------------------------


def test_the_rate_limit_counts_accepted_messages_only(make_app: Callable[..., TestClient]) -> None:
    client = make_app(OkAgent())
    p = Participant(client)
    p.to_chat("burst0001")
    p.send("first", "burst-msg-0000")
    p.wait_agent()
    for _ in range(20):  # resends of a stored message are not new messages
        assert p.send("first", "burst-msg-0000").json()["duplicate"] is True
    for i in range(1, 8):  # the rest of the burst of 8
        assert p.send(f"m{i}", f"burst-msg-{i:04d}").status_code == 200
        p.wait_agent()
    assert p.send("one too many", "burst-msg-0099").status_code == 429
    assert p.send("/stop", "burst-stop-0001").json()["redirect"] == "/survey"


def test_a_stalled_request_body_is_answered_408() -> None:
    import asyncio

    from usi.study.server import BodyDeadline

    sent: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        while (await receive()).get("more_body"):
            pass
        raise AssertionError("the body never completes")

    async def receive() -> dict[str, Any]:
        if not sent:
            sent.append({"first": True})
            return {"type": "http.request", "body": b"a=", "more_body": True}
        await asyncio.sleep(3600)
        return {}

    answers: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        answers.append(message)

    started = time.monotonic()
    scope = {"type": "http", "path": "/x", "headers": [(b"content-length", b"100")]}
    asyncio.run(BodyDeadline(app, timeout=0.2)(scope, receive, send))
    assert time.monotonic() - started < 2
    assert answers[0]["status"] == 408


def test_a_connection_that_never_sends_its_request_head_is_closed(tmp_path: Path) -> None:
    import socket

    import uvicorn

    from usi.study.server import DeadlineH11Protocol

    from .conftest import free_port

    class Quick(DeadlineH11Protocol):
        header_timeout = 0.5

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, http=Quick, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # and then nothing
            started = time.monotonic()
            assert sock.recv(1024) == b""  # closed by the server
            assert time.monotonic() - started < 5
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert b"200" in sock.recv(1024)
    finally:
        server.should_exit = True
        thread.join(10)


def test_a_client_that_disconnects_mid_upload_is_one_log_line(
    app_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    import asyncio

    p = Participant(app_client)
    p.to_chat("dropper01")
    cookie = app_client.cookies.get("usi_session")
    messages = iter(
        [
            {"type": "http.request", "body": b"csrf=abc&te", "more_body": True},
            {"type": "http.disconnect"},
        ]
    )

    async def receive() -> dict[str, Any]:
        return next(messages, {"type": "http.disconnect"})

    async def send(message: dict[str, Any]) -> None:
        pass

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/chat/message",
        "raw_path": b"/chat/message",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"content-length", b"100"),
            (b"cookie", f"usi_session={cookie}".encode()),
        ],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
        "state": {},
    }
    with caplog.at_level("INFO", logger="usi.study"):
        asyncio.run(app_client.app(scope, receive, send))  # type: ignore[arg-type]
    records = [r for r in caplog.records if r.name == "usi.study"]
    assert len(records) == 1 and "client left" in records[0].getMessage()
    assert records[0].exc_info is None


def test_the_stored_seq_of_a_new_message_is_consistent(make_app: Callable[..., TestClient]) -> None:
    """Sanity of the transition rewrite: seqs stay 1..n through errors, retries and Stop."""
    client = make_app(DownAgent())
    p = Participant(client)
    p.to_chat("seqcheck1")
    p.send("a", "seqcheck-msg-01")
    p.wait_agent()
    p.send("/stop", "seqcheck-stop-1")
    with study_of(client).factory() as db:
        seqs = list(db.scalars(select(StoredMessage.seq).order_by(StoredMessage.seq)))
    assert seqs == [1, 2, 3]

"""Regressions of the second audit (issue 18) on the study server, in-process where they can be.

The ones that need real concurrent clients, a real kill or a real browser drive a live
server (``live_server`` of conftest) or Chromium; each says which failure it guards.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from typer.testing import CliRunner

from usi.cli import app as cli_app
from usi.data.readers import read_episodes
from usi.data.sides import human_side, read_input
from usi.data.survey import SURVEY_ITEMS
from usi.study import service
from usi.study.agent import AgentFailure
from usi.study.db import make_engine, migrate
from usi.study.schema import ACTIVE_STATES, StudySession

from .conftest import LiveServer, Participant, participant_of
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
    make_app: Callable[..., TestClient], tmp_path: Path
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
    result = CliRunner().invoke(
        cli_app, ["study", "export", "--db", study_of(client).config.db_url, "-o", str(out)]
    )
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

"""The study on PostgreSQL by URL: a throwaway server on loopback, the same flows as on SQLite.

SQLite is the embedded default, but a study with hundreds of participants may run on
PostgreSQL; the migrations, the conditional updates of the assignment and the export must
hold there too. The server is Debian's PostgreSQL (``initdb``/``pg_ctl``), started in a
temporary folder on a free loopback port and stopped at the end; the tests skip when the
binaries are absent.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect, select

from usi.data.readers import read_episodes
from usi.study import service
from usi.study.db import make_engine, migrate
from usi.study.schema import Slot
from usi_main import Usi

from .conftest import Participant, app_builder, free_port
from .test_study_api import full_session, study_of

PG_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
START_TIMEOUT_S = 60


def _pg_bin() -> Path | None:
    for directory in PG_BIN_DIRS:
        if (directory / "initdb").exists() and (directory / "pg_ctl").exists():
            return directory
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _as_postgres(command: list[str]) -> list[str]:
    """initdb refuses to run as root: run as the ``postgres`` system user when we are root."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    bin_dir = _pg_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are absent")
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no postgres user to run the server")
    # Not under pytest's tmp folder: that one is private to root, and the server runs as postgres.
    root = Path(tempfile.mkdtemp(prefix="usi-pg-"))
    data, sockets = root / "data", root / "sockets"
    data.mkdir()
    sockets.mkdir()
    if os.geteuid() == 0:
        for path in (root, data, sockets):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    port = free_port()
    subprocess.run(
        _as_postgres(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
            ]
        ),
        check=True,
        capture_output=True,
        timeout=START_TIMEOUT_S,
    )
    options = f"-c listen_addresses=127.0.0.1 -c port={port} -k {sockets} -c fsync=off"
    subprocess.run(
        _as_postgres(
            [
                str(bin_dir / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-w",
                "-l",
                str(root / "log"),
                "start",
            ]
        ),
        check=True,
        capture_output=True,
        timeout=START_TIMEOUT_S,
    )
    try:
        subprocess.run(
            _as_postgres(
                [
                    str(bin_dir / "createdb"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(port),
                    "-U",
                    "postgres",
                    "usi",
                ]
            ),
            check=True,
            capture_output=True,
            timeout=START_TIMEOUT_S,
        )
        yield f"postgresql://postgres@127.0.0.1:{port}/usi"
    finally:
        subprocess.run(
            _as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
            capture_output=True,
            timeout=START_TIMEOUT_S,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_app(postgres_url: str, tmp_path: Path) -> Iterator[Callable[..., TestClient]]:
    with app_builder(tmp_path, db_url=postgres_url) as build:
        yield build
    engine = make_engine(postgres_url)
    with engine.begin() as conn:  # each test starts from an empty schema
        conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    engine.dispose()


def test_migrations_run_twice_and_match_the_models_on_postgres(postgres_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from usi.study.schema import Base

    engine = make_engine(postgres_url)
    try:
        migrate(engine)
        migrate(engine)
        assert {"slots", "sessions", "messages", "alembic_version"} <= set(
            inspect(engine).get_table_names()
        )
        with engine.connect() as conn:
            assert conn.dialect.name == "postgresql"
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    finally:
        engine.dispose()


def test_full_session_survey_and_export_on_postgres(
    pg_app: Callable[..., TestClient], postgres_url: str, tmp_path: Path, usi: Usi
) -> None:
    client = pg_app(tasks={"retail": ["0"]})
    p = full_session(client, "pgpid0001")
    assert p.send("/stop", "pg-stop-000001").json()["redirect"] == "/survey"
    assert p.survey(specific_examples="fine").url.path == "/done"
    assert p.survey(specific_examples="again").status_code == 409  # double survey rejected
    study = study_of(client)
    (session,) = service.list_sessions(study.factory)
    assert study.worker.compute_reward(session.id) == 1.0
    out = tmp_path / "human.jsonl"
    result = usi("study", "export", "--db", postgres_url, "-o", out)
    assert result.exit_code == 0, result.output
    (episode,) = read_episodes(out)
    assert episode.source == "human" and episode.task_id == "0" and episode.reward == 1.0


def test_assignment_fills_each_slot_once_on_postgres(pg_app: Callable[..., TestClient]) -> None:
    client = pg_app(tasks={"retail": ["0", "1"]}, batches=2)
    for i in range(4):
        Participant(TestClient(client.app)).to_chat(f"pgslot{i:03d}")
    late = Participant(TestClient(client.app))
    late.enter("pgslot999")
    assert "full" in late.consent().text.lower()
    with study_of(client).factory() as db:
        slots = db.scalars(select(Slot)).all()
    assert len(slots) == 4 and all(s.status != "open" for s in slots)
    assert len({s.session_id for s in slots}) == 4


def test_nul_in_a_message_is_refused_before_it_reaches_postgres(
    pg_app: Callable[..., TestClient],
) -> None:
    """Regression (issue 13): PostgreSQL rejects NUL in text, which used to be an HTTP 500."""
    client = pg_app(tasks={"retail": ["0"]})
    p = Participant(TestClient(client.app))
    p.to_chat("pgnul0001")
    answer = p.send("before\x00after", "pg-nul-msg-0001")
    assert answer.status_code == 422 and "control characters" in answer.json()["error"]
    assert p.send("before after", "pg-nul-msg-0002").status_code == 200


def test_an_agent_reply_with_nul_is_stored_on_postgres(
    pg_app: Callable[..., TestClient],
) -> None:
    """Regression (issue 18): the model's reply held a NUL, PostgreSQL refused it, and the
    turn was resubmitted until the deadline. Stored without the NUL, answered at once."""
    from tau2.data_model.message import AssistantMessage, ToolCall

    class NulAgent:
        calls = 0

        def greeting(self) -> str:
            return "Hello"

        def respond(self, key: int, domain: str, task_id: str, history: Any) -> list[Any]:
            NulAgent.calls += 1
            call = ToolCall(id="c\x001", name="find_user", arguments={"q": "a\x00b"})
            return [
                AssistantMessage(role="assistant", content=None, tool_calls=[call]),
                AssistantMessage(role="assistant", content="found\x00 you"),
            ]

    client = pg_app(NulAgent(), tasks={"retail": ["0"]})
    p = Participant(TestClient(client.app))
    p.to_chat("pgnul0002")
    assert p.send("hello", "pg-nul-msg-0003").status_code == 200
    data = p.wait_agent()
    assert data["agent_status"] == "idle"
    assert [m["text"] for m in data["messages"]] == ["Hello", "hello", "found you"]
    assert NulAgent.calls == 1
    study = study_of(client)
    (session,) = service.list_sessions(study.factory)
    stored = service.messages_of(study.factory, session.id, visible_only=False)
    assert stored[2].tool_calls == [{"id": "c1", "name": "find_user", "arguments": {"q": "ab"}}]
    assert service.agent_errors_of(study.factory, session.id) == []

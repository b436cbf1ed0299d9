"""``usi study export``, the migrations and the task list: canonical episodes from the database."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect

from usi.core.survey import SURVEY_ITEMS
from usi.data.readers import read_episodes
from usi.errors import UsiInputError
from usi.study.db import make_engine, migrate
from usi.tau.cards import read_task_list
from usi_main import CliResult, Usi

from .test_study_api import full_session, study_of


def test_export_writes_canonical_human_episodes(
    make_app: Callable[..., TestClient], tmp_path: Path, usi: Usi
) -> None:
    client = make_app(tasks={"retail": ["0"]})
    p = full_session(client, "exporter01")
    p.send("/stop", "export-stop-0001")
    p.survey(improvement_suggestions="be faster")
    study = study_of(client)
    sid = study.worker.compute_quality
    rows = study.factory
    from usi.study import service

    session_id = service.list_sessions(rows)[0].id
    sid(session_id)
    # An unfinished session is not exported.
    other = type(p)(TestClient(client.app))
    other.to_chat("unfinished01")
    out = tmp_path / "human.jsonl"
    result = usi("study", "export", "--db", study.config.db_url, "-o", out)
    assert result.exit_code == 0, result.output
    episodes = read_episodes(out)
    assert len(episodes) == 1
    ep = episodes[0]
    assert ep.source == "human" and ep.batch == 1 and ep.domain == "retail" and ep.task_id == "0"
    assert ep.reward == 1.0  # τ²'s evaluator on the oracle's gold actions
    assert set(ep.survey) == {i.id for i in SURVEY_ITEMS} | {"improvement_suggestions"}
    assert ep.metadata["quality_score"] is not None and ep.metadata["keep"] is not None
    assert "exporter01" not in out.read_text()  # pseudonymised unless asked
    assert any(m.tool_calls for m in ep.messages if m.role == "assistant")
    assert ep.user_turns()[0].startswith("Hi!")
    service.set_keep(rows, session_id, False)  # a manual discard drops it from --kept-only
    kept = tmp_path / "kept.jsonl"
    result = usi("study", "export", "--db", study.config.db_url, "-o", kept, "--kept-only")
    assert result.exit_code == 0, result.output
    assert kept.exists() and kept.read_text() == ""


def test_export_of_a_non_study_database_is_an_input_error(tmp_path: Path) -> None:
    out = tmp_path / "x.jsonl"
    with pytest.raises(UsiInputError, match="not a study database"):
        from usi.study.export import export_study

        export_study(f"sqlite:///{tmp_path / 'empty.db'}", out)
    assert not out.exists()


def test_migrations_are_idempotent_and_match_the_models(tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from usi.study.schema import Base

    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    migrate(engine)
    migrate(engine)
    assert {"slots", "sessions", "messages", "alembic_version"} <= set(
        inspect(engine).get_table_names()
    )
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_task_list_file(tmp_path: Path) -> None:
    path = tmp_path / "tasks.json"
    path.write_text('{"retail": [0, "5", "5"]}', encoding="utf-8")
    tasks = read_task_list(path, ["retail", "airline"])
    assert tasks["retail"] == ["0", "5"]
    assert len(tasks["airline"]) == 50  # the τ² base split by default
    path.write_text('{"retail": ["9999"]}', encoding="utf-8")
    with pytest.raises(UsiInputError, match="unknown"):
        read_task_list(path, ["retail"])


def _error_line(result: CliResult) -> str:
    """The one ``usi: error:`` line of a refused command (after any warnings), exit code 2."""
    assert result.exit_code == 2 and result.stdout == "", result
    *warnings, line = result.stderr.splitlines()
    assert all(w.startswith("usi: warning: ") for w in warnings), result.stderr
    assert line.startswith("usi: error: "), result.stderr
    return line


def test_cli_rejects_bad_input(tmp_path: Path, usi: Usi) -> None:
    db = f"sqlite:///{tmp_path / 'a.db'}"
    short = _error_line(usi("study", "serve", "--db", db, "--admin-token", "abc"))
    assert short.startswith("usi: error: --admin-token: admin token too weak")
    # 22 × "a" has the length of a strong token but no entropy (issue 13): refused, with a hint.
    weak = _error_line(usi("study", "serve", "--db", db, "--admin-token", "a" * 22))
    assert weak.startswith("usi: error: --admin-token: admin token too weak")
    assert "token_urlsafe" in weak
    bad_pattern = _error_line(usi("study", "serve", "--pid-pattern", "(unclosed"))
    assert bad_pattern.startswith("usi: error: --pid-pattern: not a regular expression")
    bad_domain = _error_line(usi("study", "serve", "--domains", "telecom"))
    assert bad_domain.startswith("usi: error: --domains: unknown domains ['telecom']")
    bad_model = _error_line(usi("study", "serve", "--agent-model", "offline/nope"))
    assert bad_model.startswith("usi: error: --agent-model: unknown offline model 'offline/nope'")

"""Engine, sessions and migrations of the study database.

SQLite is the embedded default: WAL mode lets readers (every page view) proceed while one
writer commits, ``synchronous=NORMAL`` keeps commits cheap yet durable across a process
kill, and ``busy_timeout`` turns writer contention into a short wait instead of an error.
PostgreSQL works by URL. The schema is owned by Alembic, never by ``create_all``.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from usi.errors import UsiInputError

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
SQLITE_BUSY_TIMEOUT_MS = 10_000


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL and a busy timeout."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise UsiInputError(f"not a database URL ({exc})", where="--db") from exc
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            pool_size=20,
            max_overflow=20,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=20, max_overflow=20)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (pages render after the write)."""
    return sessionmaker(engine, expire_on_commit=False)


_GATES: dict[int, threading.Lock] = {}
_GATES_LOCK = threading.Lock()


@contextlib.contextmanager
def writing(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A write transaction; on SQLite, one writer per process at a time.

    SQLite allows one writer; when several threads race for it, the losers sleep in
    SQLite's busy handler with growing back-off, which shows up as latency spikes. Queuing
    the writers of this process on a lock instead keeps every commit short and in order
    (other processes still meet the busy timeout). PostgreSQL needs no gate.
    """
    engine = factory.kw["bind"]
    if engine.dialect.name != "sqlite":
        with factory.begin() as db:
            yield db
        return
    with _GATES_LOCK:
        gate = _GATES.setdefault(id(engine), threading.Lock())
    with gate, factory.begin() as db:
        yield db


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (idempotent)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")

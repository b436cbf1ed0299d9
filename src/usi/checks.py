"""Checks of what a command connects to — a database, a port, an engine — before any work.

Like the output guard (:mod:`usi.outputs`), each turns a problem that would otherwise
surface as a SQLAlchemy, socket or Ray traceback (or exit 3 after the admin token was
printed) into one :class:`~usi.errors.UsiInputError` line, raised before a banner, a
token or an episode.
"""

from __future__ import annotations

import importlib.util
import socket
from pathlib import Path

from usi.errors import UsiInputError

STUDY_TABLE = "sessions"
"""The table every usi study database has (created by the first migration)."""
DB_CONNECT_TIMEOUT_S = 5
MIN_PORT, MAX_PORT = 1, 65535


def check_database_url(url: str, *, create: bool = False, option: str = "--db") -> None:
    """``url`` reaches a usi study database, or (``create``, for ``study serve``) a place
    where one can be made: a new SQLite file in an existing folder, or an empty database."""
    sqlite_file = _sqlite_path(url)
    if sqlite_file is not None:  # the common mistakes, answered before SQLAlchemy loads
        if sqlite_file.is_dir():
            raise UsiInputError("is a folder, not a SQLite database file", sqlite_file, option)
        if not sqlite_file.exists():
            if not create:
                raise UsiInputError("no such study database", sqlite_file, option)
            from usi.outputs import check_parent

            check_parent(sqlite_file)
            return
        if not _is_sqlite_file(sqlite_file):
            raise UsiInputError("not a SQLite database file", sqlite_file, option)

    from sqlalchemy import create_engine, inspect
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise UsiInputError(
            f"not a database URL: {url!r} (expected sqlite:///FILE or postgresql://…)",
            where=option,
        ) from None
    connect_args: dict[str, object] = {}
    if parsed.get_backend_name().startswith("postgres"):
        connect_args["connect_timeout"] = DB_CONNECT_TIMEOUT_S
    try:
        engine = create_engine(url, connect_args=connect_args)
    except (ArgumentError, ImportError) as exc:
        raise UsiInputError(f"cannot use database URL ({exc})", where=option) from None
    shown = parsed.render_as_string(hide_password=True)
    try:
        with engine.connect() as connection:
            tables = set(inspect(connection).get_table_names())
    except SQLAlchemyError as exc:
        reason = " ".join(str(getattr(exc, "orig", None) or exc).split())[:160]
        raise UsiInputError(f"cannot open database {shown} ({reason})", where=option) from None
    finally:
        engine.dispose()
    if STUDY_TABLE in tables:
        return
    if create and not tables:
        return
    raise UsiInputError(
        f"{shown} is not a usi study database (no {STUDY_TABLE} table"
        + (f"; it has {len(tables)} other tables)" if tables else ")"),
        where=option,
    )


def _sqlite_path(url: str) -> Path | None:
    """The file of a ``sqlite:///FILE`` URL (None for memory, URI forms and other backends)."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        return None
    database = url[len(prefix) :].split("?", 1)[0]
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _is_sqlite_file(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            head = handle.read(16)
    except OSError as exc:
        raise UsiInputError(exc.strerror or "cannot read", path) from None
    return head == b"SQLite format 3\x00" or head == b""


def check_port(host: str, port: int, *, option: str = "--port") -> None:
    """``port`` is in range and free on ``host`` (bound as uvicorn binds: SO_REUSEADDR)."""
    if not MIN_PORT <= port <= MAX_PORT:
        raise UsiInputError(f"port {port} out of range ({MIN_PORT}–{MAX_PORT})", where=option)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UsiInputError(f"unknown host {host!r} ({exc.strerror})", where="--host") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise UsiInputError(
                f"cannot listen on {host}:{port} ({exc.strerror or exc}; is another server "
                "running there?)",
                where=option,
            ) from None


def check_ray(address: str | None) -> None:
    """Ray is importable, and a ``ray://`` address has Ray Client's extra (grpcio)."""
    if importlib.util.find_spec("ray") is None:
        raise UsiInputError("--backend ray needs Ray: pip install 'usi[ray]'", where="--backend")
    if address and address.startswith("ray://") and importlib.util.find_spec("grpc") is None:
        raise UsiInputError(
            "a ray:// address needs Ray Client: pip install 'usi[ray]' (or 'ray[client]')",
            where="--ray-address",
        )

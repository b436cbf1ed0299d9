"""A participant's session from entry to Stop, and the agent's side of each turn.

Each transition is one short transaction with a conditional ``UPDATE ... WHERE state =
<expected>``; the agent's reply is appended only if the session still waits for exactly
that reply, so a Stop, a timeout or a restart in the middle of a turn drops it cleanly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from usi.study import schema as s
from usi.study.db import writing
from usi.study.schema import AgentErrorRow, StoredMessage, StudySession
from usi.study.security import new_token, normalise_resume_code, resume_code, token_digest
from usi.study.service.common import (
    AlreadyLive,
    Conflict,
    NothingToStop,
    rows_matched,
    utcnow,
)
from usi.study.service.slots import _expire


@dataclass(frozen=True)
class PostResult:
    """Outcome of a participant message."""

    message: StoredMessage
    duplicate: bool
    stopped: bool


@dataclass(frozen=True)
class NewSession:
    """A created (or resumed) session and the secrets shown to its participant only once."""

    session: StudySession
    token: str
    resume_code: str


# --- entry -----------------------------------------------------------------------------------


def find_session(factory: sessionmaker[Session], token: str | None) -> StudySession | None:
    """The session whose token is ``token`` (looked up by digest)."""
    if not token:
        return None
    with factory() as db:
        return db.scalar(select(StudySession).where(StudySession.token_hash == token_digest(token)))


def stopped_session_of_form(factory: sessionmaker[Session], csrf: str) -> StudySession | None:
    """The session that stopped its chat and whose survey form carries ``csrf``, if any.

    A survey form proves whose it is by its CSRF token (256 bits, only ever shown on that
    session's pages), so a late survey is matched to its session even when the browser's
    cookie now names another one (the participant opened the study link again after the
    hold ran out); without this it was refused as an "Expired form".
    """
    if not csrf:
        return None
    with factory() as db:
        return db.scalar(
            select(StudySession).where(
                StudySession.csrf_token == csrf, StudySession.stopped_at.is_not(None)
            )
        )


def active_session_of(factory: sessionmaker[Session], pid: str) -> StudySession | None:
    """The participant's unfinished session, if any."""
    with factory() as db:
        return db.scalar(
            select(StudySession)
            .where(StudySession.prolific_pid == pid, StudySession.state.in_(s.ACTIVE_STATES))
            .order_by(StudySession.id.desc())
        )


def chats_with_other_models(factory: sessionmaker[Session], model: str) -> dict[str, int]:
    """Live chats that another agent model has been answering: model → sessions.

    A restart with another ``--agent-model`` would let the new model answer them while the
    export labels the whole transcript with the old one (issue 18). ``usi study serve``
    refuses to start over them; sessions that have not reached the chat yet just take the
    new model (:func:`adopt_agent_model`).
    """
    with factory() as db:
        rows = db.execute(
            select(StudySession.agent_model, func.count())
            .where(StudySession.state == s.CHAT, StudySession.agent_model != model)
            .group_by(StudySession.agent_model)
        ).all()
    return {str(name): int(count) for name, count in rows}


def adopt_agent_model(factory: sessionmaker[Session], model: str) -> int:
    """Sessions before their chat (consent, task card) are answered by ``model``: say so."""
    with writing(factory) as db:
        return rows_matched(
            db,
            update(StudySession)
            .where(StudySession.state.in_((s.CONSENT, s.TASK)), StudySession.agent_model != model)
            .values(agent_model=model),
        )


def create_session(
    factory: sessionmaker[Session],
    *,
    pid: str,
    study_id: str | None,
    recruiter_session_id: str | None,
    agent_model: str,
) -> NewSession:
    """A new session at the consent page, with its token and resume code (never stored).

    :class:`AlreadyLive` if the id has a live session: the partial unique index
    ``uq_sessions_live_pid`` decides, so simultaneous entries with one id make one session.
    """
    token = new_token()
    code = resume_code(token)
    now = utcnow()
    try:
        with writing(factory) as db:
            row = _new_row(token, code, pid, study_id, recruiter_session_id, agent_model, now)
            db.add(row)
    except IntegrityError:
        raise AlreadyLive(f"participant {pid!r} already has a live session") from None
    return NewSession(row, token, code)


def _new_row(
    token: str,
    code: str,
    pid: str,
    study_id: str | None,
    recruiter_session_id: str | None,
    agent_model: str,
    now: datetime,
) -> StudySession:
    return StudySession(
        token_hash=token_digest(token),
        resume_hash=token_digest(normalise_resume_code(code)),
        csrf_token=new_token(),
        prolific_pid=pid,
        study_id=study_id,
        recruiter_session_id=recruiter_session_id,
        state=s.CONSENT,
        agent_model=agent_model,
        agent_status=s.AGENT_IDLE,
        created_at=now,
        last_active_at=now,
    )


def resume_with_code(factory: sessionmaker[Session], pid: str, code: str) -> NewSession | None:
    """The participant's live session moved to this browser, if ``code`` is its resume code.

    The session gets a new token (the lost browser's cookie stops working), and with it a
    new resume code. Knowing the recruiter id alone is not enough: the code was only ever
    shown on the participant's own pages.
    """
    given = token_digest(normalise_resume_code(code))
    token = new_token()
    fresh = resume_code(token)
    with writing(factory) as db:
        row = db.scalar(
            select(StudySession)
            .where(StudySession.prolific_pid == pid, StudySession.state.in_(s.ACTIVE_STATES))
            .order_by(StudySession.id.desc())
        )
        if row is None or row.resume_hash is None or row.resume_hash != given:
            return None
        row.token_hash = token_digest(token)
        row.resume_hash = token_digest(normalise_resume_code(fresh))
        row.last_active_at = utcnow()
    return NewSession(row, token, fresh)


def touch(
    factory: sessionmaker[Session], session: StudySession, *, min_interval: float = 30.0
) -> None:
    """Record activity, at most one write per ``min_interval`` seconds.

    Polls are the most frequent request; deciding from the row already loaded keeps them
    read-only (no SQLite write lock) almost always.
    """
    now = utcnow()
    if session.last_active_at >= now - timedelta(seconds=min_interval):
        return
    with writing(factory) as db:
        db.execute(
            update(StudySession)
            .where(
                StudySession.id == session.id,
                StudySession.state.in_(s.ACTIVE_STATES),
                StudySession.last_active_at < now - timedelta(seconds=min_interval),
            )
            .values(last_active_at=now)
        )


def decline_consent(factory: sessionmaker[Session], session_id: int) -> None:
    with writing(factory) as db:
        db.execute(
            update(StudySession)
            .where(StudySession.id == session_id, StudySession.state == s.CONSENT)
            .values(state=s.DECLINED, last_active_at=utcnow())
        )


def end_session(factory: sessionmaker[Session], session_id: int) -> None:
    """The participant chose to leave this session for a new one: it expires now."""
    with writing(factory) as db:
        _expire(db, [session_id])


# --- chat ------------------------------------------------------------------------------------


def start_chat(factory: sessionmaker[Session], session_id: int, greeting: str) -> None:
    """Task card read: open the chat with the agent's greeting (once)."""
    now = utcnow()
    with writing(factory) as db:
        moved = rows_matched(
            db,
            update(StudySession)
            .where(StudySession.id == session_id, StudySession.state == s.TASK)
            .values(state=s.CHAT, last_active_at=now),
        )
        if moved:
            db.add(
                StoredMessage(
                    session_id=session_id,
                    seq=1,
                    role="assistant",
                    content=greeting,
                    visible=True,
                    created_at=now,
                )
            )


def _next_seq(db: Session, session_id: int) -> int:
    last = db.scalar(
        select(func.max(StoredMessage.seq)).where(StoredMessage.session_id == session_id)
    )
    return int(last or 0) + 1


def _by_client_id(
    factory: sessionmaker[Session], session_id: int, client_id: str
) -> StoredMessage | None:
    with factory() as db:
        return db.scalar(
            select(StoredMessage).where(
                StoredMessage.session_id == session_id, StoredMessage.client_id == client_id
            )
        )


def stored_client_id(factory: sessionmaker[Session], session_id: int, client_id: str) -> bool:
    """Whether this client id's message is already stored (a retried request)."""
    return _by_client_id(factory, session_id, client_id) is not None


def _log_error(db: Session, session_id: int, kind: str, error: str) -> None:
    db.add(
        AgentErrorRow(
            session_id=session_id,
            after_seq=_next_seq(db, session_id) - 1,
            kind=kind,
            error=error[:2000],
            created_at=utcnow(),
        )
    )


def post_message(
    factory: sessionmaker[Session], session_id: int, text: str, client_id: str, *, stop: bool
) -> PostResult:
    """Commit a participant message (idempotent on ``client_id``) before anyone answers it.

    A normal message hands the turn to the agent (``agent_status = pending``); ``/stop``
    ends the chat and opens the survey at any moment, cancelling a pending turn, but only
    once the participant has written something (:class:`NothingToStop`).
    """
    previous = _by_client_id(factory, session_id, client_id)
    if previous is not None:
        return PostResult(previous, duplicate=True, stopped=stop)
    now = utcnow()
    values: dict[str, Any] = {"last_active_at": now}
    allowed = [s.AGENT_IDLE, s.AGENT_ERROR]
    if stop:
        values.update(state=s.SURVEY, stopped_at=now, agent_status=s.AGENT_IDLE)
        allowed.append(s.AGENT_PENDING)
    else:
        values.update(agent_status=s.AGENT_PENDING, agent_error=None, agent_since=now)
    try:
        with writing(factory) as db:
            if stop and not db.scalar(
                select(func.count())
                .select_from(StoredMessage)
                .where(StoredMessage.session_id == session_id, StoredMessage.role == "user")
            ):
                raise NothingToStop("nothing to stop yet")
            was = db.scalar(select(StudySession.agent_status).where(StudySession.id == session_id))
            moved = rows_matched(
                db,
                update(StudySession)
                .where(
                    StudySession.id == session_id,
                    StudySession.state == s.CHAT,
                    StudySession.agent_status.in_(allowed),
                )
                .values(**values),
            )
            if not moved:
                raise Conflict("the agent is still answering, or the chat has ended")
            if stop and was == s.AGENT_PENDING:
                _log_error(db, session_id, "cancelled", "the participant stopped during the turn")
            row = StoredMessage(
                session_id=session_id,
                seq=_next_seq(db, session_id),
                role="user",
                content=text,
                visible=True,
                client_id=client_id,
                created_at=now,
            )
            db.add(row)
    except NothingToStop:
        raise
    except (Conflict, IntegrityError):
        previous = _by_client_id(factory, session_id, client_id)
        if previous is not None:
            return PostResult(previous, duplicate=True, stopped=stop)
        raise Conflict("the agent is still answering, or the chat has ended") from None
    return PostResult(row, duplicate=False, stopped=stop)


def retry_agent(factory: sessionmaker[Session], session_id: int) -> bool:
    """After an agent error, hand the turn back to the agent."""
    now = utcnow()
    with writing(factory) as db:
        return bool(
            rows_matched(
                db,
                update(StudySession)
                .where(
                    StudySession.id == session_id,
                    StudySession.state == s.CHAT,
                    StudySession.agent_status == s.AGENT_ERROR,
                )
                .values(
                    agent_status=s.AGENT_PENDING,
                    agent_error=None,
                    last_active_at=now,
                    agent_since=now,
                ),
            )
        )


def messages_of(
    factory: sessionmaker[Session], session_id: int, *, after: int = 0, visible_only: bool = True
) -> list[StoredMessage]:
    with factory() as db:
        query = select(StoredMessage).where(
            StoredMessage.session_id == session_id, StoredMessage.seq > after
        )
        if visible_only:
            query = query.where(StoredMessage.visible.is_(True))
        return list(db.scalars(query.order_by(StoredMessage.seq)))


def get_session(factory: sessionmaker[Session], session_id: int) -> StudySession | None:
    with factory() as db:
        return db.get(StudySession, session_id)


# --- the agent's side --------------------------------------------------------------------------


def pending_sessions(factory: sessionmaker[Session]) -> list[int]:
    """Sessions whose last participant message still awaits the agent (e.g. after a crash)."""
    with factory() as db:
        return list(
            db.scalars(
                select(StudySession.id).where(
                    StudySession.agent_status == s.AGENT_PENDING, StudySession.state == s.CHAT
                )
            )
        )


def without_nul(value: Any) -> Any:
    """``value`` with every NUL character removed, strings inside lists and dicts included.

    PostgreSQL refuses NUL in text (and in JSON), so a model reply holding one was never
    stored: the turn failed, the reaper resubmitted it, and the participant waited out the
    deadline again and again. Participant text is refused at the form
    (:mod:`usi.study.forms`); the agent's output is not the participant's to fix, so it is
    stored without the NUL, which no one can see anyway.
    """
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [without_nul(v) for v in value]
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    return value


def record_agent_reply(
    factory: sessionmaker[Session], session_id: int, last_seq: int, rows: Sequence[dict[str, Any]]
) -> bool:
    """Append the agent's messages if the session still waits for exactly this reply."""
    rows = [without_nul(fields) for fields in rows]
    now = utcnow()
    try:
        with writing(factory) as db:
            moved = rows_matched(
                db,
                update(StudySession)
                .where(
                    StudySession.id == session_id,
                    StudySession.agent_status == s.AGENT_PENDING,
                    StudySession.state == s.CHAT,
                )
                .values(agent_status=s.AGENT_IDLE, agent_error=None, last_active_at=now),
            )
            if not moved or _next_seq(db, session_id) != last_seq + 1:
                raise _Stale
            for offset, fields in enumerate(rows, start=1):
                db.add(
                    StoredMessage(
                        session_id=session_id, seq=last_seq + offset, created_at=now, **fields
                    )
                )
    except _Stale:
        return False
    return True


class _Stale(Exception):
    """The transcript moved on while the agent was thinking: drop the reply."""


def record_agent_error(
    factory: sessionmaker[Session], session_id: int, error: str, kind: str = "error"
) -> bool:
    """The pending turn failed: the participant may retry; the error is kept for the export."""
    with writing(factory) as db:
        moved = rows_matched(
            db,
            update(StudySession)
            .where(StudySession.id == session_id, StudySession.agent_status == s.AGENT_PENDING)
            .values(agent_status=s.AGENT_ERROR, agent_error=error[:2000]),
        )
        if moved:
            _log_error(db, session_id, kind, error)
    return bool(moved)


def expire_agent_turns(factory: sessionmaker[Session], timeout: timedelta) -> int:
    """Turns pending for longer than ``timeout`` become errors (the participant may retry)."""
    cutoff = utcnow() - timeout
    with factory() as db:
        late = list(
            db.scalars(
                select(StudySession.id).where(
                    StudySession.agent_status == s.AGENT_PENDING,
                    StudySession.agent_since < cutoff,
                )
            )
        )
    seconds = timeout.total_seconds()
    message = f"the agent did not answer within {seconds:g} s"
    return sum(record_agent_error(factory, sid, message, "timeout") for sid in late)


def agent_errors_of(factory: sessionmaker[Session], session_id: int) -> list[AgentErrorRow]:
    with factory() as db:
        return list(
            db.scalars(
                select(AgentErrorRow)
                .where(AgentErrorRow.session_id == session_id)
                .order_by(AgentErrorRow.id)
            )
        )

"""The study's state transitions, each one short database transaction.

Web handlers and the agent worker call only these functions. Every transition is a
conditional ``UPDATE ... WHERE state = <expected>`` whose row count decides the outcome,
so two racing requests (a double click, two browser tabs, a retry after a timeout) can
never both win — on SQLite and PostgreSQL alike, with no table locks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from usi.data.survey import FREE_TEXT_IDS, SURVEY_ITEMS, validate_answer
from usi.study import schema as s
from usi.study.db import writing
from usi.study.schema import Slot, StoredMessage, StudySession
from usi.study.security import MAX_FREE_TEXT_CHARS, completion_code, new_token, token_digest

# How many open slots one assignment attempt looks at before concluding the pool is empty.
ASSIGN_CANDIDATES = 64


def _rows(db: Session, statement: Any) -> int:
    """Rows matched by an UPDATE: the outcome of a conditional state transition."""
    return int(cast("CursorResult[Any]", db.execute(statement)).rowcount)


def utcnow() -> datetime:
    """Naive UTC (what SQLite's DateTime stores)."""
    return datetime.now(UTC).replace(tzinfo=None)


class Conflict(Exception):
    """The request does not fit the session's current state (double submit, agent busy)."""


class StudyFull(Exception):
    """No open slot this participant may take."""


@dataclass(frozen=True)
class PostResult:
    """Outcome of a participant message."""

    message: StoredMessage
    duplicate: bool
    stopped: bool


# --- set-up ------------------------------------------------------------------------------


def seed_slots(
    factory: sessionmaker[Session], tasks: Mapping[str, Sequence[str]], batches: int
) -> int:
    """Create the (domain, task, batch) slots of the design; mark the others inactive.

    Idempotent: re-running with the same design changes nothing; a changed task list
    deactivates dropped slots (their finished sessions stay) and adds new ones.
    """
    wanted = {
        (domain, task_id, batch): position
        for domain, ids in tasks.items()
        for position, task_id in enumerate(ids)
        for batch in range(1, batches + 1)
    }
    created = 0
    with writing(factory) as db:
        existing = {(r.domain, r.task_id, r.batch): r for r in db.scalars(select(Slot))}
        for key, row in existing.items():
            row.active = key in wanted
            if key in wanted:
                row.position = wanted[key]
        for key, position in wanted.items():
            if key not in existing:
                domain, task_id, batch = key
                db.add(Slot(domain=domain, task_id=task_id, batch=batch, position=position))
                created += 1
    return created


# --- participants ------------------------------------------------------------------------


def find_session(factory: sessionmaker[Session], token: str | None) -> StudySession | None:
    """The session whose token is ``token`` (looked up by digest)."""
    if not token:
        return None
    with factory() as db:
        return db.scalar(select(StudySession).where(StudySession.token_hash == token_digest(token)))


def active_session_of(factory: sessionmaker[Session], pid: str) -> StudySession | None:
    """The participant's unfinished session, if any."""
    with factory() as db:
        return db.scalar(
            select(StudySession)
            .where(StudySession.prolific_pid == pid, StudySession.state.in_(s.ACTIVE_STATES))
            .order_by(StudySession.id.desc())
        )


def create_session(
    factory: sessionmaker[Session],
    *,
    pid: str,
    study_id: str | None,
    recruiter_session_id: str | None,
    agent_model: str,
) -> tuple[StudySession, str]:
    """A new session at the consent page; returns it and its (only ever returned) token."""
    token = new_token()
    now = utcnow()
    with writing(factory) as db:
        row = StudySession(
            token_hash=token_digest(token),
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
        db.add(row)
    return row, token


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


def accept_consent(factory: sessionmaker[Session], session_id: int) -> StudySession:
    """Consent given: take an open slot whose task this participant has never had."""
    with factory() as db:
        session = db.get(StudySession, session_id)
        if session is None or session.state != s.CONSENT:
            raise Conflict("consent was already answered")
        pid = session.prolific_pid
    for _attempt in range(2):
        if _assign(factory, session_id, pid):
            break
        release_expired_now(factory)
    else:
        raise StudyFull("no open task for this participant")
    with factory() as db:
        row = db.get(StudySession, session_id)
        assert row is not None
        return row


def _assign(factory: sessionmaker[Session], session_id: int, pid: str) -> bool:
    seen = (
        select(StudySession.id)
        .where(
            StudySession.prolific_pid == pid,
            StudySession.domain == Slot.domain,
            StudySession.task_id == Slot.task_id,
        )
        .correlate(Slot)
    )
    with factory() as db:
        candidates = db.execute(
            select(Slot.id, Slot.domain, Slot.task_id, Slot.batch)
            .where(Slot.active.is_(True), Slot.status == s.SLOT_OPEN, ~exists(seen))
            .order_by(Slot.batch, Slot.position, Slot.domain)
            .limit(ASSIGN_CANDIDATES)
        ).all()
    for slot_id, domain, task_id, batch in candidates:
        now = utcnow()
        with writing(factory) as db:
            taken = _rows(
                db,
                update(Slot)
                .where(Slot.id == slot_id, Slot.status == s.SLOT_OPEN)
                .values(status=s.SLOT_ASSIGNED, session_id=session_id),
            )
            if not taken:
                continue
            moved = _rows(
                db,
                update(StudySession)
                .where(StudySession.id == session_id, StudySession.state == s.CONSENT)
                .values(
                    state=s.TASK,
                    slot_id=slot_id,
                    domain=domain,
                    task_id=task_id,
                    batch=batch,
                    last_active_at=now,
                ),
            )
            if not moved:  # consent answered twice at once: the slot stays open
                raise Conflict("consent was already answered")
        return True
    return False


def release_expired(factory: sessionmaker[Session], timeout: timedelta) -> int:
    """Expire sessions idle for longer than ``timeout``; their slots return to the pool."""
    cutoff = utcnow() - timeout
    with writing(factory) as db:
        stale = list(
            db.scalars(
                select(StudySession.id).where(
                    StudySession.state.in_(s.ACTIVE_STATES),
                    StudySession.last_active_at < cutoff,
                    StudySession.agent_status != s.AGENT_PENDING,
                )
            )
        )
        if not stale:
            return 0
        db.execute(
            update(StudySession)
            .where(StudySession.id.in_(stale), StudySession.state.in_(s.ACTIVE_STATES))
            .values(state=s.EXPIRED)
        )
        db.execute(
            update(Slot)
            .where(Slot.session_id.in_(stale), Slot.status == s.SLOT_ASSIGNED)
            .values(status=s.SLOT_OPEN, session_id=None)
        )
    return len(stale)


_TIMEOUT = {"value": timedelta(minutes=60)}


def set_session_timeout(timeout: timedelta) -> None:
    """The abandonment timeout used by :func:`release_expired_now`."""
    _TIMEOUT["value"] = timeout


def release_expired_now(factory: sessionmaker[Session]) -> int:
    return release_expired(factory, _TIMEOUT["value"])


def start_chat(factory: sessionmaker[Session], session_id: int, greeting: str) -> None:
    """Task card read: open the chat with the agent's greeting (once)."""
    now = utcnow()
    with writing(factory) as db:
        moved = _rows(
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


def post_message(
    factory: sessionmaker[Session], session_id: int, text: str, client_id: str, *, stop: bool
) -> PostResult:
    """Commit a participant message (idempotent on ``client_id``) before anyone answers it.

    A normal message hands the turn to the agent (``agent_status = pending``); ``/stop``
    ends the chat and opens the survey.
    """
    previous = _by_client_id(factory, session_id, client_id)
    if previous is not None:
        return PostResult(previous, duplicate=True, stopped=stop)
    now = utcnow()
    values: dict[str, Any] = {"last_active_at": now}
    if stop:
        values.update(state=s.SURVEY, stopped_at=now)
    else:
        values.update(agent_status=s.AGENT_PENDING, agent_error=None)
    try:
        with writing(factory) as db:
            moved = _rows(
                db,
                update(StudySession)
                .where(
                    StudySession.id == session_id,
                    StudySession.state == s.CHAT,
                    StudySession.agent_status.in_((s.AGENT_IDLE, s.AGENT_ERROR)),
                )
                .values(**values),
            )
            if not moved:
                raise Conflict("the agent is still answering, or the chat has ended")
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
    except (Conflict, IntegrityError):
        previous = _by_client_id(factory, session_id, client_id)
        if previous is not None:
            return PostResult(previous, duplicate=True, stopped=stop)
        raise Conflict("the agent is still answering, or the chat has ended") from None
    return PostResult(row, duplicate=False, stopped=stop)


def retry_agent(factory: sessionmaker[Session], session_id: int) -> bool:
    """After an agent error, hand the turn back to the agent."""
    with writing(factory) as db:
        return bool(
            _rows(
                db,
                update(StudySession)
                .where(
                    StudySession.id == session_id,
                    StudySession.state == s.CHAT,
                    StudySession.agent_status == s.AGENT_ERROR,
                )
                .values(agent_status=s.AGENT_PENDING, agent_error=None, last_active_at=utcnow()),
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


# --- survey --------------------------------------------------------------------------------


def validate_survey(form: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """(answers, problems): every scaled item is required, free text is optional."""
    answers: dict[str, str] = {}
    problems: list[str] = []
    for item in SURVEY_ITEMS:
        value = form.get(item.id, "")
        if not value:
            problems.append(f"Please answer: {item.question}")
            continue
        try:
            answers[item.id] = validate_answer(item.id, value)
        except ValueError:
            problems.append(f"Please choose one of the options for: {item.question}")
    for item_id in FREE_TEXT_IDS:
        text = (form.get(item_id) or "").strip()
        if len(text) > MAX_FREE_TEXT_CHARS:
            problems.append(f"Please keep answers under {MAX_FREE_TEXT_CHARS} characters.")
        elif text:
            answers[item_id] = text
    return answers, problems


def submit_survey(
    factory: sessionmaker[Session],
    session_id: int,
    answers: dict[str, str],
    fixed_code: str | None,
) -> str:
    """Store the survey and finish the session; a second submission raises :class:`Conflict`."""
    code = fixed_code or completion_code()
    now = utcnow()
    with writing(factory) as db:
        moved = _rows(
            db,
            update(StudySession)
            .where(StudySession.id == session_id, StudySession.state == s.SURVEY)
            .values(
                state=s.DONE,
                survey=answers,
                completed_at=now,
                last_active_at=now,
                completion_code=code,
            ),
        )
        if not moved:
            raise Conflict("the survey was already submitted")
        db.execute(
            update(Slot)
            .where(Slot.session_id == session_id, Slot.status == s.SLOT_ASSIGNED)
            .values(status=s.SLOT_FILLED)
        )
    return code


# --- agent worker ----------------------------------------------------------------------------


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


def record_agent_reply(
    factory: sessionmaker[Session], session_id: int, last_seq: int, rows: Sequence[dict[str, Any]]
) -> bool:
    """Append the agent's messages if the session still waits for exactly this reply."""
    now = utcnow()
    try:
        with writing(factory) as db:
            moved = _rows(
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


def record_agent_error(factory: sessionmaker[Session], session_id: int, error: str) -> None:
    with writing(factory) as db:
        db.execute(
            update(StudySession)
            .where(StudySession.id == session_id, StudySession.agent_status == s.AGENT_PENDING)
            .values(agent_status=s.AGENT_ERROR, agent_error=error[:2000])
        )


# --- admin ------------------------------------------------------------------------------------


def progress(factory: sessionmaker[Session]) -> list[dict[str, Any]]:
    """One row per active (domain, task): the status of each batch's slot."""
    with factory() as db:
        slots = db.execute(
            select(
                Slot.domain, Slot.task_id, Slot.batch, Slot.status, Slot.session_id, Slot.position
            )
            .where(Slot.active.is_(True))
            .order_by(Slot.domain, Slot.position, Slot.batch)
        ).all()
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for domain, task_id, batch, status, session_id, _pos in slots:
        row = rows.setdefault(
            (domain, task_id), {"domain": domain, "task_id": task_id, "batches": {}}
        )
        row["batches"][batch] = {"status": status, "session_id": session_id}
    return list(rows.values())


def progress_totals(factory: sessionmaker[Session]) -> dict[str, dict[str, int]]:
    """Slot counts by domain and status."""
    with factory() as db:
        counts = db.execute(
            select(Slot.domain, Slot.status, func.count())
            .where(Slot.active.is_(True))
            .group_by(Slot.domain, Slot.status)
        ).all()
    totals: dict[str, dict[str, int]] = {}
    for domain, status, count in counts:
        totals.setdefault(domain, {s.SLOT_OPEN: 0, s.SLOT_ASSIGNED: 0, s.SLOT_FILLED: 0})[
            status
        ] = count
    return totals


def list_sessions(
    factory: sessionmaker[Session], *, state: str | None = None, limit: int = 500
) -> list[StudySession]:
    with factory() as db:
        query = select(StudySession).order_by(StudySession.id.desc()).limit(limit)
        if state:
            query = query.where(StudySession.state == state)
        return list(db.scalars(query))


def set_keep(factory: sessionmaker[Session], session_id: int, keep: bool | None) -> None:
    with writing(factory) as db:
        db.execute(update(StudySession).where(StudySession.id == session_id).values(keep=keep))


def record_quality(
    factory: sessionmaker[Session], session_id: int, score: float, reasoning: str, model: str
) -> None:
    with writing(factory) as db:
        db.execute(
            update(StudySession)
            .where(StudySession.id == session_id)
            .values(quality_score=score, quality_reasoning=reasoning, quality_model=model)
        )


def record_reward(
    factory: sessionmaker[Session], session_id: int, reward: float, info: dict[str, Any]
) -> None:
    with writing(factory) as db:
        db.execute(
            update(StudySession)
            .where(StudySession.id == session_id)
            .values(reward=reward, reward_info=info)
        )


def finished_sessions(
    factory: sessionmaker[Session], *, unjudged: bool = False, unrewarded: bool = False
) -> list[StudySession]:
    with factory() as db:
        query = select(StudySession).where(StudySession.state == s.DONE)
        if unjudged:
            query = query.where(StudySession.quality_score.is_(None))
        if unrewarded:
            query = query.where(StudySession.reward.is_(None))
        return list(db.scalars(query.order_by(StudySession.id)))


def effective_keep(session: StudySession, threshold: float) -> bool | None:
    """Manual keep/discard wins; otherwise the judge's score against the threshold."""
    if session.keep is not None:
        return session.keep
    if session.quality_score is None:
        return None
    return session.quality_score >= threshold

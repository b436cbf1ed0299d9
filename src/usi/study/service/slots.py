"""The design's (domain, task, batch) slots: seeding, assignment, release and give-back.

A slot is ``open``, ``assigned`` to one live session, or ``filled`` by a finished one.
Every change is a conditional UPDATE whose row count decides who won, so two racing
requests never both take (or both free) the same slot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session, sessionmaker

from usi.study import schema as s
from usi.study.db import writing
from usi.study.schema import Slot, StudySession
from usi.study.service.common import Conflict, StudyFull, Timeouts, rows_matched, utcnow

# How often one assignment retries when another process took the slot it chose.
ASSIGN_CANDIDATES = 64


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


def accept_consent(
    factory: sessionmaker[Session], session_id: int, timeouts: Timeouts
) -> StudySession:
    """Consent given: take an open slot whose task this participant has never had."""
    with factory() as db:
        session = db.get(StudySession, session_id)
        if session is None or session.state != s.CONSENT:
            raise Conflict("consent was already answered")
        pid = session.prolific_pid
    for _attempt in range(2):
        if _assign(factory, session_id, pid):
            break
        release_expired(factory, timeouts.session, timeouts.survey)
    else:
        raise StudyFull("no open task for this participant")
    with factory() as db:
        row = db.get(StudySession, session_id)
        assert row is not None
        return row


def _assign(factory: sessionmaker[Session], session_id: int, pid: str) -> bool:
    """Take the first open slot this participant may have, in one write transaction.

    The slot is chosen inside the transaction that takes it (on SQLite behind this
    process's write gate, on PostgreSQL with ``FOR UPDATE SKIP LOCKED``), so simultaneous
    consents each take the next free slot at once. Choosing first and taking after let all
    of a burst race for the same first slot: the k-th participant paid k write
    transactions (POST /consent p95 830 ms for a wave of 20). The take is still a
    conditional UPDATE whose row count decides, so a racing writer in another process costs
    a retry, never a slot held twice.
    """
    seen = (
        select(StudySession.id)
        .where(
            StudySession.prolific_pid == pid,
            StudySession.domain == Slot.domain,
            StudySession.task_id == Slot.task_id,
        )
        .correlate(Slot)
    )
    first_open = (
        select(Slot.id, Slot.domain, Slot.task_id, Slot.batch)
        .where(Slot.active.is_(True), Slot.status == s.SLOT_OPEN, ~exists(seen))
        .order_by(Slot.batch, Slot.position, Slot.domain)
        .limit(1)
        .with_for_update(skip_locked=True, of=Slot)
    )
    for _attempt in range(ASSIGN_CANDIDATES):
        now = utcnow()
        with writing(factory) as db:
            found = db.execute(first_open).first()
            if found is None:
                return False
            slot_id, domain, task_id, batch = found
            taken = rows_matched(
                db,
                update(Slot)
                .where(Slot.id == slot_id, Slot.status == s.SLOT_OPEN)
                .values(status=s.SLOT_ASSIGNED, session_id=session_id),
            )
            if not taken:  # another process took it between our read and write: next one
                continue
            moved = rows_matched(
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
            if not moved:  # consent answered twice at once: roll back, the slot stays open
                raise Conflict("consent was already answered")
        return True
    return False


def _expire(db: Session, ids: Sequence[int]) -> None:
    db.execute(
        update(StudySession)
        .where(StudySession.id.in_(ids), StudySession.state.in_(s.ACTIVE_STATES))
        .values(state=s.EXPIRED, agent_status=s.AGENT_IDLE)
    )
    db.execute(
        update(Slot)
        .where(Slot.session_id.in_(ids), Slot.status == s.SLOT_ASSIGNED)
        .values(status=s.SLOT_OPEN, session_id=None)
    )


def release_expired(
    factory: sessionmaker[Session],
    timeout: timedelta,
    survey_timeout: timedelta | None = None,
) -> int:
    """Expire sessions idle for longer than ``timeout``; their slots return to the pool.

    A session waiting for the agent is no exception (the agent's own deadline ends its
    turn long before); a session at the survey is held for ``survey_timeout`` instead.
    """
    now = utcnow()
    held = survey_timeout if survey_timeout is not None else timeout
    with writing(factory) as db:
        stale = list(
            db.scalars(
                select(StudySession.id).where(
                    (
                        StudySession.state.in_((s.CONSENT, s.TASK, s.CHAT))
                        & (StudySession.last_active_at < now - timeout)
                    )
                    | (
                        (StudySession.state == s.SURVEY)
                        & (StudySession.last_active_at < now - held)
                    )
                )
            )
        )
        if stale:
            _expire(db, stale)
    return len(stale)


def release_session(factory: sessionmaker[Session], session_id: int) -> bool:
    """End one live session now (admin action, or replaced by its participant)."""
    with writing(factory) as db:
        alive = db.scalar(
            select(StudySession.id).where(
                StudySession.id == session_id, StudySession.state.in_(s.ACTIVE_STATES)
            )
        )
        if alive is None:
            return False
        _expire(db, [session_id])
    return True


def give_back_slot(db: Session, session_id: int) -> None:
    """The session's filled slot returns to the pool (discarded, or nothing to keep)."""
    db.execute(
        update(Slot)
        .where(Slot.session_id == session_id, Slot.status == s.SLOT_FILLED)
        .values(status=s.SLOT_OPEN, session_id=None)
    )


def reclaim_slot(db: Session, session_id: int, slot_id: int | None) -> bool:
    """Fill the session's own slot again if nobody took it meanwhile."""
    if slot_id is None:
        return False
    return bool(
        rows_matched(
            db,
            update(Slot)
            .where(Slot.id == slot_id, Slot.status == s.SLOT_OPEN)
            .values(status=s.SLOT_FILLED, session_id=session_id),
        )
    )

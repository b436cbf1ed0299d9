"""What the admin pages read and change: progress, paged session lists, keep/discard."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from usi.study import schema as s
from usi.study.db import writing
from usi.study.schema import Slot, StudySession
from usi.study.service.slots import give_back_slot, reclaim_slot
from usi.study.service.survey import agent_replies

SESSIONS_PER_PAGE = 100


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
    factory: sessionmaker[Session],
    *,
    state: str | None = None,
    limit: int = SESSIONS_PER_PAGE,
    before: int | None = None,
) -> list[StudySession]:
    """Newest first; ``before`` (a session id) pages back through the rest."""
    with factory() as db:
        query = select(StudySession).order_by(StudySession.id.desc()).limit(limit)
        if state:
            query = query.where(StudySession.state == state)
        if before is not None:
            query = query.where(StudySession.id < before)
        return list(db.scalars(query))


def set_keep(factory: sessionmaker[Session], session_id: int, keep: bool | None) -> None:
    """Record the admin's decision; a discarded session gives its slot back to the pool.

    Un-discarding fills the slot again only if nobody took it meanwhile.
    """
    with writing(factory) as db:
        session = db.get(StudySession, session_id)
        if session is None:
            return
        session.keep = keep
        if session.state != s.DONE:
            return
        if keep is False:
            give_back_slot(db, session_id)
        elif agent_replies(db, session_id):
            reclaim_slot(db, session_id, session.slot_id)


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

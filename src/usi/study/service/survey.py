"""The survey after Stop: validation, and storing it while the session's slot is held.

A session that reached the survey holds its slot for the survey timeout. A survey that
arrives later is still stored if the slot is open again (nobody took it); otherwise the
participant is told plainly that the session expired (:class:`SessionExpired`).
A session in which the agent never answered finishes but gives its slot back: the
design cell still needs a real conversation.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from usi.core.survey import FREE_TEXT_IDS, SURVEY_ITEMS, validate_answer
from usi.study import schema as s
from usi.study.db import writing
from usi.study.schema import Slot, StoredMessage, StudySession
from usi.study.security import MAX_FREE_TEXT_CHARS, completion_code
from usi.study.service.common import Conflict, SessionExpired, rows_matched, utcnow
from usi.study.service.slots import give_back_slot, reclaim_slot


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


def agent_replies(db: Session, session_id: int) -> int:
    """Visible agent messages after the greeting (seq 1)."""
    return int(
        db.scalar(
            select(func.count())
            .select_from(StoredMessage)
            .where(
                StoredMessage.session_id == session_id,
                StoredMessage.role == "assistant",
                StoredMessage.visible.is_(True),
                StoredMessage.seq > 1,
            )
        )
        or 0
    )


def submit_survey(
    factory: sessionmaker[Session],
    session_id: int,
    answers: dict[str, str],
    fixed_code: str | None,
) -> str:
    """Store the survey and finish the session.

    A second submission raises :class:`Conflict`; one after the hold whose slot was taken
    raises :class:`SessionExpired`.
    """
    code = fixed_code or completion_code()
    now = utcnow()
    finished = {
        "state": s.DONE,
        "survey": answers,
        "completed_at": now,
        "last_active_at": now,
        "completion_code": code,
    }
    with writing(factory) as db:
        session = db.get(StudySession, session_id)
        if session is None:
            raise Conflict("no such session")
        if session.state == s.EXPIRED and session.stopped_at is not None:
            if not reclaim_slot(db, session_id, session.slot_id):
                raise SessionExpired("the survey came after the session expired")
            rows_matched(
                db,
                update(StudySession)
                .where(StudySession.id == session_id, StudySession.state == s.EXPIRED)
                .values(**finished),
            )
        else:
            moved = rows_matched(
                db,
                update(StudySession)
                .where(StudySession.id == session_id, StudySession.state == s.SURVEY)
                .values(**finished),
            )
            if not moved:
                raise Conflict("the survey was already submitted")
            db.execute(
                update(Slot)
                .where(Slot.session_id == session_id, Slot.status == s.SLOT_ASSIGNED)
                .values(status=s.SLOT_FILLED)
            )
        if agent_replies(db, session_id) == 0:
            give_back_slot(db, session_id)
    return code

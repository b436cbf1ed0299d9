"""What every part of the study's service layer shares: the clock, outcomes, time limits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult
from sqlalchemy.orm import Session

DEFAULT_SESSION_TIMEOUT = timedelta(minutes=60)
DEFAULT_SURVEY_TIMEOUT = timedelta(minutes=30)
DEFAULT_AGENT_TIMEOUT = timedelta(seconds=120)


def rows_matched(db: Session, statement: Any) -> int:
    """Rows matched by an UPDATE: the outcome of a conditional state transition."""
    return int(cast("CursorResult[Any]", db.execute(statement)).rowcount)


def utcnow() -> datetime:
    """Naive UTC (what SQLite's DateTime stores)."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Timeouts:
    """How long the server waits for a participant, a survey and the agent.

    Passed to every transition that may release a slot, so no module holds a global.
    """

    session: timedelta = DEFAULT_SESSION_TIMEOUT
    survey: timedelta = DEFAULT_SURVEY_TIMEOUT
    agent: timedelta = DEFAULT_AGENT_TIMEOUT


class Conflict(Exception):
    """The request does not fit the session's current state (double submit, agent busy)."""


class NothingToStop(Conflict):
    """Stop before the participant wrote anything: there is no conversation to survey."""


class SessionExpired(Conflict):
    """The survey came after the hold and the session's slot went to someone else."""


class AlreadyLive(Conflict):
    """The participant id already has a live session (the database's unique index said so)."""


class StudyFull(Exception):
    """No open slot this participant may take."""

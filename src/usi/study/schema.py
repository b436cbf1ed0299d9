"""Tables of the study database.

The whole state of a study is in its tables: the (task, batch) *slots* to fill, the
*sessions* of participants, the *messages* of every session (the full τ² trajectory,
tool calls included), the *agent errors* of every failed turn, and nothing else — so a
killed server restarts from the database alone. Secrets (participant tokens) are stored
as SHA-256 digests only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """Declarative base of the study schema (Alembic autogenerates against its metadata)."""


# Session states, in flow order. ``expired`` sessions were abandoned past the timeout and
# gave their slot back to the pool.
CONSENT = "consent"
TASK = "task"
CHAT = "chat"
SURVEY = "survey"
DONE = "done"
EXPIRED = "expired"
DECLINED = "declined"
ACTIVE_STATES: tuple[str, ...] = (CONSENT, TASK, CHAT, SURVEY)
# The same, as the condition of the partial unique index on a participant's live session.
LIVE_SESSION = text("state IN ('consent', 'task', 'chat', 'survey')")

# Slot states.
SLOT_OPEN = "open"
SLOT_ASSIGNED = "assigned"
SLOT_FILLED = "filled"

# Agent states of a session: who is expected to speak next.
AGENT_IDLE = "idle"  # the participant's turn
AGENT_PENDING = "pending"  # a participant message awaits the agent's answer
AGENT_ERROR = "error"  # the last attempt failed; the participant may retry


class Slot(Base):
    """One (domain, task, batch) cell of the design; filled by exactly one finished session."""

    __tablename__ = "slots"
    __table_args__ = (
        UniqueConstraint("domain", "task_id", "batch", name="uq_slot"),
        Index("ix_slots_pick", "active", "status", "batch"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    domain: Mapped[str] = mapped_column(String(32))
    task_id: Mapped[str] = mapped_column(String(64))
    batch: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default=SLOT_OPEN)
    session_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class StudySession(Base):
    """One participant's visit: entry, consent, chat, survey, completion."""

    __tablename__ = "sessions"
    __table_args__ = (
        Index("ix_sessions_pid", "prolific_pid"),
        Index("ix_sessions_state_active", "state", "last_active_at"),
        Index("ix_sessions_agent", "agent_status"),
        # One live session per participant id, enforced by the database: simultaneous
        # cookie-less entries with one id all passed a check-then-create (issue 18).
        Index(
            "uq_sessions_live_pid",
            "prolific_pid",
            unique=True,
            sqlite_where=LIVE_SESSION,
            postgresql_where=LIVE_SESSION,
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    prolific_pid: Mapped[str] = mapped_column(String(128))
    study_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    recruiter_session_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    state: Mapped[str] = mapped_column(String(16), default=CONSENT)
    slot_id: Mapped[int | None] = mapped_column(ForeignKey("slots.id"), nullable=True)
    domain: Mapped[str | None] = mapped_column(String(32), nullable=True)
    task_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    batch: Mapped[int | None] = mapped_column(Integer, nullable=True)
    agent_model: Mapped[str] = mapped_column(String(256))
    agent_status: Mapped[str] = mapped_column(String(16), default=AGENT_IDLE)
    agent_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    last_active_at: Mapped[datetime] = mapped_column(DateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    completion_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    survey: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    reward: Mapped[float | None] = mapped_column(Float, nullable=True)
    reward_info: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    quality_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    quality_reasoning: Mapped[str | None] = mapped_column(Text, nullable=True)
    quality_model: Mapped[str | None] = mapped_column(String(256), nullable=True)
    keep: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    # When the agent's current turn began (the deadline counts from here).
    agent_since: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # Digest of the resume code shown to the participant (lost-cookie recovery).
    resume_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)


class AgentErrorRow(Base):
    """One failed agent turn (LLM error, deadline, cancelled by Stop): kept for the export."""

    __tablename__ = "agent_errors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id"), index=True)
    after_seq: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(16))
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)


class StoredMessage(Base):
    """One τ² message of a session; ``visible`` marks what the participant may see."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("session_id", "seq", name="uq_message_seq"),
        UniqueConstraint("session_id", "client_id", name="uq_message_client"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text, default="")
    tool_calls: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    tool_call_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    tool_error: Mapped[bool] = mapped_column(Boolean, default=False)
    visible: Mapped[bool] = mapped_column(Boolean, default=True)
    client_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)

"""The study's state transitions, each one short database transaction.

Web handlers and the agent worker call only these functions. Every transition is a
conditional ``UPDATE ... WHERE state = <expected>`` whose row count decides the outcome,
so two racing requests (a double click, two browser tabs, a retry after a timeout) can
never both win — on SQLite and PostgreSQL alike, with no table locks.

The parts: :mod:`.slots` (the design's cells), :mod:`.chat` (a session from entry to Stop,
and the agent's turns), :mod:`.survey`, :mod:`.admin`; this package re-exports them so
callers write ``service.post_message``.
"""

from __future__ import annotations

from usi.study.service.admin import (
    SESSIONS_PER_PAGE,
    effective_keep,
    finished_sessions,
    list_sessions,
    progress,
    progress_totals,
    record_quality,
    record_reward,
    set_keep,
)
from usi.study.service.chat import (
    NewSession,
    PostResult,
    active_session_of,
    adopt_agent_model,
    agent_errors_of,
    chats_with_other_models,
    create_session,
    decline_consent,
    end_session,
    expire_agent_turns,
    find_session,
    get_session,
    messages_of,
    pending_sessions,
    post_message,
    record_agent_error,
    record_agent_reply,
    resume_with_code,
    retry_agent,
    start_chat,
    stopped_session_of_form,
    stored_client_id,
    touch,
)
from usi.study.service.common import (
    AlreadyLive,
    Conflict,
    NothingToStop,
    SessionExpired,
    StudyFull,
    Timeouts,
    utcnow,
)
from usi.study.service.slots import accept_consent, release_expired, release_session, seed_slots
from usi.study.service.survey import submit_survey, validate_survey

__all__ = [
    "SESSIONS_PER_PAGE",
    "AlreadyLive",
    "Conflict",
    "NewSession",
    "NothingToStop",
    "PostResult",
    "SessionExpired",
    "StudyFull",
    "Timeouts",
    "accept_consent",
    "active_session_of",
    "adopt_agent_model",
    "agent_errors_of",
    "chats_with_other_models",
    "create_session",
    "decline_consent",
    "effective_keep",
    "end_session",
    "expire_agent_turns",
    "find_session",
    "finished_sessions",
    "get_session",
    "list_sessions",
    "messages_of",
    "pending_sessions",
    "post_message",
    "progress",
    "progress_totals",
    "record_agent_error",
    "record_agent_reply",
    "record_quality",
    "record_reward",
    "release_expired",
    "release_session",
    "resume_with_code",
    "retry_agent",
    "seed_slots",
    "set_keep",
    "start_chat",
    "stopped_session_of_form",
    "stored_client_id",
    "submit_survey",
    "touch",
    "utcnow",
    "validate_survey",
]

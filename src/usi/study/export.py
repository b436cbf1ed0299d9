"""``usi study export``: finished sessions → canonical human episodes.

Each finished session becomes one :class:`usi.data.Episode` with source ``"human"``, its
batch, the τ² task id, the reward from τ²'s evaluator (computed now and stored if the
server had not yet), the survey answers, and quality control in ``metadata``. The
recruiter's participant id is replaced by a one-way digest unless asked for.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from sqlalchemy import inspect

from usi.data.episode import HUMAN_SOURCE, Episode
from usi.data.io import write_episodes
from usi.errors import UsiInputError
from usi.study import service
from usi.study.db import make_engine, migrate, session_factory
from usi.study.judge import DEFAULT_KEEP_THRESHOLD
from usi.study.reward import evaluate_reward
from usi.study.schema import StudySession
from usi.study.transcript import to_canonical, to_tau


def participant_digest(pid: str) -> str:
    """A stable pseudonym for the recruiter's participant id."""
    return hashlib.sha256(f"usi-study:{pid}".encode()).hexdigest()[:16]


def session_episode(
    session: StudySession,
    messages: list[Any],
    *,
    threshold: float,
    include_recruiter_ids: bool = False,
) -> Episode:
    """The canonical episode of one finished session."""
    keep = service.effective_keep(session, threshold)
    metadata: dict[str, Any] = {
        "study_session": session.id,
        "participant": participant_digest(session.prolific_pid),
        "agent_model": session.agent_model,
        "quality_score": session.quality_score,
        "quality_passed": None
        if session.quality_score is None
        else session.quality_score >= threshold,
        "quality_reasoning": session.quality_reasoning,
        "quality_model": session.quality_model,
        "keep_threshold": threshold,
        "keep": keep,
        "keep_source": "manual" if session.keep is not None else "judge",
        "started_at": session.created_at.isoformat(),
        "completed_at": session.completed_at.isoformat() if session.completed_at else None,
        "reward_info": session.reward_info,
    }
    if include_recruiter_ids:
        metadata.update(
            prolific_pid=session.prolific_pid,
            study_id=session.study_id,
            recruiter_session_id=session.recruiter_session_id,
        )
    return Episode(
        episode_id=f"study-{session.id}",
        source=HUMAN_SOURCE,
        batch=session.batch,
        domain=str(session.domain),
        task_id=session.task_id,
        messages=to_canonical(messages),
        reward=session.reward,
        survey=dict(session.survey or {}) or None,
        metadata=metadata,
    )


def export_study(
    db_url: str,
    output: str | Path,
    *,
    kept_only: bool = False,
    threshold: float = DEFAULT_KEEP_THRESHOLD,
    include_recruiter_ids: bool = False,
) -> int:
    """Write every finished session of the study at ``db_url`` to ``output``; return how many."""
    engine = make_engine(db_url)
    try:
        if "sessions" not in inspect(engine).get_table_names():
            raise UsiInputError("not a study database (no sessions table)", where=db_url)
        migrate(engine)
        factory = session_factory(engine)
        episodes: list[Episode] = []
        for session in service.finished_sessions(factory):
            rows = service.messages_of(factory, session.id, visible_only=False)
            if session.reward is None and session.domain and session.task_id:
                reward, info = evaluate_reward(session.domain, session.task_id, to_tau(rows))
                service.record_reward(factory, session.id, reward, info)
                session.reward, session.reward_info = reward, info
            if kept_only and service.effective_keep(session, threshold) is not True:
                continue
            episodes.append(
                session_episode(
                    session, rows, threshold=threshold, include_recruiter_ids=include_recruiter_ids
                )
            )
        return write_episodes(output, episodes)
    finally:
        engine.dispose()

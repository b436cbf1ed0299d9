"""``usi study export``: finished sessions → canonical human episodes.

Each finished session becomes one :class:`usi.data.Episode` with source ``"human"``, its
batch, the τ² task id, the reward from τ²'s evaluator (computed now and stored if the
server had not yet), the survey answers, and quality control in ``metadata``. The
recruiter's participant id is replaced by a one-way digest unless asked for.

An export must not look more complete than the study was: every failed agent turn is in
``metadata.agent_errors``, the counts of agent replies and participant messages are in
``metadata``, and ``metadata.incomplete`` names what is missing (``no_agent_reply``,
``no_participant_message``). ``--kept-only`` leaves incomplete and discarded sessions
out, and :class:`ExportReport` says why each left-out session was left out.

A session in which the agent never answered (its provider was down, or the participant
stopped before the first reply) holds no behaviour towards an agent: it is exported with
``metadata.error`` saying so and no reward, the mark every reader of usi takes for "the
run failed, not the person" — ``usi score`` leaves it out with a warning instead of
counting a person who could not succeed as a human failure.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import inspect

from usi.core.episode import HUMAN_SOURCE, Episode
from usi.data.io import write_episodes
from usi.errors import UsiInputError
from usi.llm.quality import DEFAULT_KEEP_THRESHOLD
from usi.study import service
from usi.study.db import make_engine, migrate, session_factory
from usi.study.reward import evaluate_reward
from usi.study.schema import AgentErrorRow, StoredMessage, StudySession
from usi.study.transcript import is_stop_command, to_canonical, to_tau

NO_AGENT_REPLY = "no_agent_reply"
NO_PARTICIPANT_MESSAGE = "no_participant_message"
# Why --kept-only left a session out.
LEFT_OUT_INCOMPLETE = "incomplete (no agent reply or no participant message)"
LEFT_OUT_DISCARDED = "discarded (by the admin, or the judge's score under the threshold)"
LEFT_OUT_UNJUDGED = "not judged and not kept by hand"


def participant_digest(pid: str) -> str:
    """A stable pseudonym for the recruiter's participant id."""
    return hashlib.sha256(f"usi-study:{pid}".encode()).hexdigest()[:16]


def conversation_counts(messages: list[StoredMessage]) -> tuple[int, int]:
    """(agent replies after the greeting, participant messages other than Stop)."""
    replies = sum(1 for m in messages if m.role == "assistant" and m.visible and m.seq > 1)
    said = sum(1 for m in messages if m.role == "user" and not is_stop_command(m.content))
    return replies, said


def incomplete_reasons(messages: list[StoredMessage]) -> list[str]:
    replies, said = conversation_counts(messages)
    reasons = []
    if said == 0:
        reasons.append(NO_PARTICIPANT_MESSAGE)
    if replies == 0:
        reasons.append(NO_AGENT_REPLY)
    return reasons


def outage_error(messages: list[StoredMessage], agent_errors: list[AgentErrorRow]) -> str | None:
    """``metadata.error`` of a session the agent never answered, None if it answered."""
    if NO_AGENT_REPLY not in incomplete_reasons(messages):
        return None
    failed = [e for e in agent_errors if e.kind != "cancelled"]
    if not failed:
        return "the agent never answered (the participant stopped before its first reply)"
    first = failed[0]
    return (
        f"the agent never answered: {len(failed)} failed turn(s), first: "
        f"{first.kind}: {first.error}"
    )


def session_episode(
    session: StudySession,
    messages: list[Any],
    *,
    threshold: float,
    include_recruiter_ids: bool = False,
    agent_errors: list[AgentErrorRow] | None = None,
) -> Episode:
    """The canonical episode of one finished session."""
    keep = service.effective_keep(session, threshold)
    replies, said = conversation_counts(messages)
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
        "agent_replies": replies,
        "participant_messages": said,
        "agent_errors": [
            {
                "at": e.created_at.isoformat(),
                "after_seq": e.after_seq,
                "kind": e.kind,
                "error": e.error,
            }
            for e in agent_errors or []
        ],
        "incomplete": incomplete_reasons(messages),
    }
    error = outage_error(messages, agent_errors or [])
    if error is not None:
        metadata["error"] = error
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
        reward=None if error is not None else session.reward,
        survey=dict(session.survey or {}) or None,
        metadata=metadata,
    )


@dataclass
class ExportReport:
    """What an export wrote, and why it left out what it left out."""

    finished: int = 0
    written: int = 0
    incomplete: int = 0  # written or not, sessions flagged incomplete
    outages: int = 0  # written with metadata.error: the agent never answered
    left_out: Counter[str] = field(default_factory=Counter)
    judged: int = 0

    def lines(self, output: str | Path, kept_only: bool) -> list[str]:
        """Human-readable lines for the CLI."""
        out = [f"wrote {self.written} of {self.finished} finished sessions to {output}"]
        if self.incomplete:
            out.append(
                f"{self.incomplete} finished sessions are incomplete (metadata.incomplete: "
                "no agent reply or no participant message)"
            )
        if self.outages:
            out.append(
                f"{self.outages} written sessions had no agent reply: exported with "
                "metadata.error, so usi score leaves them out (they are not behaviour)"
            )
        for reason, count in sorted(self.left_out.items()):
            out.append(f"left out {count}: {reason}")
        if kept_only and self.left_out.get(LEFT_OUT_UNJUDGED):
            out.append(
                "hint: --kept-only writes sessions kept by QC; judge them (usi study serve "
                "--judge-model …, then 'Judge all' in the admin) or mark them Keep in the admin"
            )
        return out


def export_study(
    db_url: str,
    output: str | Path,
    *,
    kept_only: bool = False,
    threshold: float = DEFAULT_KEEP_THRESHOLD,
    include_recruiter_ids: bool = False,
) -> ExportReport:
    """Write every finished session of the study at ``db_url`` to ``output``."""
    engine = make_engine(db_url)
    report = ExportReport()
    try:
        if "sessions" not in inspect(engine).get_table_names():
            raise UsiInputError("not a study database (no sessions table)", where=db_url)
        migrate(engine)
        factory = session_factory(engine)
        episodes: list[Episode] = []
        for session in service.finished_sessions(factory):
            report.finished += 1
            rows = service.messages_of(factory, session.id, visible_only=False)
            if session.reward is None and session.domain and session.task_id:
                reward, info = evaluate_reward(session.domain, session.task_id, to_tau(rows))
                service.record_reward(factory, session.id, reward, info)
                session.reward, session.reward_info = reward, info
            incomplete = bool(incomplete_reasons(rows))
            report.incomplete += incomplete
            report.judged += session.quality_score is not None
            if kept_only:
                keep = service.effective_keep(session, threshold)
                reason = (
                    LEFT_OUT_INCOMPLETE
                    if incomplete
                    else LEFT_OUT_DISCARDED
                    if keep is False
                    else LEFT_OUT_UNJUDGED
                    if keep is None
                    else None
                )
                if reason is not None:
                    report.left_out[reason] += 1
                    continue
            episode = session_episode(
                session,
                rows,
                threshold=threshold,
                include_recruiter_ids=include_recruiter_ids,
                agent_errors=service.agent_errors_of(factory, session.id),
            )
            report.outages += episode.infrastructure_error is not None
            episodes.append(episode)
        report.written = write_episodes(output, episodes)
        return report
    finally:
        engine.dispose()

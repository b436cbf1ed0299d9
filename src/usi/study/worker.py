"""Background work of the study server: agent replies, rewards and quality judgements.

The participant's POST only commits their message and returns; the agent's reply is
computed here, in a bounded thread pool, with no database transaction open while the LLM
thinks. At start-up every session left ``pending`` by a killed server is resubmitted, so
no participant message goes unanswered.

Every turn has a deadline (``--agent-timeout``, counted from when the participant's
message was committed): the agent call runs in its own thread and the pool thread waits
for it only that long, so an endpoint that never answers turns into an agent error the
participant can retry, and never occupies the pool for good.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from usi.llm.quality import judge_quality
from usi.study import service
from usi.study.agent import DEFAULT_TURN_TIMEOUT_S, AgentFailure, StudyAgent
from usi.study.reward import evaluate_reward
from usi.study.transcript import row_fields, to_tau
from usi.tau.cards import task_card

log = logging.getLogger("usi.study")

AGENT_WORKERS = 4


class TurnTimeout(Exception):
    """The agent did not answer before the turn's deadline."""


def call_with_deadline(call: Callable[[], Any], timeout_s: float) -> Any:
    """``call()`` in a daemon thread; its result, or :class:`TurnTimeout` after ``timeout_s``.

    A call still running at the deadline is abandoned (its result is dropped); the agent
    bounds its own LLM calls by the same budget, so such a thread ends soon after.
    """
    done = threading.Event()
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # handed to the waiting thread
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, daemon=True, name="usi-agent-call").start()
    if not done.wait(max(0.0, timeout_s)):
        raise TurnTimeout(f"the agent did not answer within {timeout_s:g} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


# The worker's only writes: what a shard process sends to the web process to commit.
WRITES = ("record_agent_reply", "record_agent_error", "record_reward", "record_quality")

Writer = Callable[..., Any]
"""``writer(name, session_id, *args)``: commit one of :data:`WRITES` and return its result."""


def direct_writer(factory: sessionmaker[Session]) -> Writer:
    """Writes committed by this process itself (the web process, or an admin command)."""

    def write(name: str, *args: Any) -> Any:
        if name not in WRITES:
            raise ValueError(f"not a worker write: {name}")
        return getattr(service, name)(factory, *args)

    return write


@dataclass
class StudyWorker:
    """Runs agent turns (one at a time per session) and after-survey jobs.

    Every database write goes through ``writer``: committed here by default, handed to the
    web process when this worker runs in an agent shard (see :mod:`usi.study.shards`).
    """

    factory: sessionmaker[Session]
    agent: StudyAgent
    judge_model: str | None = None
    judge_base_url: str | None = None
    workers: int = AGENT_WORKERS
    writer: Writer | None = None
    agent_timeout_s: float = DEFAULT_TURN_TIMEOUT_S
    _pool: ThreadPoolExecutor = field(init=False)
    _running: set[int] = field(default_factory=set)
    _again: set[int] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="usi-agent")
        if self.writer is None:
            self.writer = direct_writer(self.factory)

    def _write(self, name: str, *args: Any) -> Any:
        assert self.writer is not None
        return self.writer(name, *args)

    def shutdown(self, wait: bool = False) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=not wait)

    def resume_pending(self) -> int:
        """Resubmit every session whose participant still waits for the agent."""
        pending = service.pending_sessions(self.factory)
        for session_id in pending:
            self.submit_turn(session_id)
        return len(pending)

    def submit_turn(self, session_id: int) -> Future[None] | None:
        """Schedule the agent's answer to the session's last message (deduplicated)."""
        with self._lock:
            if session_id in self._running:
                # A turn of this session is finishing: run once more after it, so a message
                # posted in that instant is never left unanswered.
                self._again.add(session_id)
                return None
            self._running.add(session_id)
        return self._pool.submit(self._turn, session_id)

    def _turn(self, session_id: int) -> None:
        while True:
            try:
                self.run_turn(session_id)
            except Exception:  # never let a worker thread die silently
                log.exception("agent turn of session %s failed", session_id)
            with self._lock:
                if session_id in self._again:
                    self._again.discard(session_id)
                    continue
                self._running.discard(session_id)
                return

    def run_turn(self, session_id: int) -> None:
        """Compute and store one agent reply (synchronously; the pool calls this)."""
        session = service.get_session(self.factory, session_id)
        if session is None or session.agent_status != "pending" or not session.task_id:
            return
        rows = service.messages_of(self.factory, session_id, visible_only=False)
        if not rows or rows[-1].role != "user":
            self._write("record_agent_error", session_id, "no participant message to answer")
            return
        since = session.agent_since or session.last_active_at
        left = self.agent_timeout_s - (service.utcnow() - since).total_seconds()
        history = to_tau(rows)
        domain, task_id = str(session.domain), session.task_id

        def respond() -> Sequence[Any]:
            return self.agent.respond(session_id, domain, task_id, history)

        try:
            produced = call_with_deadline(respond, left)
        except TurnTimeout as exc:
            message = f"the agent did not answer within {self.agent_timeout_s:g} s"
            log.warning("agent timeout in session %s: %s", session_id, exc)
            self._write("record_agent_error", session_id, message, "timeout")
            return
        except AgentFailure as exc:
            log.warning("agent error in session %s: %s", session_id, exc)
            self._write("record_agent_error", session_id, str(exc))
            return
        except Exception as exc:
            log.exception("unexpected agent error in session %s", session_id)
            self._write("record_agent_error", session_id, f"{type(exc).__name__}: {exc}")
            return
        self._write(
            "record_agent_reply", session_id, rows[-1].seq, [row_fields(m) for m in produced]
        )

    # --- after the survey -------------------------------------------------------------

    def submit_reward(self, session_id: int) -> Future[None]:
        return self._pool.submit(self._guarded, self.compute_reward, session_id)

    def submit_judge(self, session_id: int) -> Future[None]:
        return self._pool.submit(self._guarded, self.compute_quality, session_id)

    def _guarded(self, job: object, session_id: int) -> None:
        try:
            job(session_id)  # type: ignore[operator]
        except Exception:
            log.exception("background job for session %s failed", session_id)

    def compute_reward(self, session_id: int) -> float | None:
        """τ² evaluator's reward of a finished session, stored on the session."""
        session = service.get_session(self.factory, session_id)
        if session is None or not session.task_id or not session.domain:
            return None
        rows = service.messages_of(self.factory, session_id, visible_only=False)
        reward, info = evaluate_reward(session.domain, session.task_id, to_tau(rows))
        self._write("record_reward", session_id, reward, info)
        return reward

    def compute_quality(self, session_id: int) -> float | None:
        """The judge's adherence score of a finished session, stored on the session."""
        if not self.judge_model:
            return None
        session = service.get_session(self.factory, session_id)
        if session is None or not session.task_id or not session.domain:
            return None
        rows = service.messages_of(self.factory, session_id, visible_only=True)
        turns = [(r.role, r.content) for r in rows]
        card = task_card(session.domain, session.task_id).as_text()
        verdict = judge_quality(card, turns, self.judge_model, base_url=self.judge_base_url)
        self._write(
            "record_quality", session_id, verdict.score, verdict.reasoning, self.judge_model
        )
        return verdict.score

"""Agent work in separate processes, so the web process never waits on the GIL.

An agent turn is CPU work in Python (litellm's request building, τ²'s environment, the
evaluator); run in the web process it competes with every page view for the interpreter
lock. Each shard is a spawned process running an ordinary :class:`StudyWorker` (a thread
pool, so slow remote LLM calls still overlap); a session always goes to the same shard
(``session_id % shards``) so its live τ² environment stays cached there. The database is
the only channel back. A shard whose parent dies (``kill -9``) exits by itself.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import queue
import threading
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from typing import Any

log = logging.getLogger("usi.study")

JOBS = ("turn", "reward", "judge")
PARENT_CHECK_S = 1.0
# Agent work is background work: the participant is told the agent is typing, while every
# page view is on the critical path. Shards run at lower CPU priority than the web process.
SHARD_NICENESS = 10


@dataclass(frozen=True)
class ShardSettings:
    """What a shard needs to build its worker (picklable)."""

    db_url: str
    agent_model: str
    agent_base_url: str | None
    judge_model: str | None
    judge_base_url: str | None
    threads: int


def _watch_parent(parent: int) -> None:
    stop = threading.Event()
    while not stop.wait(PARENT_CHECK_S):
        if os.getppid() != parent:
            os._exit(0)


def _shard_main(jobs: Any, settings: ShardSettings, parent: int) -> None:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    if hasattr(os, "nice"):
        os.nice(SHARD_NICENESS)
    from usi.study.agent import TauStudyAgent
    from usi.study.db import make_engine, session_factory
    from usi.study.worker import StudyWorker

    engine = make_engine(settings.db_url)
    worker = StudyWorker(
        session_factory(engine),
        TauStudyAgent(settings.agent_model, base_url=settings.agent_base_url),
        judge_model=settings.judge_model,
        judge_base_url=settings.judge_base_url,
        workers=settings.threads,
    )
    while True:
        item = jobs.get()
        if item is None:
            break
        job, session_id = item
        if job == "turn":
            worker.submit_turn(session_id)
        elif job == "reward":
            worker.submit_reward(session_id)
        elif job == "judge":
            worker.submit_judge(session_id)
    worker.shutdown(wait=True)
    engine.dispose()


class ShardedWorker:
    """The web process's handle on the shard processes (same interface as StudyWorker)."""

    def __init__(self, settings: ShardSettings, shards: int, factory: Any) -> None:
        self.factory = factory
        context = multiprocessing.get_context("spawn")
        self._queues: list[Any] = []
        self._processes: list[BaseProcess] = []
        for index in range(max(1, shards)):
            jobs = context.Queue()
            process = context.Process(
                target=_shard_main,
                args=(jobs, settings, os.getpid()),
                name=f"usi-study-shard-{index}",
                daemon=True,
            )
            process.start()
            self._queues.append(jobs)
            self._processes.append(process)

    def _put(self, job: str, session_id: int) -> None:
        self._queues[session_id % len(self._queues)].put((job, session_id))

    def submit_turn(self, session_id: int) -> None:
        self._put("turn", session_id)

    def submit_reward(self, session_id: int) -> None:
        self._put("reward", session_id)

    def submit_judge(self, session_id: int) -> None:
        self._put("judge", session_id)

    def resume_pending(self) -> int:
        from usi.study import service

        pending = service.pending_sessions(self.factory)
        for session_id in pending:
            self.submit_turn(session_id)
        return len(pending)

    def shutdown(self, wait: bool = True) -> None:
        for jobs in self._queues:
            with contextlib.suppress(queue.Full, ValueError, OSError):
                jobs.put_nowait(None)
        for process in self._processes:
            process.join(timeout=5 if wait else 0.1)
            if process.is_alive():
                process.terminate()

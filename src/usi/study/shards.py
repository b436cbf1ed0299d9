"""Agent work in separate processes, so the web process never waits on the GIL.

An agent turn is CPU work in Python (litellm's request building, τ²'s environment, the
evaluator); run in the web process it competes with every page view for the interpreter
lock. Each shard is a spawned process running an ordinary :class:`StudyWorker` (a thread
pool, so slow remote LLM calls still overlap); a session always goes to the same shard
(``session_id % shards``) so its live τ² environment stays cached there. A shard whose
parent dies (``kill -9``) exits by itself.

Shards read the database but never write it: each write (an agent reply, an error, a
reward, a judgement) goes back over a queue and the web process commits it behind its own
write gate, then acknowledges. A shard is niced and its threads fight over one GIL, so a
write transaction opened there could hold SQLite's single write lock for a second while
the shard was descheduled, and every participant's POST waited for it in SQLite's busy
back-off. Committed in the web process, the lock is held for a millisecond and only ever
by one process; the shard still waits for the commit, so a turn is finished only once its
reply is stored.

A shard that dies (the OOM killer, a ``kill -9``) is started again by a watcher thread of
the web process within :data:`WATCH_INTERVAL_S`, with a log line, and the turns its
sessions were waiting for are handed to the new one; otherwise every later turn of its
sessions failed at the deadline while the server went on admitting people.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from typing import Any

from usi.study.worker import Writer, direct_writer

log = logging.getLogger("usi.study")

JOBS = ("turn", "reward", "judge")
WRITE_WAIT_S = 60.0
PARENT_CHECK_S = 1.0
# Agent work is background work: the participant is told the agent is typing, while every
# page view is on the critical path. Shards run at lower CPU priority than the web process.
SHARD_NICENESS = 10
WATCH_INTERVAL_S = 1.0


@dataclass(frozen=True)
class ShardSettings:
    """What a shard needs to build its worker (picklable)."""

    db_url: str
    agent_model: str
    agent_base_url: str | None
    judge_model: str | None
    judge_base_url: str | None
    threads: int
    agent_timeout_s: float


def _watch_parent(parent: int) -> None:
    stop = threading.Event()
    while not stop.wait(PARENT_CHECK_S):
        if os.getppid() != parent:
            os._exit(0)


class RemoteWriter:
    """A shard's writer: asks the web process to commit, and waits for its answer."""

    def __init__(self, shard: int, writes: Any, answers: Any) -> None:
        self._shard = shard
        self._writes = writes
        self._answers = answers
        self._lock = threading.Lock()
        self._next = 0
        self._waiting: dict[int, tuple[threading.Event, list[Any]]] = {}
        threading.Thread(target=self._collect, daemon=True, name="usi-write-answers").start()

    def _collect(self) -> None:
        while True:
            request, ok, value = self._answers.get()
            with self._lock:
                waiter = self._waiting.pop(request, None)
            if waiter is not None:  # None: the caller gave up waiting
                waiter[1].extend((ok, value))
                waiter[0].set()

    def __call__(self, name: str, *args: Any) -> Any:
        event, box = threading.Event(), list[Any]()
        with self._lock:
            self._next += 1
            request = self._next
            self._waiting[request] = (event, box)
        self._writes.put((self._shard, request, name, args))
        if not event.wait(WRITE_WAIT_S):
            with self._lock:
                self._waiting.pop(request, None)
            raise TimeoutError(f"the web process did not commit {name} in {WRITE_WAIT_S:.0f} s")
        ok, value = box
        if not ok:
            raise RuntimeError(f"{name} failed in the web process: {value}")
        return value


def _shard_main(
    jobs: Any, writes: Any, answers: Any, index: int, settings: ShardSettings, parent: int
) -> None:
    from usi.tau.env import setup_environment

    setup_environment()  # a spawned shard is an entry point: the CLI's set-up did not run here
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    if hasattr(os, "nice"):
        os.nice(SHARD_NICENESS)
    from usi.study.agent import TauStudyAgent
    from usi.study.db import make_engine, session_factory
    from usi.study.worker import StudyWorker

    engine = make_engine(settings.db_url)
    worker = StudyWorker(
        session_factory(engine),
        TauStudyAgent(
            settings.agent_model,
            base_url=settings.agent_base_url,
            timeout_s=settings.agent_timeout_s,
        ),
        judge_model=settings.judge_model,
        judge_base_url=settings.judge_base_url,
        workers=settings.threads,
        agent_timeout_s=settings.agent_timeout_s,
        writer=RemoteWriter(index, writes, answers),
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


def commit_writes(writes: Any, answers: Sequence[Any], commit: Writer) -> None:
    """The web process's side: commit the shards' writes in order and answer each shard."""
    while True:
        item = writes.get()
        if item is None:
            return
        shard, request, name, args = item
        try:
            answer: tuple[int, bool, Any] = (request, True, commit(name, *args))
        except Exception as exc:
            log.exception("committing %s for a shard failed", name)
            answer = (request, False, f"{type(exc).__name__}: {exc}")
        with contextlib.suppress(ValueError, OSError):
            answers[shard].put(answer)


class ShardedWorker:
    """The web process's handle on the shard processes (same interface as StudyWorker)."""

    def __init__(self, settings: ShardSettings, shards: int, factory: Any) -> None:
        self.factory = factory
        self._settings = settings
        self._context = multiprocessing.get_context("spawn")
        self._queues: list[Any] = []
        self._answers: list[Any] = []
        self._processes: list[BaseProcess] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self.restarts = 0
        self._writes = self._context.Queue()
        self._committer = threading.Thread(
            target=commit_writes,
            args=(self._writes, self._answers, direct_writer(factory)),
            daemon=True,
            name="usi-shard-writes",
        )
        self._committer.start()
        for index in range(max(1, shards)):
            jobs, answers, process = self._spawn(index)
            self._queues.append(jobs)
            self._answers.append(answers)
            self._processes.append(process)
        self._watcher = threading.Thread(target=self._watch, daemon=True, name="usi-shard-watch")
        self._watcher.start()

    def _spawn(self, index: int) -> tuple[Any, Any, BaseProcess]:
        """A new shard process at ``index``, with queues of its own (a killed process may
        have died holding the old queue's lock)."""
        jobs = self._context.Queue()
        answers = self._context.Queue()
        process = self._context.Process(
            target=_shard_main,
            args=(jobs, self._writes, answers, index, self._settings, os.getpid()),
            name=f"usi-study-shard-{index}",
            daemon=True,
        )
        process.start()
        return jobs, answers, process

    def _watch(self) -> None:
        while not self._closing.wait(WATCH_INTERVAL_S):
            for index, process in enumerate(list(self._processes)):
                if process.is_alive() or self._closing.is_set():
                    continue
                try:
                    self._restart(index, process.exitcode)
                except Exception:
                    log.exception("restarting agent shard %d failed", index)

    def _restart(self, index: int, exitcode: int | None) -> None:
        from usi.study import service

        log.warning("agent shard %d died (exit code %s); starting it again", index, exitcode)
        jobs, answers, process = self._spawn(index)
        with self._lock:
            self._queues[index] = jobs
            self._answers[index] = answers
            self._processes[index] = process
            self.restarts += 1
        shards = len(self._queues)
        waiting = [sid for sid in service.pending_sessions(self.factory) if sid % shards == index]
        for session_id in waiting:
            self.submit_turn(session_id)
        if waiting:
            log.warning("handed %d waiting agent turns to the new shard %d", len(waiting), index)

    @property
    def pids(self) -> list[int | None]:
        """The shard processes' ids (what an operator, or a test, may kill)."""
        return [process.pid for process in self._processes]

    def _put(self, job: str, session_id: int) -> None:
        with self._lock:
            jobs = self._queues[session_id % len(self._queues)]
        jobs.put((job, session_id))

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
        self._closing.set()
        for jobs in self._queues:
            with contextlib.suppress(queue.Full, ValueError, OSError):
                jobs.put_nowait(None)
        for process in self._processes:
            process.join(timeout=5 if wait else 0.1)
            if process.is_alive():
                process.terminate()
        # Only now: a shard finishing its last turn still needs its reply committed.
        with contextlib.suppress(ValueError, OSError):
            self._writes.put(None)
        self._committer.join(timeout=5)

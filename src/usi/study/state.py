"""What every handler of the study server shares: config, database, worker, limits.

Kept apart from :mod:`usi.study.app` so the participant and admin routers import it
without importing the app that includes them (no import cycle).
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session, sessionmaker

from usi.errors import UsiInputError
from usi.study import service
from usi.study.agent import StudyAgent, TauStudyAgent
from usi.study.config import StudyConfig
from usi.study.db import make_engine, migrate, session_factory
from usi.study.security import (
    LOGIN_TRIES,
    LOGIN_TRIES_PER_SECOND,
    RESUME_TRIES,
    RESUME_TRIES_PER_HOUR,
    RateLimiter,
    per_minute,
    token_digest,
)
from usi.study.shards import ShardedWorker, ShardSettings
from usi.study.worker import StudyWorker
from usi.tau.cards import load_tasks

log = logging.getLogger("usi.study")

REAP_INTERVAL_S = 20.0
ADMIN_SESSION_S = 12 * 3600.0


class AdminSessions:
    """Signed-in admin browsers: random ids kept server-side, revoked at sign-out.

    The cookie carries only the id, never the admin token; the server keeps the id's
    digest and expiry. A restart signs every admin out.
    """

    def __init__(self, lifetime_s: float = ADMIN_SESSION_S) -> None:
        self._lifetime = lifetime_s
        self._expiry: dict[str, float] = {}
        self._lock = threading.Lock()

    def open(self) -> str:
        session_id = secrets.token_urlsafe(32)
        now = time.monotonic()
        with self._lock:
            self._expiry = {k: v for k, v in self._expiry.items() if v > now}
            self._expiry[token_digest(session_id)] = now + self._lifetime
        return session_id

    def valid(self, session_id: str | None) -> bool:
        if not session_id:
            return False
        with self._lock:
            expiry = self._expiry.get(token_digest(session_id))
        return expiry is not None and expiry > time.monotonic()

    def revoke(self, session_id: str | None) -> None:
        if session_id:
            with self._lock:
                self._expiry.pop(token_digest(session_id), None)


class StudyApp:
    """The state shared by the handlers: config, database, agent worker, limits."""

    def __init__(
        self, config: StudyConfig, agent: StudyAgent | None, templates: Jinja2Templates
    ) -> None:
        self.config = config
        self.timeouts = config.timeouts
        self.pid_regex = config.pid_regex()
        self.engine = make_engine(config.db_url)
        self.factory: sessionmaker[Session] = session_factory(self.engine)
        timeout_s = config.agent_timeout.total_seconds()
        self.agent = agent or TauStudyAgent(
            config.agent_model, base_url=config.agent_base_url, timeout_s=timeout_s
        )
        self.worker: StudyWorker | ShardedWorker
        if agent is None and config.agent_processes > 0:
            settings = ShardSettings(
                db_url=config.db_url,
                agent_model=config.agent_model,
                agent_base_url=config.agent_base_url,
                judge_model=config.judge_model,
                judge_base_url=config.judge_base_url,
                threads=config.agent_workers,
                agent_timeout_s=timeout_s,
            )
            self.worker = ShardedWorker(settings, config.agent_processes, self.factory)
        else:
            self.worker = StudyWorker(
                self.factory,
                self.agent,
                judge_model=config.judge_model,
                judge_base_url=config.judge_base_url,
                workers=config.agent_workers,
                agent_timeout_s=timeout_s,
            )
        self.limiter = RateLimiter()  # accepted chat messages per session
        self.starts_by_address = per_minute(config.starts_per_address)
        self.starts = per_minute(config.starts_per_minute)
        self.resume_tries = RateLimiter(
            burst=RESUME_TRIES, per_second=RESUME_TRIES_PER_HOUR / 3600.0
        )
        self.login_tries = RateLimiter(burst=LOGIN_TRIES, per_second=LOGIN_TRIES_PER_SECOND)
        self.admin_sessions = AdminSessions()
        self.templates = templates
        # The agent's first message, read once at start: τ²'s constant lives in its
        # orchestrator module, whose first import (litellm with it) is seconds of CPU. Read
        # by the first POST /task instead, it held every participant reaching the task
        # page at that moment (p95 3.5 s in a 20-participant load test).
        self.greeting = ""
        self._stop = threading.Event()
        self._reaper: threading.Thread | None = None

    def start(self) -> None:
        """Migrate, seed the design, resume interrupted agent turns, start the reaper.

        Refuses (:class:`UsiInputError`) to answer live chats that another agent model has
        been answering: see :func:`check_agent_model`.
        """
        migrate(self.engine)
        check_agent_model(self.factory, self.config.agent_model)
        adopted = service.adopt_agent_model(self.factory, self.config.agent_model)
        if adopted:
            log.info(
                "%d sessions not yet chatting will talk to %s", adopted, self.config.agent_model
            )
        for domain in self.config.tasks:  # load τ² once, before the first participant
            load_tasks(domain)
        service.seed_slots(self.factory, self.config.tasks, self.config.batches)
        self.greeting = self.agent.greeting()
        resumed = self.worker.resume_pending()
        if resumed:
            log.info("resumed %d agent turns interrupted by the last shutdown", resumed)
        self._reaper = threading.Thread(target=self._reap, daemon=True, name="usi-reaper")
        self._reaper.start()

    def stop(self) -> None:
        self._stop.set()
        self.worker.shutdown()
        self.engine.dispose()

    def reap_once(self) -> None:
        """Expire idle sessions and overdue agent turns; resubmit orphaned turns."""
        service.release_expired(self.factory, self.timeouts.session, self.timeouts.survey)
        service.expire_agent_turns(self.factory, self.timeouts.agent)
        self.worker.resume_pending()  # safety net: no pending turn is ever orphaned

    def _reap(self) -> None:
        shortest = min(
            self.timeouts.session, self.timeouts.survey, self.timeouts.agent
        ).total_seconds()
        interval = max(0.5, min(REAP_INTERVAL_S, shortest / 4))
        while not self._stop.wait(interval):
            try:
                self.reap_once()
            except Exception:
                log.exception("releasing expired sessions failed")

    def render(self, request: Request, name: str, status: int = 200, **context: Any) -> Response:
        return self.templates.TemplateResponse(request, name, context, status_code=status)

    def notice(self, request: Request, title: str, text: str, status: int = 200) -> Response:
        return self.render(request, "notice.html", status, title=title, text=text)


def check_agent_model(factory: sessionmaker[Session], model: str) -> None:
    """Refuse ``model`` while live chats are being answered by another one.

    The operator's choice (README, "Restarting with another agent model"): a transcript
    half answered by one model and half by another is data the study cannot use and paid
    for anyway, so the server does not start; it names the model those chats need.
    """
    others = service.chats_with_other_models(factory, model)
    if others:
        listed = ", ".join(f"{n} with {name}" for name, n in sorted(others.items()))
        raise UsiInputError(
            f"{sum(others.values())} live chat(s) are being answered by another model "
            f"({listed}); serve with that --agent-model until they finish, or end them in "
            "the admin first",
            where="--agent-model",
        )


async def study_of(request: Request) -> StudyApp:
    """The :class:`StudyApp` of the app serving ``request`` (a FastAPI dependency).

    ``async`` because it does no I/O: FastAPI runs a plain ``def`` dependency in its
    thread pool, one hop per dependency per request, which a poll does not need.
    """
    study: StudyApp = request.app.state.study
    return study

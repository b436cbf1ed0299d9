"""The study web app: FastAPI, server-rendered Jinja2 pages and a little plain JS.

Participant flow: ``/start?PROLIFIC_PID=…&STUDY_ID=…&SESSION_ID=…`` → consent → task card →
chat → Stop (button or ``/stop``) → survey → completion code and the recruiter's redirect.
The participant's token lives only in an HttpOnly cookie; every form carries the
session's CSRF token; every page is autoescaped and served under a CSP that forbids
inline script, so participant text is inert everywhere, the admin pages included.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session, sessionmaker

from usi.data.survey import FREE_TEXT_ITEMS, SURVEY_ITEMS
from usi.study import schema as s
from usi.study import service
from usi.study.admin import register_admin
from usi.study.agent import StudyAgent, TauStudyAgent
from usi.study.config import StudyConfig
from usi.study.db import make_engine, migrate, session_factory
from usi.study.forms import PostedForm
from usi.study.schema import StudySession
from usi.study.security import (
    MAX_BODY_BYTES,
    MAX_MESSAGE_CHARS,
    RateLimiter,
    same_secret,
)
from usi.study.shards import ShardedWorker, ShardSettings
from usi.study.tasks import load_tasks, task_card
from usi.study.transcript import is_stop_command
from usi.study.worker import StudyWorker

log = logging.getLogger("usi.study")

HERE = Path(__file__).parent
SESSION_COOKIE = "usi_session"
REAP_INTERVAL_S = 20.0
_RECRUITER_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")
_CLIENT_ID = re.compile(r"^[A-Za-z0-9_\-]{8,64}$")
PAGE_FOR_STATE = {
    s.CONSENT: "/consent",
    s.TASK: "/task",
    s.CHAT: "/chat",
    s.SURVEY: "/survey",
    s.DONE: "/done",
    s.EXPIRED: "/ended",
    s.DECLINED: "/ended",
}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


class StudyApp:
    """The state shared by the handlers: config, database, agent worker, limits."""

    def __init__(self, config: StudyConfig, agent: StudyAgent | None = None) -> None:
        self.config = config
        self.engine = make_engine(config.db_url)
        self.factory: sessionmaker[Session] = session_factory(self.engine)
        self.agent = agent or TauStudyAgent(config.agent_model, base_url=config.agent_base_url)
        self.worker: StudyWorker | ShardedWorker
        if agent is None and config.agent_processes > 0:
            settings = ShardSettings(
                db_url=config.db_url,
                agent_model=config.agent_model,
                agent_base_url=config.agent_base_url,
                judge_model=config.judge_model,
                judge_base_url=config.judge_base_url,
                threads=config.agent_workers,
            )
            self.worker = ShardedWorker(settings, config.agent_processes, self.factory)
        else:
            self.worker = StudyWorker(
                self.factory,
                self.agent,
                judge_model=config.judge_model,
                judge_base_url=config.judge_base_url,
                workers=config.agent_workers,
            )
        self.limiter = RateLimiter()
        self.templates = Jinja2Templates(directory=str(HERE / "templates"))
        self._stop = threading.Event()
        self._reaper: threading.Thread | None = None

    def start(self) -> None:
        """Migrate, seed the design, resume interrupted agent turns, start the reaper."""
        migrate(self.engine)
        for domain in self.config.tasks:  # load τ² once, before the first participant
            load_tasks(domain)
        service.seed_slots(self.factory, self.config.tasks, self.config.batches)
        service.set_session_timeout(self.config.session_timeout)
        resumed = self.worker.resume_pending()
        if resumed:
            log.info("resumed %d agent turns interrupted by the last shutdown", resumed)
        self._reaper = threading.Thread(target=self._reap, daemon=True, name="usi-reaper")
        self._reaper.start()

    def stop(self) -> None:
        self._stop.set()
        self.worker.shutdown()
        self.engine.dispose()

    def _reap(self) -> None:
        interval = max(1.0, min(REAP_INTERVAL_S, self.config.session_timeout.total_seconds() / 4))
        while not self._stop.wait(interval):
            try:
                service.release_expired(self.factory, self.config.session_timeout)
                self.worker.resume_pending()  # safety net: no pending turn is ever orphaned
            except Exception:
                log.exception("releasing expired sessions failed")

    def render(self, request: Request, name: str, status: int = 200, **context: Any) -> Response:
        return self.templates.TemplateResponse(request, name, context, status_code=status)

    def notice(self, request: Request, title: str, text: str, status: int = 200) -> Response:
        return self.render(request, "notice.html", status, title=title, text=text)


def create_app(config: StudyConfig, agent: StudyAgent | None = None) -> FastAPI:
    """The study's ASGI app (migrates and seeds the database on start-up)."""
    study = StudyApp(config, agent)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        study.start()
        try:
            yield
        finally:
            study.stop()

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.study = study
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.middleware("http")
    async def guard(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            return JSONResponse({"error": "request too large"}, status_code=413)
        if "transfer-encoding" in request.headers:
            # A body of undeclared length would slip past the size cap above (forms are read
            # before the session is checked); browsers always declare it.
            return JSONResponse({"error": "request length required"}, status_code=411)
        try:
            response = await call_next(request)
        except Exception:
            log.exception("unhandled error on %s", request.url.path)
            response = study.notice(
                request, "Something went wrong", "Please reload the page in a moment.", 500
            )
        for header, value in SECURITY_HEADERS.items():
            response.headers.setdefault(header, value)
        return response

    _register_participant(app, study)
    register_admin(app, study)
    return app


# --- participant pages ---------------------------------------------------------------------


def _current(study: StudyApp, request: Request) -> StudySession | None:
    return service.find_session(study.factory, request.cookies.get(SESSION_COOKIE))


def _redirect(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def _wrong_page(session: StudySession | None, state: str) -> Response | None:
    """Send the participant to the page of their session's state (None: they are on it)."""
    if session is None:
        return _redirect("/missing")
    if session.state != state:
        return _redirect(PAGE_FOR_STATE.get(session.state, "/ended"))
    return None


def _csrf_ok(session: StudySession, given: str | None) -> bool:
    return same_secret(given, session.csrf_token)


def _register_participant(app: FastAPI, study: StudyApp) -> None:
    config = study.config

    @app.get("/", response_class=HTMLResponse)
    def home(request: Request) -> Response:
        return study.notice(
            request, "User study", "Please open the study from the link your recruiter gave you."
        )

    @app.get("/start")
    def start(request: Request) -> Response:
        params = request.query_params
        pid = params.get("PROLIFIC_PID", "")
        study_id = params.get("STUDY_ID") or None
        recruiter_session = params.get("SESSION_ID") or None
        if not _RECRUITER_ID.match(pid) or any(
            v is not None and not _RECRUITER_ID.match(v) for v in (study_id, recruiter_session)
        ):
            return study.notice(
                request,
                "Invalid study link",
                "This link is missing your participant id. Please use the link from the "
                "recruiting platform.",
                400,
            )
        current = _current(study, request)
        if current is not None and current.prolific_pid == pid and current.state in s.ACTIVE_STATES:
            return _redirect(PAGE_FOR_STATE[current.state])
        if service.active_session_of(study.factory, pid) is not None:
            return study.notice(
                request,
                "Session already open",
                "You already have a session open in another browser or tab. Please continue "
                "there; an abandoned session is released after a while.",
                409,
            )
        _row, token = service.create_session(
            study.factory,
            pid=pid,
            study_id=study_id,
            recruiter_session_id=recruiter_session,
            agent_model=config.agent_model,
        )
        response = _redirect("/consent")
        response.set_cookie(
            SESSION_COOKIE,
            token,
            httponly=True,
            samesite="lax",
            secure=config.secure_cookies,
            max_age=7 * 24 * 3600,
        )
        return response

    @app.get("/consent", response_class=HTMLResponse)
    def consent_page(request: Request) -> Response:
        session = _current(study, request)
        if (wrong := _wrong_page(session, s.CONSENT)) is not None:
            return wrong
        assert session is not None
        return study.render(request, "consent.html", csrf=session.csrf_token)

    @app.post("/consent")
    def consent_answer(request: Request, form: PostedForm) -> Response:
        session = _current(study, request)
        if (wrong := _wrong_page(session, s.CONSENT)) is not None:
            return wrong
        assert session is not None
        if not _csrf_ok(session, form.get("csrf")):
            return study.notice(request, "Expired form", "Please reload the page.", 403)
        if form.get("choice") != "agree":
            service.decline_consent(study.factory, session.id)
            return study.notice(
                request,
                "Thank you",
                "You did not consent, so the study ends here. You may close this page.",
            )
        try:
            service.accept_consent(study.factory, session.id)
        except service.StudyFull:
            service.decline_consent(study.factory, session.id)
            return study.notice(
                request,
                "The study is full",
                "All tasks are taken at the moment. Thank you for your interest.",
            )
        except service.Conflict:
            pass
        return _redirect("/task")

    @app.get("/task", response_class=HTMLResponse)
    def task_page(request: Request) -> Response:
        session = _current(study, request)
        if (wrong := _wrong_page(session, s.TASK)) is not None:
            return wrong
        assert session is not None and session.domain and session.task_id
        card = task_card(session.domain, session.task_id)
        return study.render(request, "task.html", card=card, csrf=session.csrf_token)

    @app.post("/task")
    def task_start(request: Request, form: PostedForm) -> Response:
        session = _current(study, request)
        if (wrong := _wrong_page(session, s.TASK)) is not None:
            return wrong
        assert session is not None
        if not _csrf_ok(session, form.get("csrf")):
            return study.notice(request, "Expired form", "Please reload the page.", 403)
        service.start_chat(study.factory, session.id, study.agent.greeting())
        return _redirect("/chat")

    @app.get("/chat", response_class=HTMLResponse)
    def chat_page(request: Request) -> Response:
        session = _current(study, request)
        if (wrong := _wrong_page(session, s.CHAT)) is not None:
            return wrong
        assert session is not None and session.domain and session.task_id
        service.touch(study.factory, session)
        return study.render(
            request,
            "chat.html",
            card=task_card(session.domain, session.task_id),
            messages=service.messages_of(study.factory, session.id),
            agent_status=session.agent_status,
            csrf=session.csrf_token,
            max_chars=MAX_MESSAGE_CHARS,
        )

    @app.get("/chat/messages")
    def chat_messages(request: Request, after: int = 0) -> Response:
        session = _current(study, request)
        if session is None:
            return JSONResponse({"error": "no session"}, status_code=401)
        if session.state == s.CHAT:
            service.touch(study.factory, session)
        rows = service.messages_of(study.factory, session.id, after=max(0, after))
        return JSONResponse(
            {
                "state": session.state,
                "agent_status": session.agent_status,
                "retry": session.agent_status == s.AGENT_ERROR,
                "messages": [
                    {"seq": m.seq, "role": m.role, "text": m.content, "client_id": m.client_id}
                    for m in rows
                ],
                "redirect": None if session.state == s.CHAT else PAGE_FOR_STATE[session.state],
            }
        )

    @app.post("/chat/message")
    def chat_post(request: Request, form: PostedForm) -> Response:
        session = _current(study, request)
        if session is None:
            return JSONResponse({"error": "Your session has ended."}, status_code=401)
        if not _csrf_ok(session, form.get("csrf") or request.headers.get("x-csrf-token")):
            return JSONResponse({"error": "Please reload the page."}, status_code=403)
        text = (form.get("text") or "").strip()
        client_id = form.get("client_id") or ""
        if not _CLIENT_ID.match(client_id):
            return JSONResponse({"error": "Please reload the page."}, status_code=400)
        if not text:
            return JSONResponse({"error": "Please type a message."}, status_code=422)
        if len(text) > MAX_MESSAGE_CHARS:
            return JSONResponse(
                {"error": f"Please keep messages under {MAX_MESSAGE_CHARS} characters."},
                status_code=413,
            )
        if session.state != s.CHAT:
            # A retried /stop or message after the chat ended: idempotent if we stored it.
            stored = service.messages_of(study.factory, session.id)
            if any(m.client_id == client_id for m in stored):
                return JSONResponse(
                    {"ok": True, "duplicate": True, "redirect": PAGE_FOR_STATE[session.state]}
                )
            return JSONResponse(
                {"error": "The chat has ended.", "redirect": PAGE_FOR_STATE[session.state]},
                status_code=409,
            )
        if not study.limiter.allow(session.id):
            return JSONResponse(
                {"error": "You are sending messages too quickly. Please wait a moment."},
                status_code=429,
            )
        stop = is_stop_command(text)
        try:
            result = service.post_message(study.factory, session.id, text, client_id, stop=stop)
        except service.Conflict:
            return JSONResponse(
                {"error": "Please wait for the agent's reply before sending another message."},
                status_code=409,
            )
        if not stop and not result.duplicate:
            study.worker.submit_turn(session.id)
        return JSONResponse(
            {
                "ok": True,
                "seq": result.message.seq,
                "duplicate": result.duplicate,
                "redirect": "/survey" if stop else None,
            }
        )

    @app.post("/chat/retry")
    def chat_retry(request: Request, form: PostedForm) -> Response:
        session = _current(study, request)
        if session is None:
            return JSONResponse({"error": "Your session has ended."}, status_code=401)
        if not _csrf_ok(session, form.get("csrf") or request.headers.get("x-csrf-token")):
            return JSONResponse({"error": "Please reload the page."}, status_code=403)
        if service.retry_agent(study.factory, session.id):
            study.worker.submit_turn(session.id)
        return JSONResponse({"ok": True})

    @app.post("/chat/stop")
    def chat_stop(request: Request, form: PostedForm) -> Response:
        session = _current(study, request)
        if (wrong := _wrong_page(session, s.CHAT)) is not None:
            return wrong
        assert session is not None
        if not _csrf_ok(session, form.get("csrf")):
            return study.notice(request, "Expired form", "Please reload the page.", 403)
        client_id = form.get("client_id") or ""
        if not _CLIENT_ID.match(client_id):
            return study.notice(request, "Expired form", "Please reload the page.", 400)
        try:
            service.post_message(study.factory, session.id, "/stop", client_id, stop=True)
        except service.Conflict:
            return study.notice(
                request,
                "Please wait",
                "The agent is still answering your last message. Go back and stop once it "
                "has replied.",
                409,
            )
        return _redirect("/survey")

    @app.get("/survey", response_class=HTMLResponse)
    def survey_page(request: Request) -> Response:
        session = _current(study, request)
        if (wrong := _wrong_page(session, s.SURVEY)) is not None:
            return wrong
        assert session is not None
        return study.render(
            request,
            "survey.html",
            items=SURVEY_ITEMS,
            free_text=FREE_TEXT_ITEMS,
            answers={},
            problems=[],
            csrf=session.csrf_token,
        )

    @app.post("/survey")
    def survey_submit(request: Request, form: PostedForm) -> Response:
        session = _current(study, request)
        if session is None:
            return _redirect("/missing")
        if not _csrf_ok(session, form.get("csrf")):
            return study.notice(request, "Expired form", "Please reload the page.", 403)
        if session.state != s.SURVEY:
            status = 409 if session.state == s.DONE else 400
            return study.notice(
                request, "Survey already submitted", "Your answers were already recorded.", status
            )
        answers, problems = service.validate_survey(form)
        if problems:
            return study.render(
                request,
                "survey.html",
                422,
                items=SURVEY_ITEMS,
                free_text=FREE_TEXT_ITEMS,
                answers=form,
                problems=problems,
                csrf=session.csrf_token,
            )
        try:
            service.submit_survey(study.factory, session.id, answers, config.completion_code)
        except service.Conflict:
            return study.notice(
                request, "Survey already submitted", "Your answers were already recorded.", 409
            )
        study.worker.submit_reward(session.id)
        if config.auto_judge and config.judge_model:
            study.worker.submit_judge(session.id)
        return _redirect("/done")

    @app.get("/done", response_class=HTMLResponse)
    def done_page(request: Request) -> Response:
        session = _current(study, request)
        if (wrong := _wrong_page(session, s.DONE)) is not None:
            return wrong
        assert session is not None and session.completion_code
        return study.render(
            request,
            "done.html",
            code=session.completion_code,
            url=config.completion_url.replace("{code}", session.completion_code),
        )

    @app.get("/ended", response_class=HTMLResponse)
    def ended_page(request: Request) -> Response:
        return study.notice(
            request,
            "Session ended",
            "This session has ended (it timed out or consent was not given). "
            "Thank you for your time.",
        )

    @app.get("/missing", response_class=HTMLResponse)
    def missing_page(request: Request) -> Response:
        return study.notice(
            request,
            "No session",
            "We could not find your session. Please open the study from your recruiter's link.",
            401,
        )

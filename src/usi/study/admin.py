"""Admin pages: progress, sessions, transcripts and quality control (token-protected).

The admin signs in once with the admin token (kept in an HttpOnly, SameSite=Strict cookie)
or sends it as ``Authorization: Bearer``; both are compared in constant time. Admin forms
carry a CSRF token derived from the admin token. Participant text is autoescaped here too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from usi.data.survey import FREE_TEXT_ITEMS, SURVEY_ITEMS
from usi.study import schema as s
from usi.study import service
from usi.study.forms import posted_form
from usi.study.security import admin_csrf, same_secret
from usi.study.tasks import task_card

if TYPE_CHECKING:
    from usi.study.app import StudyApp

ADMIN_COOKIE = "usi_admin"
SESSION_STATES = (s.CONSENT, s.TASK, s.CHAT, s.SURVEY, s.DONE, s.EXPIRED, s.DECLINED)


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else None


async def _checked_form(request: Request) -> dict[str, str] | None:
    """The posted admin form if its CSRF token is right, else None (see :mod:`usi.study.forms`)."""
    values = await posted_form(request)
    csrf = admin_csrf(request.app.state.study.config.admin_token)
    return values if same_secret(values.get("csrf"), csrf) else None


CheckedForm = Annotated[dict[str, str] | None, Depends(_checked_form)]


def register_admin(app: FastAPI, study: StudyApp) -> None:
    config = study.config
    csrf = admin_csrf(config.admin_token)

    def authorized(request: Request) -> bool:
        given = _bearer(request) or request.cookies.get(ADMIN_COOKIE)
        return same_secret(given, config.admin_token)

    def login_redirect() -> Response:
        return RedirectResponse("/admin/login", status_code=303)

    @app.get("/admin/login", response_class=HTMLResponse)
    def login_page(request: Request) -> Response:
        return study.render(request, "admin_login.html", error=None)

    @app.post("/admin/login")
    async def login(request: Request) -> Response:
        form = await request.form()
        token = form.get("token")
        if not isinstance(token, str) or not same_secret(token.strip(), config.admin_token):
            return study.render(request, "admin_login.html", 403, error="Wrong admin token.")
        response = RedirectResponse("/admin", status_code=303)
        response.set_cookie(
            ADMIN_COOKIE,
            config.admin_token,
            httponly=True,
            samesite="strict",
            secure=config.secure_cookies,
            path="/admin",
        )
        return response

    @app.post("/admin/logout")
    async def logout(request: Request) -> Response:
        if not authorized(request) or await _checked_form(request) is None:
            return login_redirect()
        response = login_redirect()
        response.delete_cookie(ADMIN_COOKIE, path="/admin")
        return response

    @app.get("/admin", response_class=HTMLResponse)
    def dashboard(request: Request, state: str | None = None) -> Response:
        if not authorized(request):
            return login_redirect()
        chosen = state if state in SESSION_STATES else None
        sessions = service.list_sessions(study.factory, state=chosen)
        return study.render(
            request,
            "admin_index.html",
            totals=service.progress_totals(study.factory),
            progress=service.progress(study.factory),
            batches=list(range(1, config.batches + 1)),
            sessions=sessions,
            states=SESSION_STATES,
            state=chosen,
            threshold=config.keep_threshold,
            keep=lambda row: service.effective_keep(row, config.keep_threshold),
            judge_model=config.judge_model,
            csrf=csrf,
        )

    @app.get("/admin/sessions/{session_id}", response_class=HTMLResponse)
    def session_page(request: Request, session_id: int) -> Response:
        if not authorized(request):
            return login_redirect()
        session = service.get_session(study.factory, session_id)
        if session is None:
            return study.notice(request, "Not found", "No such session.", 404)
        card = (
            task_card(session.domain, session.task_id)
            if session.domain and session.task_id
            else None
        )
        return study.render(
            request,
            "admin_session.html",
            session=session,
            card=card,
            messages=service.messages_of(study.factory, session_id, visible_only=False),
            survey_items=SURVEY_ITEMS,
            free_text=FREE_TEXT_ITEMS,
            keep=service.effective_keep(session, config.keep_threshold),
            threshold=config.keep_threshold,
            judge_model=config.judge_model,
            csrf=csrf,
        )

    @app.post("/admin/sessions/{session_id}/keep")
    def set_keep(request: Request, session_id: int, form: CheckedForm) -> Response:
        if not authorized(request):
            return login_redirect()
        if form is None:
            return study.notice(request, "Expired form", "Please reload the page.", 403)
        decision = {"keep": True, "discard": False, "auto": None}.get(form.get("decision", ""))
        service.set_keep(study.factory, session_id, decision)
        return RedirectResponse(f"/admin/sessions/{session_id}", status_code=303)

    @app.post("/admin/sessions/{session_id}/judge")
    def judge_one(request: Request, session_id: int, form: CheckedForm) -> Response:
        if not authorized(request):
            return login_redirect()
        if form is None:
            return study.notice(request, "Expired form", "Please reload the page.", 403)
        session = service.get_session(study.factory, session_id)
        if session is not None and session.state == s.DONE and config.judge_model:
            study.worker.submit_judge(session_id)
        return RedirectResponse(f"/admin/sessions/{session_id}", status_code=303)

    @app.post("/admin/judge-all")
    def judge_all(request: Request, form: CheckedForm) -> Response:
        if not authorized(request):
            return login_redirect()
        if form is None:
            return study.notice(request, "Expired form", "Please reload the page.", 403)
        if config.judge_model:
            for session in service.finished_sessions(study.factory, unjudged=True):
                study.worker.submit_judge(session.id)
        return RedirectResponse("/admin", status_code=303)

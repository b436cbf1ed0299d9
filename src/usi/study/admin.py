"""Admin pages: progress, sessions, transcripts and quality control (token-protected).

The admin signs in once with the admin token; the cookie (HttpOnly, SameSite=Strict) then
carries a random admin session id kept server-side and revoked at sign-out — never the
token itself. Scripts may send the token as ``Authorization: Bearer``; both are compared
in constant time, and wrong sign-ins are throttled per client address. Admin forms carry
a CSRF token derived from the admin token. Participant text is autoescaped here too.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from usi.core.survey import FREE_TEXT_ITEMS, SURVEY_ITEMS
from usi.study import schema as s
from usi.study import service
from usi.study.forms import PostedForm
from usi.study.security import admin_csrf, same_secret
from usi.study.state import StudyApp, study_of
from usi.tau.cards import task_card

ADMIN_COOKIE = "usi_admin"
SESSION_STATES = (s.CONSENT, s.TASK, s.CHAT, s.SURVEY, s.DONE, s.EXPIRED, s.DECLINED)
MAX_ID = 2**31 - 1

Study = Annotated[StudyApp, Depends(study_of)]
SessionId = Annotated[int, Path(ge=1, le=MAX_ID)]


class NotSignedIn(Exception):
    """An admin page was asked for without a valid sign-in: go to the login page."""


class ExpiredAdminForm(Exception):
    """An admin form without the right CSRF token."""


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else None


async def require_admin(request: Request, study: Study) -> StudyApp:
    """Dependency: the request is the admin's (bearer token or a live admin session)."""
    bearer = _bearer(request)
    if bearer is not None:
        if same_secret(bearer, study.config.admin_token):
            return study
        raise NotSignedIn
    if study.admin_sessions.valid(request.cookies.get(ADMIN_COOKIE)):
        return study
    raise NotSignedIn


Admin = Annotated[StudyApp, Depends(require_admin)]


async def admin_form(study: Admin, form: PostedForm) -> dict[str, str]:
    """Dependency: the admin's posted form, if its CSRF token is right."""
    if not same_secret(form.get("csrf"), admin_csrf(study.config.admin_token)):
        raise ExpiredAdminForm
    return form


AdminForm = Annotated[dict[str, str], Depends(admin_form)]


def _to(path: str) -> Response:
    return RedirectResponse(path, status_code=303)


router = APIRouter(prefix="/admin")


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, study: Study) -> Response:
    return study.render(request, "admin_login.html", error=None)


@router.post("/login")
def login(request: Request, study: Study, form: PostedForm) -> Response:
    address = request.client.host if request.client else "unknown"
    if not study.login_tries.ready(address):
        return study.render(
            request, "admin_login.html", 429, error="Too many wrong tokens. Wait a minute."
        )
    if not same_secret(form.get("token", "").strip(), study.config.admin_token):
        study.login_tries.take(address)
        return study.render(request, "admin_login.html", 403, error="Wrong admin token.")
    response = _to("/admin")
    response.set_cookie(
        ADMIN_COOKIE,
        study.admin_sessions.open(),
        httponly=True,
        samesite="strict",
        secure=study.config.secure_cookies,
        path="/admin",
    )
    return response


@router.post("/logout")
def logout(request: Request, study: Admin, _form: AdminForm) -> Response:
    study.admin_sessions.revoke(request.cookies.get(ADMIN_COOKIE))
    response = _to("/admin/login")
    response.delete_cookie(ADMIN_COOKIE, path="/admin")
    return response


@router.get("", response_class=HTMLResponse)
def dashboard(
    request: Request,
    study: Admin,
    state: str | None = None,
    before: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> Response:
    config = study.config
    chosen = state if state in SESSION_STATES else None
    sessions = service.list_sessions(study.factory, state=chosen, before=before)
    older = sessions[-1].id if len(sessions) == service.SESSIONS_PER_PAGE else None
    return study.render(
        request,
        "admin_index.html",
        totals=service.progress_totals(study.factory),
        progress=service.progress(study.factory),
        batches=list(range(1, config.batches + 1)),
        sessions=sessions,
        states=SESSION_STATES,
        state=chosen,
        older=older,
        paged=before is not None,
        threshold=config.keep_threshold,
        keep=lambda row: service.effective_keep(row, config.keep_threshold),
        judge_model=config.judge_model,
        csrf=admin_csrf(config.admin_token),
    )


@router.get("/sessions/{session_id}", response_class=HTMLResponse)
def session_page(request: Request, study: Admin, session_id: SessionId) -> Response:
    config = study.config
    session = service.get_session(study.factory, session_id)
    if session is None:
        return study.notice(request, "Not found", "No such session.", 404)
    card = (
        task_card(session.domain, session.task_id) if session.domain and session.task_id else None
    )
    return study.render(
        request,
        "admin_session.html",
        session=session,
        card=card,
        messages=service.messages_of(study.factory, session_id, visible_only=False),
        agent_errors=service.agent_errors_of(study.factory, session_id),
        survey_items=SURVEY_ITEMS,
        free_text=FREE_TEXT_ITEMS,
        keep=service.effective_keep(session, config.keep_threshold),
        threshold=config.keep_threshold,
        judge_model=config.judge_model,
        live=session.state in s.ACTIVE_STATES,
        csrf=admin_csrf(config.admin_token),
    )


@router.post("/sessions/{session_id}/keep")
def set_keep(study: Admin, session_id: SessionId, form: AdminForm) -> Response:
    decision = {"keep": True, "discard": False, "auto": None}.get(form.get("decision", ""))
    service.set_keep(study.factory, session_id, decision)
    return _to(f"/admin/sessions/{session_id}")


@router.post("/sessions/{session_id}/release")
def release(study: Admin, session_id: SessionId, _form: AdminForm) -> Response:
    """End a live session now: its slot goes back to the pool."""
    service.release_session(study.factory, session_id)
    return _to(f"/admin/sessions/{session_id}")


@router.post("/sessions/{session_id}/judge")
def judge_one(study: Admin, session_id: SessionId, _form: AdminForm) -> Response:
    session = service.get_session(study.factory, session_id)
    if session is not None and session.state == s.DONE and study.config.judge_model:
        study.worker.submit_judge(session_id)
    return _to(f"/admin/sessions/{session_id}")


@router.post("/judge-all")
def judge_all(study: Admin, _form: AdminForm) -> Response:
    if study.config.judge_model:
        for session in service.finished_sessions(study.factory, unjudged=True):
            study.worker.submit_judge(session.id)
    return _to("/admin")

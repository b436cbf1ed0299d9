"""The participant's pages, as an ``APIRouter`` whose dependencies show the flow.

``/start?PROLIFIC_PID=…&STUDY_ID=…&SESSION_ID=…`` → consent → task card → chat → Stop
(button or ``/stop``) → survey → completion code and the recruiter's redirect.

Each handler declares what it needs: ``InConsent`` (the browser's session, which must be
at the consent step — otherwise the participant is sent to the page of the step they are
at), ``ConsentForm`` (that, plus a posted form whose CSRF token is the session's), and so
on; a handler body is only the step itself.

Entry rules (issue 13): ``/start`` never replaces a live session in the same browser —
another participant id while one is open gets a page to confirm or refuse, by POST; the
same id resumes. A participant who lost their cookie types the resume code shown on their
task and chat pages (derived from their session token, never stored) to get back in or to
restart; the recruiter id alone is not enough, and guesses are throttled per id. New
sessions are throttled per client address and overall.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from usi.core.survey import FREE_TEXT_ITEMS, SURVEY_ITEMS
from usi.study import schema as s
from usi.study import service
from usi.study.forms import PostedForm
from usi.study.schema import StudySession
from usi.study.security import MAX_MESSAGE_CHARS, new_token, resume_code, same_secret
from usi.study.state import StudyApp, study_of
from usi.study.transcript import is_stop_command
from usi.tau.cards import task_card

SESSION_COOKIE = "usi_session"
# The resume form's own CSRF cookie: the form has no session yet to carry a token, so the
# page that shows it sets this cookie and puts the same value in the form (double submit).
ENTRY_COOKIE = "usi_entry"
RECRUITER_ID = re.compile(r"[A-Za-z0-9_.\-]{1,128}")
CLIENT_ID = re.compile(r"[A-Za-z0-9_\-]{8,64}")
MAX_SEQ = 2**31 - 1
PAGE_FOR_STATE = {
    s.CONSENT: "/consent",
    s.TASK: "/task",
    s.CHAT: "/chat",
    s.SURVEY: "/survey",
    s.DONE: "/done",
    s.EXPIRED: "/ended",
    s.DECLINED: "/ended",
}
JSON_PATHS = frozenset({"/chat/messages", "/chat/message", "/chat/retry"})
CONSENT_CHOICES = frozenset({"agree", "decline"})

Study = Annotated[StudyApp, Depends(study_of)]


class WrongPage(Exception):
    """The participant is not at this step: send them to ``path``."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


class Refused(Exception):
    """A participant request refused with a notice page (or JSON on the chat's API)."""

    def __init__(self, status: int, title: str, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.title = title
        self.text = text


def redirect(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def page_of(session: StudySession) -> str:
    return PAGE_FOR_STATE.get(session.state, "/ended")


def current_session(request: Request, study: Study) -> StudySession | None:
    """The session of this browser's cookie, if any."""
    return service.find_session(study.factory, request.cookies.get(SESSION_COOKIE))


@dataclass(frozen=True)
class InState:
    """Dependency: the browser's session, at ``state`` (None: any state)."""

    state: str | None

    async def __call__(  # no I/O: on the event loop, not a thread-pool hop
        self, session: Annotated[StudySession | None, Depends(current_session)]
    ) -> StudySession:
        return self.check(session)

    def check(self, session: StudySession | None) -> StudySession:
        if session is None:
            raise WrongPage("/missing")
        if self.state is not None and session.state != self.state:
            raise WrongPage(page_of(session))
        return session


@dataclass(frozen=True)
class SessionForm:
    """A posted form whose CSRF token matched its session's."""

    session: StudySession
    fields: dict[str, str]

    def get(self, name: str, default: str = "") -> str:
        return self.fields.get(name) or default


def checked_form(in_state: InState) -> object:
    """Dependency: the session (as ``in_state`` wants it) and its CSRF-checked form."""

    async def check(request: Request, form: PostedForm, session: StudySession) -> SessionForm:
        given = form.get("csrf") or request.headers.get("x-csrf-token")
        if not same_secret(given, session.csrf_token):
            raise Refused(403, "Expired form", "Please reload the page.")
        return SessionForm(session, form)

    # Real objects, not this module's postponed (string) annotations: ``in_state`` is local.
    check.__annotations__ = {
        "request": Request,
        "form": PostedForm,
        "session": Annotated[StudySession, Depends(in_state)],
        "return": SessionForm,
    }
    return check


ANY, CONSENT, TASK, CHAT, SURVEY, DONE = (
    InState(None),
    InState(s.CONSENT),
    InState(s.TASK),
    InState(s.CHAT),
    InState(s.SURVEY),
    InState(s.DONE),
)
AnySession = Annotated[StudySession, Depends(ANY)]
InConsent = Annotated[StudySession, Depends(CONSENT)]
InTask = Annotated[StudySession, Depends(TASK)]
InChat = Annotated[StudySession, Depends(CHAT)]
InSurvey = Annotated[StudySession, Depends(SURVEY)]
InDone = Annotated[StudySession, Depends(DONE)]
AnyForm = Annotated[SessionForm, Depends(checked_form(ANY))]
ConsentForm = Annotated[SessionForm, Depends(checked_form(CONSENT))]
TaskForm = Annotated[SessionForm, Depends(checked_form(TASK))]
ChatForm = Annotated[SessionForm, Depends(checked_form(CHAT))]


def set_session_cookie(study: StudyApp, response: Response, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=study.config.secure_cookies,
        max_age=7 * 24 * 3600,
    )


@dataclass(frozen=True)
class Entry:
    """The recruiter's ids of an entry link (or of the forms that carry them on)."""

    pid: str
    study_id: str | None
    recruiter_session: str | None

    def as_fields(self) -> dict[str, str]:
        return {
            "PROLIFIC_PID": self.pid,
            "STUDY_ID": self.study_id or "",
            "SESSION_ID": self.recruiter_session or "",
        }


def entry_of(study: StudyApp, values: dict[str, str]) -> Entry:
    """The ids, each matched whole; refused if malformed or not the study's id pattern."""
    pid = values.get("PROLIFIC_PID", "")
    study_id = values.get("STUDY_ID") or None
    recruiter_session = values.get("SESSION_ID") or None
    valid = RECRUITER_ID.fullmatch(pid) is not None and all(
        v is None or RECRUITER_ID.fullmatch(v) for v in (study_id, recruiter_session)
    )
    if valid and study.pid_regex is not None:
        valid = study.pid_regex.fullmatch(pid) is not None
    if not valid:
        raise Refused(
            400,
            "Invalid study link",
            "This link is missing your participant id. Please use the link from the "
            "recruiting platform.",
        )
    return Entry(pid, study_id, recruiter_session)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def new_session(study: StudyApp, request: Request, entry: Entry) -> Response:
    """Create the participant's session (throttled) and send them to the consent page."""
    address = client_address(request)
    if not (study.starts_by_address.ready(address) and study.starts.ready("all")):
        raise Refused(
            429,
            "Too many new sessions",
            "Too many sessions were started just now. Please wait a minute and open your "
            "study link again.",
        )
    study.starts_by_address.take(address)
    study.starts.take("all")
    try:
        created = service.create_session(
            study.factory,
            pid=entry.pid,
            study_id=entry.study_id,
            recruiter_session_id=entry.recruiter_session,
            agent_model=study.config.agent_model,
        )
    except service.AlreadyLive:  # another entry with this id won the race: resume it
        return resume_page(study, request, entry, 409)
    response = redirect("/consent")
    set_session_cookie(study, response, created.token)
    return response


def enter(study: StudyApp, request: Request, entry: Entry) -> Response:
    """Entry of ``entry.pid`` in a browser with no live session of its own."""
    if service.active_session_of(study.factory, entry.pid) is not None:
        return resume_page(study, request, entry, 409)
    return new_session(study, request, entry)


def resume_page(
    study: StudyApp, request: Request, entry: Entry, status: int, error: str | None = None
) -> Response:
    """The resume-code form, with a fresh CSRF value in the form and in a strict cookie.

    ``POST /start/resume`` puts a session into the browser, so a page on another site that
    posts it would log the participant into a session of the attacker's choosing (login
    CSRF). A ``SameSite=Strict`` cookie is never sent with a cross-site post, and another
    site can neither read it nor set it, so only this page can send a matching pair.
    """
    token = request.cookies.get(ENTRY_COOKIE) or ""
    if not CLIENT_ID.fullmatch(token):  # none yet (or not one of ours): a fresh one
        token = new_token()
    response = study.render(
        request, "resume.html", status, entry=entry.as_fields(), error=error, entry_csrf=token
    )
    response.set_cookie(
        ENTRY_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=study.config.secure_cookies,
        max_age=3600,
        path="/start",
    )
    return response


def resume_code_of(request: Request) -> str:
    token = request.cookies.get(SESSION_COOKIE)
    return resume_code(token) if token else ""


router = APIRouter()


@router.get("/", response_class=HTMLResponse)
def home(request: Request, study: Study) -> Response:
    return study.notice(
        request, "User study", "Please open the study from the link your recruiter gave you."
    )


@router.get("/start")
def start(
    request: Request,
    study: Study,
    current: Annotated[StudySession | None, Depends(current_session)],
) -> Response:
    entry = entry_of(study, dict(request.query_params))
    if current is not None and current.state in s.ACTIVE_STATES:
        if current.prolific_pid == entry.pid:
            return redirect(page_of(current))
        # Never replaced by a link alone (a cross-site GET carries the cookie): ask.
        return study.render(
            request,
            "switch.html",
            409,
            entry=entry.as_fields(),
            csrf=current.csrf_token,
            current_page=page_of(current),
        )
    return enter(study, request, entry)


@router.post("/start/switch")
def start_switch(request: Request, study: Study, posted: AnyForm) -> Response:
    """The confirm-or-refuse page's answer: keep the open session, or end it for the new id."""
    current = posted.session
    choice = posted.get("choice")
    if choice not in ("keep", "switch"):
        raise Refused(422, "Please choose", "Please choose one of the two buttons.")
    if choice == "keep" or current.state not in s.ACTIVE_STATES:
        return redirect(page_of(current))
    entry = entry_of(study, posted.fields)
    if current.prolific_pid == entry.pid:
        return redirect(page_of(current))
    service.end_session(study.factory, current.id)
    return enter(study, request, entry)


@router.post("/start/resume")
def start_resume(
    request: Request,
    study: Study,
    form: PostedForm,
    current: Annotated[StudySession | None, Depends(current_session)],
) -> Response:
    """A participant whose cookie is lost: resume (or restart) with their resume code."""
    if not same_secret(form.get("entry_csrf"), request.cookies.get(ENTRY_COOKIE)):
        raise Refused(403, "Expired form", "Please open the study link from your recruiter again.")
    entry = entry_of(study, form)
    choice = form.get("choice")
    if choice not in ("resume", "restart"):
        raise Refused(422, "Please choose", "Please choose one of the two buttons.")
    if current is not None and current.state in s.ACTIVE_STATES:
        # This browser has a live session of its own: never replaced without asking.
        if current.prolific_pid == entry.pid:
            return redirect(page_of(current))
        return study.render(
            request,
            "switch.html",
            409,
            entry=entry.as_fields(),
            csrf=current.csrf_token,
            current_page=page_of(current),
        )
    if service.active_session_of(study.factory, entry.pid) is None:
        return enter(study, request, entry)  # it ended meanwhile: nothing to resume
    if not (
        study.resume_tries.allow(entry.pid)
        and study.resume_tries.allow(("address", client_address(request)))
    ):
        raise Refused(
            429, "Too many tries", "Too many wrong codes. Please wait an hour and try again."
        )
    found = service.resume_with_code(study.factory, entry.pid, form.get("code") or "")
    if found is None:
        return resume_page(
            study, request, entry, 403, "That code does not match your open session."
        )
    if choice == "restart":
        service.end_session(study.factory, found.session.id)
        return new_session(study, request, entry)
    response = redirect(page_of(found.session))
    set_session_cookie(study, response, found.token)
    return response


@router.get("/consent", response_class=HTMLResponse)
def consent_page(request: Request, study: Study, session: InConsent) -> Response:
    return study.render(request, "consent.html", csrf=session.csrf_token)


@router.post("/consent")
def consent_answer(request: Request, study: Study, posted: ConsentForm) -> Response:
    choice = posted.get("choice")
    if choice not in CONSENT_CHOICES:
        raise Refused(422, "Please choose", "Please choose one of the two buttons.")
    if choice == "decline":
        service.decline_consent(study.factory, posted.session.id)
        return study.notice(
            request,
            "Thank you",
            "You did not consent, so the study ends here. You may close this page.",
        )
    try:
        service.accept_consent(study.factory, posted.session.id, study.timeouts)
    except service.StudyFull:
        service.decline_consent(study.factory, posted.session.id)
        return study.notice(
            request,
            "The study is full",
            "All tasks are taken at the moment. Thank you for your interest.",
        )
    except service.Conflict:
        pass
    return redirect("/task")


@router.get("/task", response_class=HTMLResponse)
def task_page(request: Request, study: Study, session: InTask) -> Response:
    assert session.domain and session.task_id
    return study.render(
        request,
        "task.html",
        card=task_card(session.domain, session.task_id),
        csrf=session.csrf_token,
        resume_code=resume_code_of(request),
    )


@router.post("/task")
def task_start(study: Study, posted: TaskForm) -> Response:
    service.start_chat(study.factory, posted.session.id, study.greeting)
    return redirect("/chat")


@router.get("/chat", response_class=HTMLResponse)
def chat_page(request: Request, study: Study, session: InChat) -> Response:
    assert session.domain and session.task_id
    service.touch(study.factory, session)
    return study.render(
        request,
        "chat.html",
        card=task_card(session.domain, session.task_id),
        messages=service.messages_of(study.factory, session.id),
        agent_status=session.agent_status,
        csrf=session.csrf_token,
        max_chars=MAX_MESSAGE_CHARS,
        resume_code=resume_code_of(request),
    )


@router.get("/chat/messages")
def chat_messages(
    request: Request,
    study: Study,
    after: Annotated[int, Query(ge=0, le=MAX_SEQ)] = 0,
) -> Response:
    # The poll is nine requests in ten: the session is looked up here, in the handler's
    # own thread-pool hop, rather than by a dependency in a second one.
    session = ANY.check(current_session(request, study))
    if session.state == s.CHAT:
        service.touch(study.factory, session)
    rows = service.messages_of(study.factory, session.id, after=after)
    return JSONResponse(
        {
            "state": session.state,
            "agent_status": session.agent_status,
            "retry": session.state == s.CHAT and session.agent_status == s.AGENT_ERROR,
            "messages": [
                {"seq": m.seq, "role": m.role, "text": m.content, "client_id": m.client_id}
                for m in rows
            ],
            "redirect": None if session.state == s.CHAT else page_of(session),
        }
    )


def _chat_text(posted: SessionForm) -> tuple[str, str]:
    """The message's (text, client id), validated; refused with the reason otherwise."""
    client_id = posted.get("client_id")
    if not CLIENT_ID.fullmatch(client_id):
        raise Refused(400, "Expired form", "Please reload the page.")
    text = posted.get("text").strip()
    if not text:
        raise Refused(422, "Empty message", "Please type a message.")
    if len(text) > MAX_MESSAGE_CHARS:
        raise Refused(
            413, "Too long", f"Please keep messages under {MAX_MESSAGE_CHARS} characters."
        )
    return text, client_id


@router.post("/chat/message")
def chat_post(study: Study, posted: AnyForm) -> Response:
    session = posted.session
    text, client_id = _chat_text(posted)
    if session.state != s.CHAT:
        # A retried /stop or message after the chat ended: idempotent if we stored it.
        if service.stored_client_id(study.factory, session.id, client_id):
            return JSONResponse({"ok": True, "duplicate": True, "redirect": page_of(session)})
        return JSONResponse(
            {"error": "The chat has ended.", "redirect": page_of(session)}, status_code=409
        )
    stop = is_stop_command(text)
    # Only accepted messages count against the limit, and Stop is never limited.
    if not stop and not study.limiter.ready(session.id):
        if service.stored_client_id(study.factory, session.id, client_id):
            return JSONResponse({"ok": True, "duplicate": True, "redirect": None})
        return JSONResponse(
            {"error": "You are sending messages too quickly. Please wait a moment."},
            status_code=429,
        )
    try:
        result = service.post_message(study.factory, session.id, text, client_id, stop=stop)
    except service.NothingToStop:
        return JSONResponse(
            {"error": "Please chat with the agent about your task before you stop."},
            status_code=409,
        )
    except service.Conflict:
        return JSONResponse(
            {"error": "Please wait for the agent's reply before sending another message."},
            status_code=409,
        )
    if not result.duplicate and not stop:
        study.limiter.take(session.id)
        study.worker.submit_turn(session.id)
    return JSONResponse(
        {
            "ok": True,
            "seq": result.message.seq,
            "duplicate": result.duplicate,
            "redirect": "/survey" if stop else None,
        }
    )


@router.post("/chat/retry")
def chat_retry(study: Study, posted: AnyForm) -> Response:
    if service.retry_agent(study.factory, posted.session.id):
        study.worker.submit_turn(posted.session.id)
    return JSONResponse({"ok": True})


@router.post("/chat/stop")
def chat_stop(study: Study, posted: ChatForm) -> Response:
    client_id = posted.get("client_id")
    if not CLIENT_ID.fullmatch(client_id):
        raise Refused(400, "Expired form", "Please reload the page.")
    try:
        service.post_message(study.factory, posted.session.id, "/stop", client_id, stop=True)
    except service.NothingToStop:
        raise Refused(
            409,
            "Please chat first",
            "Please chat with the agent about your task before you stop. Go back to the chat.",
        ) from None
    except service.Conflict:
        raise WrongPage("/chat") from None
    return redirect("/survey")


def _survey_form(
    request: Request, study: StudyApp, session: StudySession, answers: object, problems: list[str]
) -> Response:
    return study.render(
        request,
        "survey.html",
        422 if problems else 200,
        items=SURVEY_ITEMS,
        free_text=FREE_TEXT_ITEMS,
        answers=answers,
        problems=problems,
        csrf=session.csrf_token,
    )


@router.get("/survey", response_class=HTMLResponse)
def survey_page(request: Request, study: Study, session: InSurvey) -> Response:
    return _survey_form(request, study, session, {}, [])


def survey_form(
    request: Request,
    study: Study,
    form: PostedForm,
    current: Annotated[StudySession | None, Depends(current_session)],
) -> SessionForm:
    """The survey form and its session: the cookie's, or the stopped session whose CSRF
    token the form carries (a late survey from a browser whose cookie moved on)."""
    given = form.get("csrf") or ""
    if current is not None and same_secret(given, current.csrf_token):
        return SessionForm(current, form)
    owner = service.stopped_session_of_form(study.factory, given)
    if owner is not None and same_secret(given, owner.csrf_token):
        return SessionForm(owner, form)
    if current is None:
        raise WrongPage("/missing")
    raise Refused(403, "Expired form", "Please reload the page.")


SurveyForm = Annotated[SessionForm, Depends(survey_form)]


@router.post("/survey")
def survey_submit(request: Request, study: Study, posted: SurveyForm) -> Response:
    session = posted.session
    late = session.state == s.EXPIRED and session.stopped_at is not None
    if session.state == s.DONE:
        raise Refused(409, "Survey already submitted", "Your answers were already recorded.")
    if session.state != s.SURVEY and not late:
        raise WrongPage(page_of(session))
    answers, problems = service.validate_survey(posted.fields)
    if problems:
        return _survey_form(request, study, session, posted.fields, problems)
    try:
        service.submit_survey(study.factory, session.id, answers, study.config.completion_code)
    except service.SessionExpired:
        minutes = study.timeouts.survey.total_seconds() / 60
        raise Refused(
            410,
            "Session expired",
            f"Your session expired {minutes:g} minutes after you stopped the chat, and its "
            "task has gone to another participant, so these answers were not stored. "
            "Please contact the researcher through your recruiting platform.",
        ) from None
    except service.Conflict:
        raise Refused(
            409, "Survey already submitted", "Your answers were already recorded."
        ) from None
    study.worker.submit_reward(session.id)
    if study.config.auto_judge and study.config.judge_model:
        study.worker.submit_judge(session.id)
    current = current_session(request, study)
    if current is None or current.id != session.id:
        # The cookie names another session: /done would show that one's page, so the
        # completion code of this one is shown here.
        finished = service.get_session(study.factory, session.id)
        assert finished is not None
        return done_response(request, study, finished)
    return redirect("/done")


@router.get("/done", response_class=HTMLResponse)
def done_page(request: Request, study: Study, session: InDone) -> Response:
    return done_response(request, study, session)


def done_response(request: Request, study: StudyApp, session: StudySession) -> Response:
    """The completion page of a finished session: its code and the recruiter's link."""
    assert session.completion_code
    return study.render(
        request,
        "done.html",
        code=session.completion_code,
        url=study.config.completion_url.replace("{code}", session.completion_code),
    )


@router.get("/ended", response_class=HTMLResponse)
def ended_page(request: Request, study: Study) -> Response:
    return study.notice(
        request,
        "Session ended",
        "This session has ended (it timed out or consent was not given). Thank you for your time.",
    )


@router.get("/missing", response_class=HTMLResponse)
def missing_page(request: Request, study: Study) -> Response:
    return study.notice(
        request,
        "No session",
        "We could not find your session. Please open the study from your recruiter's link.",
        401,
    )


def refused_response(study: StudyApp, request: Request, exc: Refused) -> Response:
    """A refusal as the chat's JSON or as a notice page."""
    if request.url.path in JSON_PATHS:
        return JSONResponse({"error": exc.text}, status_code=exc.status)
    return study.notice(request, exc.title, exc.text, exc.status)


def wrong_page_response(request: Request, exc: WrongPage) -> Response:
    if request.url.path in JSON_PATHS:
        status = 401 if exc.path == "/missing" else 409
        error = "Your session has ended." if status == 401 else "The chat has ended."
        return JSONResponse({"error": error, "redirect": exc.path}, status_code=status)
    return redirect(exc.path)

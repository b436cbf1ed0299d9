"""The study web app: FastAPI, server-rendered Jinja2 pages and a little plain JS.

The participant's pages are :mod:`usi.study.participant`, the admin's
:mod:`usi.study.admin`; both are ``APIRouter``s over the shared :class:`StudyApp`
(:mod:`usi.study.state`). The participant's token lives only in an HttpOnly cookie; every
form carries the session's CSRF token; every page is autoescaped and served under a CSP
that forbids inline script, so participant text is inert everywhere, the admin pages
included.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.requests import ClientDisconnect

from usi.study import admin, participant
from usi.study.agent import StudyAgent
from usi.study.config import StudyConfig
from usi.study.forms import FormError
from usi.study.security import MAX_BODY_BYTES
from usi.study.state import StudyApp

log = logging.getLogger("usi.study")

HERE = Path(__file__).parent
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


def create_app(config: StudyConfig, agent: StudyAgent | None = None) -> FastAPI:
    """The study's ASGI app (migrates and seeds the database on start-up)."""
    study = StudyApp(config, agent, Jinja2Templates(directory=str(HERE / "templates")))

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
        except ClientDisconnect:
            log.info("client left during %s %s", request.method, request.url.path)
            return Response(status_code=400)
        except Exception:
            log.exception("unhandled error on %s", request.url.path)
            response = study.notice(
                request, "Something went wrong", "Please reload the page in a moment.", 500
            )
        for header, value in SECURITY_HEADERS.items():
            response.headers.setdefault(header, value)
        return response

    @app.exception_handler(participant.WrongPage)
    async def wrong_page(request: Request, exc: participant.WrongPage) -> Response:
        return participant.wrong_page_response(request, exc)

    @app.exception_handler(participant.Refused)
    async def refused(request: Request, exc: participant.Refused) -> Response:
        return participant.refused_response(study, request, exc)

    @app.exception_handler(FormError)
    async def bad_form(request: Request, exc: FormError) -> Response:
        refusal = participant.Refused(exc.status, "Form not accepted", exc.message)
        return participant.refused_response(study, request, refusal)

    @app.exception_handler(RequestValidationError)
    async def bad_parameter(request: Request, _exc: RequestValidationError) -> Response:
        refusal = participant.Refused(422, "Invalid request", "Please reload the page.")
        return participant.refused_response(study, request, refusal)

    @app.exception_handler(admin.NotSignedIn)
    async def not_signed_in(_request: Request, _exc: admin.NotSignedIn) -> Response:
        return RedirectResponse("/admin/login", status_code=303)

    @app.exception_handler(admin.ExpiredAdminForm)
    async def expired_admin_form(request: Request, _exc: admin.ExpiredAdminForm) -> Response:
        return study.notice(request, "Expired form", "Please reload the page.", 403)

    app.include_router(participant.router)
    app.include_router(admin.router)
    return app

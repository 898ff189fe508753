"""The clinician programmer's web app: pages for people, a JSON API beside them, one rulebook under both.

`create_app(store, pumps, secret_key=...)` builds the FastAPI app; nothing is
built at import. Every page and API route needs a signed-in user; every POST
carries the session's CSRF token; a viewer only reads; an admin manages users
and settings and never programs; every programming intent is planned by the
therapy layer, shown on a Finish screen and sent once, on one explicit
confirmation.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader
from starlette.middleware.sessions import SessionMiddleware

from thecal.apps.clinic.store import ClinicStore, LoginRefused
from thecal.apps.clinic.web import api, forecast_panel, live, pages, patient_access
from thecal.apps.clinic.web.core import Desk, NotPermitted, Pumps
from thecal.apps.clinic.web.deps import desk_of, render
from thecal.apps.clinic.web.plans import PlanBook
from thecal.apps.clinic.web.security import SESSION_COOKIE, SESSION_MAX_AGE_S, CsrfRefused, NotSignedIn, signed_in
from thecal.errors import InputError, ThecalError

HERE = Path(__file__).parent
DEFAULT_CLINIC_NAME = "Pain clinic"


def create_app(
    store: ClinicStore,
    pumps: Pumps,
    *,
    secret_key: bytes,
    clinic_name: str = DEFAULT_CLINIC_NAME,
    https_only: bool = False,
) -> FastAPI:
    """The clinician programmer over a clinic's store and pumps."""
    if len(secret_key) < 32:
        raise InputError(
            "secret_key", f"{len(secret_key)} bytes", "is too short to sign sessions", "give 32 random bytes"
        )
    app = FastAPI(
        title="thecal clinician programmer",
        version="1",
        description="The pain clinic's programmer: patients, pumps, plans on a Finish screen, the audit trail.",
        docs_url=None,
        redoc_url=None,
    )
    environment = Environment(loader=FileSystemLoader(str(HERE / "templates")), autoescape=True)
    templates = Jinja2Templates(env=environment)
    app.state.desk = Desk(store, pumps, PlanBook())
    app.state.templates = templates
    app.state.clinic_name = clinic_name
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret_key.hex(),
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE_S,
        same_site="lax",
        https_only=https_only,
    )
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(pages.router)
    app.include_router(api.router)
    patient_access.install(app)  # the patient's diary: tokens, the PTM's observations route, the page section
    live.install(app)  # the pump page's "Now" panel and the route that refreshes it
    forecast_panel.install(app)  # the Finish screen's forecast panel and the route that works it out
    _handlers(app)
    return app


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api")


def _handlers(app: FastAPI) -> None:
    @app.exception_handler(NotSignedIn)
    async def not_signed_in(request: Request, exc: NotSignedIn) -> Response:
        if _is_api(request):
            return JSONResponse({"detail": "not signed in: sign in at /login first"}, status_code=401)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)

    @app.exception_handler(CsrfRefused)
    async def csrf_refused(request: Request, exc: CsrfRefused) -> Response:
        words = (
            "This form's security token is missing or out of date, so nothing was done. Go back, reload the page "
            "and submit again."
        )
        if _is_api(request):
            return JSONResponse({"detail": "CSRF token missing or wrong: send X-CSRF-Token from /api/session"}, 403)
        return _problem(request, "Refused: security token", words, 403)

    @app.exception_handler(NotPermitted)
    async def not_permitted(request: Request, exc: NotPermitted) -> Response:
        if _is_api(request):
            return JSONResponse({"detail": str(exc)}, status_code=403)
        return _problem(request, "Not permitted", str(exc), 403)

    @app.exception_handler(InputError)
    async def input_error(request: Request, exc: InputError) -> Response:
        if _is_api(request):
            return JSONResponse({"detail": str(exc), "error": exc.to_dict()}, status_code=422)
        return _problem(request, "Please correct this", str(exc), 400)

    @app.exception_handler(LoginRefused)
    async def login_refused(request: Request, exc: LoginRefused) -> Response:
        return _problem(request, "Sign-in refused", str(exc), 403)

    @app.exception_handler(ThecalError)
    async def thecal_error(request: Request, exc: ThecalError) -> Response:
        words = f"{exc} Nothing was sent to the pump by this request."
        if _is_api(request):
            return JSONResponse({"detail": words}, status_code=409)
        return _problem(request, "The pump could not be reached or read", words, 409)


def _problem(request: Request, title: str, message: str, status: int) -> HTMLResponse:
    user = signed_in(request, desk_of(request).store)
    return render(request, "problem.html", user, status, title=title, message=message)


__all__ = ["create_app"]

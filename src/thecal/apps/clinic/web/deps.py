"""What every route shares: the desk, the signed-in user, the checked form, and rendering a page."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from thecal.apps.clinic.store import User
from thecal.apps.clinic.web.core import Desk
from thecal.apps.clinic.web.security import NotSignedIn, check_csrf, csrf_token, flashes, signed_in


def desk_of(request: Request) -> Desk:
    """The app's desk."""
    desk: Desk = request.app.state.desk
    return desk


def current_user(request: Request) -> User:
    """The signed-in user; NotSignedIn otherwise (a page goes to the login page, the API answers 401)."""
    user = signed_in(request, desk_of(request).store)
    if user is None:
        raise NotSignedIn()
    return user


async def posted_form(request: Request) -> dict[str, str]:
    """A POSTed form's text fields, once its CSRF token is checked."""
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    check_csrf(request, fields)
    return fields


def api_csrf(request: Request) -> None:
    """The API's changes carry the session's token in the X-CSRF-Token header."""
    check_csrf(request, None)


UserDep = Annotated[User, Depends(current_user)]
FormDep = Annotated[dict[str, str], Depends(posted_form)]


def render(request: Request, name: str, user: User | None, status: int = 200, **context: Any) -> HTMLResponse:
    """A page from its template, with the user, the CSRF token, the clinic's name and waiting messages."""
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(
        request,
        name,
        {
            "user": user,
            "csrf": csrf_token(request),
            "clinic_name": request.app.state.clinic_name,
            "flashes": flashes(request),
            **context,
        },
        status_code=status,
    )

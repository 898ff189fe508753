"""Who is signed in, and the per-session token every form and every API change carries (CSRF).

The session is Starlette's signed cookie (itsdangerous), HttpOnly and
SameSite=Lax; it holds the user's id and a random token. Every POST must carry
that token (the form's `csrf_token` field, or the `X-CSRF-Token` header for the
JSON API): missing or wrong is refused with 403 before anything else happens.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping

from starlette.requests import Request

from thecal.apps.clinic.store import ClinicStore, User

SESSION_COOKIE = "thecal_clinic"
SESSION_MAX_AGE_S = 8 * 3600  # one working day
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class NotSignedIn(Exception):
    """The request has no signed-in user: pages go to the login page, the API answers 401."""


class CsrfRefused(Exception):
    """A POST without the session's token, or with a wrong one."""


def csrf_token(request: Request) -> str:
    """The session's token for forms, made on first use."""
    token = request.session.get("csrf")
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def check_csrf(request: Request, form: Mapping[str, str] | None) -> None:
    """Refuse a POST whose token (form field or header) is missing or is not the session's."""
    expected = request.session.get("csrf")
    given = request.headers.get(CSRF_HEADER) or (form or {}).get(CSRF_FIELD)
    if not isinstance(expected, str) or not isinstance(given, str) or not given:
        raise CsrfRefused()
    if not secrets.compare_digest(expected.encode(), given.encode()):
        raise CsrfRefused()


def sign_in(request: Request, user: User) -> None:
    """Start a fresh session for a user: a new token, so nothing from before the login carries over."""
    request.session.clear()
    request.session["user_id"] = user.id
    request.session["csrf"] = secrets.token_urlsafe(32)


def sign_out(request: Request) -> None:
    """End the session."""
    request.session.clear()


def signed_in(request: Request, store: ClinicStore) -> User | None:
    """The signed-in user, or None (no session, or the account is gone)."""
    user_id = request.session.get("user_id")
    if type(user_id) is not int:
        return None
    return store.user(user_id)


def flash(request: Request, message: str) -> None:
    """A message for the next page (said once)."""
    messages = request.session.get("flash")
    request.session["flash"] = [*(messages if isinstance(messages, list) else []), message][-5:]


def flashes(request: Request) -> list[str]:
    """The messages waiting for this page, then forgotten."""
    messages = request.session.pop("flash", None)
    return [str(m) for m in messages] if isinstance(messages, list) else []

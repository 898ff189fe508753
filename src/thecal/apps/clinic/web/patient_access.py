"""The patient's diary on the patient's page: diary tokens issued, listed and revoked, and the entries received.

A physician or nurse issues a token for the patient's therapy manager (PTM);
the token is shown once, on the page that answers the form, with the clinic's
address to enter beside it, and is never kept in the session or the database
(only its hash is, by the store). Every form here is CSRF-protected like every
other. The entries the PTM sends arrive through `patient_api`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from thecal.apps.clinic.web import patient_api
from thecal.apps.clinic.web.core import PROGRAMMERS, require
from thecal.apps.clinic.web.deps import FormDep, UserDep, desk_of, render
from thecal.apps.clinic.web.security import flash
from thecal.errors import InputError

router = APIRouter(include_in_schema=False)  # pages for people: not part of the JSON API


def clinic_url(request: Request) -> str:
    """The clinic programmer's address as this request reached it: what the PTM is given with its token."""
    return str(request.base_url).rstrip("/")


def diary(request: Request, patient_id: int) -> dict[str, Any]:
    """What the patient page's diary section shows: the entries received, the tokens, and the clinic's address."""
    store = desk_of(request).store
    return {
        "observations": store.observations(patient_id),
        "tokens": store.patient_tokens(patient_id),
        "clinic_url": clinic_url(request),
    }


@router.post("/patients/{patient_id}/diary-tokens")
def issue_token(request: Request, patient_id: int, user: UserDep, form: FormDep) -> Response:
    """Issue a diary token for the patient's therapy manager and show it once."""
    require(user, *PROGRAMMERS, what="issue a diary token")
    store = desk_of(request).store
    patient = store.patient(patient_id)
    if patient is None:
        raise InputError("patient", patient_id, "is not a patient of this clinic", "choose one on the dashboard")
    token = store.issue_patient_token(patient_id, user)
    page = render(
        request, "diary_token.html", user, patient=patient, token=token, token_hint=token[:6], url=clinic_url(request)
    )
    page.headers["Cache-Control"] = "no-store"  # the token is on this page only: no copy in a cache
    return page


@router.post("/patients/{patient_id}/diary-tokens/{token_id}/revoke")
def revoke_token(request: Request, patient_id: int, token_id: int, user: UserDep, form: FormDep) -> Response:
    """Revoke one of the patient's diary tokens: its PTM's entries are refused from now on."""
    require(user, *PROGRAMMERS, what="revoke a diary token")
    revoked = desk_of(request).store.revoke_patient_token(token_id, user, patient_id=patient_id)
    flash(request, f"Diary token {revoked.hint}… revoked: entries sent with it are refused from now on.")
    return RedirectResponse(f"/patients/{patient_id}#diary", status_code=303)


def install(app: FastAPI) -> None:
    """Add the diary token pages, the PTM's observations route and the patient page's diary section to the app."""
    app.include_router(router)
    app.include_router(patient_api.router)
    templates: Jinja2Templates = app.state.templates
    templates.env.globals["patient_diary"] = diary

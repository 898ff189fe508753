"""The JSON API beside the pages: the same desk, the same rulebook, the same one-time plan tokens.

Sign in through the login page (the session cookie), read `/api/session` for
the CSRF token, and send it as `X-CSRF-Token` with every POST. A plan is made
from a workflow and the same fields its form takes, returned as the therapy
layer's `to_dict()` with a one-time token; executing the token sends it once.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from thecal.apps.clinic.store import Patient
from thecal.apps.clinic.web import dashboard as board
from thecal.apps.clinic.web import exports, forms
from thecal.apps.clinic.web.core import actor, now
from thecal.apps.clinic.web.deps import UserDep, api_csrf, desk_of
from thecal.apps.clinic.web.security import csrf_token
from thecal.errors import InputError

router = APIRouter(prefix="/api", tags=["api"])
CsrfDep = Annotated[None, Depends(api_csrf)]


class PlanRequest(BaseModel):
    """A workflow and its fields, written as its form takes them (quantities with their units)."""

    workflow: str = Field(description=f"one of {list(forms.WORKFLOWS)}", max_length=40)
    fields: dict[str, Annotated[str, Field(max_length=2000)]] = Field(
        default_factory=dict, description='e.g. {"mode": "continuous", "dose": "0.5 mg/day"}', max_length=80
    )


class ExecuteRequest(BaseModel):
    """The explicit confirmation of a plan."""

    confirmed: bool = Field(description="true to send the plan; anything else sends nothing")


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if hasattr(value, "value") and isinstance(value.value, str):
        return value.value
    return value


def _patient(p: Patient) -> dict[str, Any]:
    data: dict[str, Any] = _plain(p)
    return data


@router.get("/session", summary="The signed-in user and the CSRF token for POSTs")
def session(request: Request, user: UserDep) -> dict[str, Any]:
    """Who is signed in, and the token every POST carries as X-CSRF-Token."""
    return {
        "user": {"id": user.id, "username": user.username, "full_name": user.full_name, "role": user.role.value},
        "csrf_token": csrf_token(request),
    }


@router.get("/patients", summary="Patients, ranked by urgency or sorted, one page")
def patients(
    request: Request,
    user: UserDep,
    q: Annotated[str, Query(max_length=100)] = "",
    sort: Annotated[str, Query(pattern="^(urgency|family_name|mrn)$")] = "urgency",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> dict[str, Any]:
    """One page of the dashboard as data: each patient with their urgency score and reasons."""
    ranked, total = board.dashboard(desk_of(request).store, now(), text=q, sort=sort, page=page)
    return {
        "total": total,
        "page": page,
        "per_page": board.PAGE_SIZE,
        "patients": [
            {**_patient(r.patient), "urgency": r.score, "reasons": r.reasons, "pumps": r.serials} for r in ranked
        ],
    }


@router.get("/patients/{patient_id}", summary="One patient's record")
def patient(request: Request, patient_id: Annotated[int, Path(ge=1, le=2**31 - 1)], user: UserDep) -> dict[str, Any]:
    """A patient with implants, fills, visits, pain scores, notes and trials."""
    store = desk_of(request).store
    found = store.patient(patient_id)
    if found is None:
        raise HTTPException(404, f"patient {patient_id} is not a patient of this clinic: list them at /api/patients")
    implants = store.implants(patient_id)
    return {
        "patient": _patient(found),
        "implants": [
            {**_plain(i), "revisions": _plain(store.revisions(i.id)), "fills": _plain(store.fills(i.id))}
            for i in implants
        ],
        "visits": _plain(store.visits(patient_id)),
        "pain_scores": _plain(store.pain_scores(patient_id)),
        "notes": _plain(store.notes(patient_id)),
        "trials": _plain(store.trials(patient_id)),
    }


@router.get(
    "/patients/{patient_id}/fhir",
    summary="One patient's record as a FHIR R4B bundle",
    response_class=JSONResponse,
    responses={200: {"content": {exports.FHIR_MEDIA_TYPE: {}}, "description": "a Bundle of type collection"}},
)
def patient_fhir(request: Request, patient_id: Annotated[int, Path(ge=1, le=2**31 - 1)], user: UserDep) -> Response:
    """The patient, the pump (Device), prescriptions, fills and boluses, procedures and pain scores as FHIR R4B.

    Validated with fhir.resources (R4B) and the export's own check of the codes (intrathecal route SNOMED CT
    72607000, pain LOINC 72514-3, UCUM units); the pump is read for it when it can be. Kept in the audit trail.
    """
    desk = desk_of(request)
    if desk.store.patient(patient_id) is None:
        raise HTTPException(404, f"patient {patient_id} is not a patient of this clinic: list them at /api/patients")
    bundle = exports.fhir_bundle(desk, patient_id, user, at=now())
    return JSONResponse(bundle, media_type=exports.FHIR_MEDIA_TYPE)


@router.post("/pumps/{serial}/plan", summary="Plan a workflow for a pump: the plan and its one-time token")
def plan(request: Request, serial: str, body: PlanRequest, user: UserDep, _: CsrfDep) -> dict[str, Any]:
    """Plan an intent through the therapy layer; nothing is sent."""
    actor(user)
    if body.workflow not in forms.WORKFLOWS:
        raise InputError("workflow", body.workflow, "is not a workflow", f"choose one of {list(forms.WORKFLOWS)}")
    intent = forms.intent_of(body.workflow, body.fields)
    pending = desk_of(request).plan(body.workflow, serial, intent, user)
    return {"token": pending.token, "plan": pending.plan.to_dict()}


@router.post("/plans/{token}/execute", summary="Send a planned, confirmed plan once; the verification")
def execute(request: Request, token: str, body: ExecuteRequest, user: UserDep, _: CsrfDep) -> dict[str, Any]:
    """Send the plan under its one-time token (a second call returns the first result), verify and audit."""
    actor(user)
    if body.confirmed is not True:
        return {"status": "not_confirmed", "message": "Nothing was sent: not confirmed."}
    outcome = desk_of(request).send(token, user)
    return {"audit_id": outcome.audit_id, **outcome.execution.to_dict()}


@router.get("/audit", summary="The audit trail, newest first")
def audit(
    request: Request,
    user: UserDep,
    patient_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict[str, Any]:
    """Audit entries: who, when, which pump, old and new settings, override reasons."""
    entries = desk_of(request).store.audit_trail(patient_id=patient_id, limit=limit)
    return {"entries": _plain(entries)}

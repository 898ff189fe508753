"""The patient's therapy manager's door into the clinic: `POST /api/patient/observations`, with a diary token.

The therapy manager is a machine client, not a person in a browser: it signs
in with no session and sends no CSRF token. It carries the token the clinic
issued for one patient as `Authorization: Bearer …`. CSRF is an attack through
a browser's ambient credentials (its cookies); a bearer token is never sent by
a browser on its own, so there is nothing to forge, and the session cookie is
not looked at here at all. The token is checked first, before the body is
read: a request without an active token gets 401 whatever it holds.

A token reads nothing and names no patient: the patient is the token's, and
the only thing it can do is append a diary entry to that patient's record.
The same entry sent again (its `source_id`) is kept once: 201 the first time,
200 after.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field, StrictInt, StrictStr, ValidationError

from thecal.apps.clinic.store import PatientObservation, PatientToken
from thecal.apps.clinic.store import access as limits
from thecal.apps.clinic.web.deps import desk_of
from thecal.errors import InputError

PAIN_LOINC = "72514-3"  # pain severity 0-10, verbal numeric rating (LOINC), as the FHIR export codes it
MAX_BODY_BYTES = 16 * 1024  # an observation is a few hundred bytes; the notes at most 2,000 characters
OBSERVATIONS_PATH = "/api/patient/observations"
# YYYY-MM-DDTHH:MM, optional seconds, optional offset; this century (the store refuses entries before 2000).
EFFECTIVE_LOCAL_PATTERN = (
    r"^20\d\d-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)?$"
)

router = APIRouter(prefix="/api/patient", tags=["patient's therapy manager"])
bearer = HTTPBearer(
    auto_error=False,
    scheme_name="PatientDiaryToken",
    description="The diary token the clinic issued for one patient (shown once on the patient's page).",
)


class ObservationIn(BaseModel):
    """One diary entry, as the patient's therapy manager sends it."""

    source_id: StrictStr = Field(
        min_length=1, max_length=limits.SOURCE_ID_CHARS, description="the id of the entry on the device"
    )
    effective_local: StrictStr = Field(
        max_length=limits.EFFECTIVE_LOCAL_CHARS,
        pattern=EFFECTIVE_LOCAL_PATTERN,
        description="when the entry was made: YYYY-MM-DDTHH:MM[:SS], the device's local time; "
        "with an offset (+01:00) it is exact, without one it is read in the clinic's time zone",
        examples=["2026-11-28T08:30"],
    )
    pain_0_10: StrictInt = Field(ge=0, le=10, description="pain now, 0 (none) to 10 (worst imaginable)")
    loinc: Literal["72514-3"] = Field(description="the code of a 0-10 pain score: LOINC 72514-3")
    activity: StrictStr = Field(default="", max_length=limits.ACTIVITY_CHARS, description="what the patient was doing")
    side_effects: list[Annotated[StrictStr, Field(max_length=limits.SIDE_EFFECT_CHARS)]] = Field(
        default_factory=list, max_length=limits.MAX_SIDE_EFFECTS, description='e.g. ["nausea", "itching"]'
    )
    notes: StrictStr = Field(default="", max_length=limits.NOTES_CHARS, description="the patient's own words")


class ObservationOut(BaseModel):
    """What the clinic kept: the entry's id in the clinic and when it arrived (nothing else of the record)."""

    status: Literal["kept", "repeat"] = Field(description="kept: new (201); repeat: kept before, nothing written (200)")
    observation_id: int
    source_id: str
    pain_0_10: int
    effective_at: str = Field(description="the entry's time in UTC, as the clinic reads it")
    received_at: str


class ProblemOut(BaseModel):
    """Why the request was refused: in words, and as field, value, problem, limit and what to do."""

    detail: str
    error: dict[str, Any]


# Per field: the limit, and what the sender should do, in the words an error gives.
_FIELD_WORDS: dict[str, tuple[str, str]] = {
    "source_id": (f"1 to {limits.SOURCE_ID_CHARS} characters", "send the entry's own id as text"),
    "effective_local": (
        "YYYY-MM-DDTHH:MM, optionally with seconds and an offset",
        "send when the entry was made, e.g. 2026-11-28T08:30",
    ),
    "pain_0_10": ("a whole number from 0 to 10", "send the pain score as a whole number, 0 (none) to 10 (worst)"),
    "loinc": (PAIN_LOINC, f"code the pain score as LOINC {PAIN_LOINC} (pain severity 0-10)"),
    "activity": (f"at most {limits.ACTIVITY_CHARS} characters", "send the activity as one short word"),
    "side_effects": (
        f"at most {limits.MAX_SIDE_EFFECTS} words of at most {limits.SIDE_EFFECT_CHARS} characters",
        'send a list of words, e.g. ["nausea"]',
    ),
    "notes": (f"at most {limits.NOTES_CHARS} characters", "shorten the notes"),
}

_REFUSED_TOKEN: dict[int | str, dict[str, Any]] = {
    401: {
        "model": ProblemOut,
        "description": "no diary token, or one the clinic does not know or has revoked: nothing was kept",
    },
    413: {"model": ProblemOut, "description": f"a body larger than {MAX_BODY_BYTES} bytes"},
    422: {"model": ProblemOut, "description": "a field out of its limits: its name, limit and what to do"},
}


def _unauthorised(problem: str, action: str) -> JSONResponse:
    error = InputError("Authorization", "(hidden)", problem, action, limit="Bearer <the clinic's diary token>")
    return JSONResponse(
        {"detail": str(error), "error": error.to_dict()},
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer realm="thecal clinic"'},
    )


async def _body(request: Request) -> bytes | None:
    """The request's body, or None once it is longer than MAX_BODY_BYTES (the rest is not read)."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            return None
    return bytes(body)


def _validation_problem(exc: ValidationError) -> InputError:
    """The first problem pydantic found, as an InputError naming the field, the value, the limit and the action."""
    first = exc.errors()[0]
    loc = [str(part) for part in first.get("loc", ())]
    field = loc[0] if loc else "body"
    name = field + "".join(f"[{part}]" for part in loc[1:])
    if field not in _FIELD_WORDS:
        if first.get("type") == "json_invalid":
            return InputError("body", "(not JSON)", "is not a JSON object", "send the observation as a JSON object")
        return InputError(name, first.get("input"), first.get("msg", "is not valid"), "send an observation object")
    limit, action = _FIELD_WORDS[field]
    problem = "is missing" if first.get("type") == "missing" else f"is not acceptable ({first.get('msg', '')})"
    value = first.get("input") if first.get("type") != "missing" else None
    return InputError(name, value, problem, action, limit=limit)


def _effective_at(text: str) -> datetime:
    """The entry's time: exact with an offset; without one, the clinic's local time (the device's, most often)."""
    limit, action = _FIELD_WORDS["effective_local"]
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise InputError("effective_local", text, "is not a date and time", action, limit=limit) from None
    try:
        # Without an offset the time is read in the clinic's zone: the patient's device keeps local time, no zone.
        return when.astimezone(UTC) if when.tzinfo is not None else when.astimezone().astimezone(UTC)
    except (ValueError, OverflowError):
        raise InputError("effective_local", text, "is out of range", action, limit=limit) from None


def _answer(observation: PatientObservation, created: bool) -> JSONResponse:
    body = ObservationOut(
        status="kept" if created else "repeat",
        observation_id=observation.id,
        source_id=observation.source_id,
        pain_0_10=observation.pain_0_10,
        effective_at=observation.effective_at.isoformat(),
        received_at=observation.received_at.isoformat(),
    )
    return JSONResponse(body.model_dump(), status_code=201 if created else 200)


@router.post(
    "/observations",
    summary="A patient's diary entry, sent by their therapy manager with the clinic's diary token",
    status_code=201,
    response_model=ObservationOut,
    responses={200: {"model": ObservationOut, "description": "a repeat of an entry kept before"}, **_REFUSED_TOKEN},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": ObservationIn.model_json_schema()}},
        }
    },
)
async def receive_observation(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> JSONResponse:
    """Append one diary entry to the token's patient's record (pain score, activity, side effects, notes); audited.

    No session and no CSRF token: the token in the Authorization header is the only credential (see the module).
    """
    if credentials is None:
        return _unauthorised(
            "is missing: this route takes only a diary token",
            "send Authorization: Bearer with the token the clinic issued for the patient",
        )
    store = desk_of(request).store
    token: PatientToken | None = store.patient_token(credentials.credentials)
    if token is None:
        return _unauthorised(
            "is not a diary token of this clinic, or it was revoked",
            "ask the clinic for a new diary token and enter it in the therapy manager",
        )
    body = await _body(request)
    if body is None:
        error = InputError("body", f"more than {MAX_BODY_BYTES} bytes", "is too large", "send one diary entry")
        return JSONResponse({"detail": str(error), "error": error.to_dict()}, status_code=413)
    try:
        entry = ObservationIn.model_validate_json(body)
    except ValidationError as exc:
        raise _validation_problem(exc) from None
    effective_at = _effective_at(entry.effective_local)
    try:
        observation, created = store.add_observation(
            token.patient_id,
            token_id=token.id,
            source_id=entry.source_id,
            effective_at=effective_at,
            effective_local=entry.effective_local,
            pain_0_10=entry.pain_0_10,
            activity=entry.activity,
            side_effects=entry.side_effects,
            notes=entry.notes,
        )
    except InputError as exc:
        if exc.field != "token":
            raise
        # Revoked between the look-up above and the write: refused like any revoked token.
        return _unauthorised("was revoked", "ask the clinic for a new diary token and enter it in the therapy manager")
    return _answer(observation, created)


__all__ = ["OBSERVATIONS_PATH", "PAIN_LOINC", "ObservationIn", "router"]

"""The JSON API: its OpenAPI schema, the plan → execute flow with a one-time token, the audit; schemathesis on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from tests.clinic.clinic_web_rig import Browser, WebClinic, web_clinic

from thecal.apps.clinic.web.core import PROGRAM_ACTION
from thecal.pump.core.schedule import DoseSchedule
from thecal.therapy import PatientFacts

SERIAL = "NGP-API-1"


@pytest.fixture
def clinic(clinic_db_url: str, tmp_path: Path) -> Iterator[WebClinic]:
    """A clinic with one patient and a running pump (morphine 10 mg/mL, 1 mg/day, set up 7 days ago)."""
    with web_clinic(clinic_db_url, tmp_path) as clinic:
        clinic.add_patient("MRN-0001", "Okoye", serial=SERIAL)
        clinic.start_pump(SERIAL)
        yield clinic


def _session(browser: Browser) -> dict[str, str]:
    data = browser.http.get("/api/session").json()
    return {"X-CSRF-Token": data["csrf_token"]}


def test_the_openapi_schema_lists_the_api_and_no_page(clinic: WebClinic) -> None:
    """/openapi.json describes the JSON API; the pages are not in it."""
    schema = clinic.client().http.get("/openapi.json").json()
    paths = set(schema["paths"])
    assert {
        "/api/session",
        "/api/patients",
        "/api/patients/{patient_id}",
        "/api/pumps/{serial}/plan",
        "/api/plans/{token}/execute",
        "/api/audit",
        "/api/patients/{patient_id}/fhir",
    } <= paths
    assert all(p.startswith("/api/") for p in paths)


def test_plan_and_execute_through_the_api_send_once_and_are_audited(clinic: WebClinic) -> None:
    """A plan is the therapy layer's to_dict with a token; unconfirmed sends nothing; confirmed sends once."""
    nurse = clinic.client("nurse")
    headers = _session(nurse)
    listed = nurse.http.get("/api/patients").json()
    assert listed["total"] == 1 and listed["patients"][0]["pumps"] == [SERIAL]
    detail = nurse.http.get(f"/api/patients/{listed['patients'][0]['id']}").json()
    assert detail["implants"][0]["pump_serial"] == SERIAL
    answer = nurse.http.post(
        f"/api/pumps/{SERIAL}/plan",
        json={"workflow": "prescribe", "fields": {"mode": "continuous", "dose": "1100 mcg/day"}},
        headers=headers,
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    plan = body["plan"]
    assert plan["intent"] == "Prescribe" and plan["allowed"] is True
    changed = [s for s in plan["settings"] if s["changed"]]
    assert changed[0]["old"]["dose"] == "1 mg/day" and changed[0]["new"]["dose"] == "1.1 mg/day"
    token = body["token"]
    not_confirmed = nurse.http.post(f"/api/plans/{token}/execute", json={"confirmed": False}, headers=headers)
    assert not_confirmed.json()["status"] == "not_confirmed"
    service = clinic.pumps.service(SERIAL, patient=PatientFacts())
    assert service.port.interrogate().prescription == DoseSchedule.continuous(1_000_000)
    first = nurse.http.post(f"/api/plans/{token}/execute", json={"confirmed": True}, headers=headers).json()
    assert first["status"] == "done" and first["verification"]["ok"] is True
    second = nurse.http.post(f"/api/plans/{token}/execute", json={"confirmed": True}, headers=headers).json()
    assert second["audit_id"] == first["audit_id"]
    assert service.port.interrogate().prescription == DoseSchedule.continuous(1_100_000)
    entries = nurse.http.get("/api/audit").json()["entries"]
    programs = [e for e in entries if e["action"] == PROGRAM_ACTION]
    assert len(programs) == 1 and programs[0]["username"] == "nokafor" and programs[0]["pump_serial"] == SERIAL


def test_api_mistakes_are_named_and_refused(clinic: WebClinic) -> None:
    """A dose without its unit, an unknown workflow, an unknown patient: 4xx with the field and what to do."""
    nurse = clinic.client("nurse")
    headers = _session(nurse)
    answer = nurse.http.post(
        f"/api/pumps/{SERIAL}/plan", json={"workflow": "prescribe", "fields": {"dose": "1"}}, headers=headers
    )
    assert answer.status_code == 422 and answer.json()["error"]["field"] == "dose"
    answer = nurse.http.post(f"/api/pumps/{SERIAL}/plan", json={"workflow": "explode"}, headers=headers)
    assert answer.status_code == 422 and "workflow" in answer.json()["detail"]
    assert nurse.http.get("/api/patients/999").status_code == 404


@pytest.fixture
def api_clinic(tmp_path: Path) -> Iterator[WebClinic]:
    """A clinic on SQLite with one patient and no running pump, for the API fuzzing."""
    with web_clinic(f"sqlite:///{tmp_path / 'clinic.db'}", tmp_path) as clinic:
        clinic.add_patient("MRN-0001", "Okoye", serial=SERIAL)
        yield clinic


def test_the_api_gives_no_server_error_whatever_it_is_sent(api_clinic: WebClinic) -> None:
    """schemathesis, bounded (25 cases an operation, fixed seed): every operation, signed in: never a 5xx."""
    browser = api_clinic.client("physician")
    cookies, headers = dict(browser.http.cookies), _session(browser)
    schema = schemathesis.openapi.from_asgi("/openapi.json", api_clinic.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 8  # session, patients, a patient, its FHIR bundle, plan, execute, audit, a diary entry

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
        def no_server_error(case: Any) -> None:
            case.call_and_validate(headers=headers, cookies=cookies, checks=[not_a_server_error])

        no_server_error()

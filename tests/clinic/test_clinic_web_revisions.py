"""Catheter revisions and visits in the app: recorded on the patient's page, the new catheter given to the pump.

A revision is kept in the record, then the pump is given the new catheter's
volume through the therapy layer's `Implant` intent and the empty catheter is
primed, each through plan → Finish screen → one confirmed send → verify →
audit. A visit is listed on the patient's page and heads the visit summary
PDF. Physicians and nurses record; a viewer reads. The tests that program a
pump run on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pypdf import PdfReader
from tests.clinic.clinic_web_rig import TOKEN, WebClinic, web_clinic
from tests.clinic.test_clinic_web_finish import words

from thecal.apps.clinic.web.core import PROGRAM_ACTION
from thecal.therapy import PatientFacts, PumpSnapshot

SERIAL = "NGP-REV-1"
MRN = "MRN-V-0001"
NO_PUMP_MRN = "MRN-V-0002"


@pytest.fixture
def clinic(clinic_db_url: str, tmp_path: Path) -> Iterator[WebClinic]:
    """A patient whose pump serial is SERIAL (45 cm of catheter at 2.2 µL/cm, tip at T10), and one without a pump."""
    with web_clinic(clinic_db_url, tmp_path) as clinic:
        clinic.add_patient(MRN, "Okoye", serial=SERIAL)
        clinic.add_patient(NO_PUMP_MRN, "Lindqvist", serial=None)
        yield clinic


def pump_now(clinic: WebClinic) -> PumpSnapshot:
    """What the pump holds now, read beside the app."""
    return clinic.pumps.service(SERIAL, patient=PatientFacts()).port.interrogate()


def programmed(clinic: WebClinic) -> list[object]:
    """The audit entries of programming sessions, oldest first."""
    return [e for e in reversed(clinic.store.audit_trail()) if e.action == PROGRAM_ACTION]


def today() -> str:
    """The clinic's date today (UTC), as the revision form takes it."""
    return datetime.now(UTC).date().isoformat()


def revision_form(**changes: str) -> dict[str, str]:
    """A catheter revision as a nurse types it: today, 40 cm, tip at T9, a note of two lines."""
    return {"revised_on": today(), "new_length": "40 cm", "new_tip_level": "T9", "note": "tip moved\r\nto T9"} | changes


def test_a_revision_gives_the_pump_the_new_catheter_then_primes_it_each_through_its_finish_screen(
    clinic: WebClinic,
) -> None:
    """Revision recorded; the new catheter's 0.088 mL planned (nothing sent), sent, verified; then the priming bolus."""
    clinic.start_pump(SERIAL)
    assert pump_now(clinic).catheter_volume_nl == 99_000  # 45 cm at 2.2 µL/cm
    patient = clinic.patients[MRN]
    implant = clinic.store.implant_by_serial(SERIAL)
    assert implant is not None
    nurse = clinic.client("nurse")
    page = nurse.get(f"/patients/{patient.id}")
    assert "Record a catheter revision" in words(page.text)
    form_url = f"/patients/{patient.id}/implants/{implant.id}/revisions"
    assert f'action="{form_url}"' in page.text

    recorded = nurse.post(form_url, revision_form(), follow_redirects=False)
    assert recorded.status_code == 303 and recorded.headers["location"] == f"/pumps/{SERIAL}/workflow/catheter"
    (revision,) = clinic.store.revisions(implant.id)
    assert (revision.new_length_cm, revision.new_tip_level, revision.note) == (40.0, "T9", "tip moved\nto T9")
    assert clinic.store.implant_by_serial(SERIAL).catheter_length_cm == 40.0  # type: ignore[union-attr]
    revised = [e for e in clinic.store.audit_trail() if e.action == "implant.revise"]
    assert len(revised) == 1 and revised[0].username == "nokafor" and revised[0].pump_serial == SERIAL
    assert revised[0].old == {"catheter_length_cm": 45.0, "tip_level": "T10"}

    form = nurse.get(f"/pumps/{SERIAL}/workflow/catheter")
    text = words(form.text)
    assert "Catheter revision recorded: 40 cm, tip at T9." in text and "prime the empty catheter" in text
    assert 'name="length" size="14" value="40 cm"' in form.text
    assert 'name="volume_per_cm" size="14" value="2.2 uL/cm"' in form.text
    assert "40.0 cm at 2.2 µL/cm, tip at T9" in text

    finish = nurse.post(f"/pumps/{SERIAL}/workflow/catheter", {"length": "40 cm", "volume_per_cm": "2.2 uL/cm"})
    text = words(finish.text)
    assert "Finish: record the implanted catheter" in text and "May be sent:" in text
    row = re.search(
        r"catheter volume \(dead volume with the pump's tubing\) 0\.099 mL \(dead volume ([0-9.]+) mL\) "
        r"0\.088 mL \(dead volume ([0-9.]+) mL\) changes",
        text,
    )
    assert row is not None, text
    dead_ml = row.group(2)  # the new catheter and the pump's tubing
    assert "A new catheter holds no drug: plan a priming bolus of the dead volume" in text
    assert pump_now(clinic).catheter_volume_nl == 99_000 and programmed(clinic) == []  # the Finish screen sent nothing

    token = TOKEN.search(finish.text)
    assert token is not None
    result = nurse.post(f"/plans/{token.group(1)}/send", {"confirm": "send"})
    text = words(result.text)
    assert "Done and verified." in text and "Next: prime the new catheter" in text
    assert f'href="/pumps/{SERIAL}/workflow/priming"' in result.text
    assert pump_now(clinic).catheter_volume_nl == 88_000

    priming = nurse.post(f"/pumps/{SERIAL}/workflow/priming", {})
    text = words(priming.text)
    assert "Finish: priming bolus" in text and "May be sent:" in text
    assert f"Priming moves {dead_ml} mL" in text  # the dead volume with the new catheter
    token = TOKEN.search(priming.text)
    assert token is not None
    assert "Done and verified." in words(nurse.post(f"/plans/{token.group(1)}/send", {"confirm": "send"}).text)
    assert pump_now(clinic).mode == "priming"
    entries = programmed(clinic)
    assert [e.new["intent"] for e in entries] == ["record the implanted catheter", "priming bolus"]  # type: ignore[attr-defined]
    assert all(e.username == "nokafor" and e.new["status"] == "done" for e in entries)  # type: ignore[attr-defined]
    assert entries[0].new["catheter volume (dead volume with the pump's tubing)"].startswith("0.088 mL")  # type: ignore[attr-defined]
    listed = words(nurse.get(f"/patients/{patient.id}").text)
    assert f"{today()}: 40.0 cm, tip at T9. tip moved to T9" in listed


def test_a_revision_typed_wrong_is_refused_naming_the_field_and_nothing_is_kept(clinic: WebClinic) -> None:
    """A length without its unit, a date before the implant, an implant of another patient: refused, not recorded."""
    patient = clinic.patients[MRN]
    implant = clinic.store.implant_by_serial(SERIAL)
    assert implant is not None
    physician = clinic.client("physician")
    physician.get(f"/patients/{patient.id}")
    url = f"/patients/{patient.id}/implants/{implant.id}/revisions"
    bare = physician.post(url, revision_form(new_length="40"))
    assert bare.status_code == 400 and "new_length" in words(bare.text)
    early = physician.post(url, revision_form(revised_on="2025-12-31"))
    assert early.status_code == 400 and "is before the pump was implanted" in words(early.text)
    other = clinic.patients[NO_PUMP_MRN]
    elsewhere = physician.post(f"/patients/{other.id}/implants/{implant.id}/revisions", revision_form())
    assert elsewhere.status_code == 400 and "is not an implant of this patient" in words(elsewhere.text)
    bad_catheter = physician.post(f"/pumps/{SERIAL}/workflow/catheter", {"length": "45 cm", "volume_per_cm": "2.2"})
    assert bad_catheter.status_code == 400 and "volume_per_cm" in words(bad_catheter.text)
    assert clinic.store.revisions(implant.id) == []
    assert clinic.store.implant_by_serial(SERIAL).catheter_length_cm == 45.0  # type: ignore[union-attr]


def test_visits_are_recorded_listed_and_head_the_visit_summary(clinic: WebClinic) -> None:
    """A nurse records a visit (kind, two-line summary); it is listed with who, audited, and heads the PDF."""
    patient = clinic.patients[NO_PUMP_MRN]
    nurse = clinic.client("nurse")
    page = nurse.get(f"/patients/{patient.id}")
    assert "No visit recorded." in words(page.text) and 'action="/patients/' in page.text
    url = f"/patients/{patient.id}/visits"
    recorded = nurse.post(
        url, {"kind": "follow-up", "summary": "Pain 4/10.\r\nNo side effects."}, follow_redirects=True
    )
    assert recorded.status_code == 200 and "Visit recorded: follow-up." in words(recorded.text)
    (visit,) = clinic.store.visits(patient.id)
    assert (visit.kind, visit.summary) == ("follow-up", "Pain 4/10.\nNo side effects.")
    text = words(recorded.text)
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d follow-up Pain 4/10\. No side effects\. Nurse Okafor", text)
    audited = [e for e in clinic.store.audit_trail(patient_id=patient.id) if e.action == "visit.add"]
    assert len(audited) == 1 and audited[0].username == "nokafor"

    wrong_kind = nurse.post(url, {"kind": "party", "summary": "x"})
    assert wrong_kind.status_code == 400 and "is not a kind of visit" in words(wrong_kind.text)
    empty = nurse.post(url, {"kind": "refill", "summary": "  "})
    assert empty.status_code == 400 and "summary" in words(empty.text)
    assert len(clinic.store.visits(patient.id)) == 1

    nurse.post(url, {"kind": "titration", "summary": "Raised to 1.2 mg/day."})
    pdf = nurse.get(f"/patients/{patient.id}/visit-summary.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    content = pdf.content
    assert isinstance(content, bytes)
    text = re.sub(r"\s+", " ", " ".join(p.extract_text() for p in PdfReader(io.BytesIO(content)).pages))
    assert "Kind titration" in text and "Raised to 1.2 mg/day." in text  # the latest visit heads the summary

    api = nurse.get(f"/api/patients/{patient.id}").json()  # type: ignore[attr-defined]
    assert [v["kind"] for v in api["visits"]] == ["follow-up", "titration"]


def test_a_viewer_reads_revisions_and_visits_but_records_neither(clinic: WebClinic) -> None:
    """The viewer sees the record without the forms; a posted revision or visit is refused and changes nothing."""
    patient = clinic.patients[MRN]
    implant = clinic.store.implant_by_serial(SERIAL)
    assert implant is not None
    physician = clinic.users["physician"]
    clinic.store.add_revision(
        implant.id, revised_on=datetime.now(UTC).date(), new_length_cm=42.5, new_tip_level="T8", note="", by=physician
    )
    clinic.store.add_visit(patient.id, at=datetime.now(UTC), kind="implant", summary="Pump implanted.", by=physician)
    viewer = clinic.client("viewer")
    page = viewer.get(f"/patients/{patient.id}")
    text = words(page.text)
    assert "42.5 cm, tip at T8" in text and "Pump implanted." in text and "Dr Ana Rivera" in text
    assert "Record a catheter revision" not in text and "Record the visit" not in text
    refused = viewer.post(f"/patients/{patient.id}/implants/{implant.id}/revisions", revision_form())
    assert refused.status_code == 403 and "record a catheter revision" in words(refused.text)
    refused = viewer.post(f"/patients/{patient.id}/visits", {"kind": "follow-up", "summary": "a viewer's visit"})
    assert refused.status_code == 403 and "record a visit" in words(refused.text)
    assert viewer.get(f"/pumps/{SERIAL}/workflow/catheter").status_code == 403
    assert len(clinic.store.revisions(implant.id)) == 1 and len(clinic.store.visits(patient.id)) == 1
    admin = clinic.client("admin")
    admin.get("/")
    assert admin.post(f"/patients/{patient.id}/visits", {"kind": "other", "summary": "x"}).status_code == 403

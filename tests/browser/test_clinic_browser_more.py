"""More of the clinician programmer in Debian's chromium: interrogation, PTM, bolus, exports, revision and visit.

One clinic (SQLite) serves the module with two running pumps (morphine
10 mg/mL at 1 mg/day, the handset on): one for the interrogation, the PTM
settings and the clinician bolus; one for the catheter revision, whose priming
would stand in the way of a bolus. The browser clicks what a clinician clicks.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from tests.browser.browser_rig import live_server
from tests.browser.test_clinic_browser_workflows import sign_in
from tests.clinic.clinic_web_rig import WebClinic, web_clinic

from thecal.apps.clinic.web.core import PROGRAM_ACTION
from thecal.therapy import PatientFacts, PumpSnapshot

SERIAL = "NGP-BRM-1"
REVISED = "NGP-BRM-2"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[WebClinic, str]]:
    """Two patients with running pumps, served live."""
    root: Path = tmp_path_factory.mktemp("more")
    with web_clinic(f"sqlite:///{root / 'clinic.db'}", root) as clinic:
        clinic.add_patient("MRN-BM-0001", "Okoye", serial=SERIAL)
        clinic.add_patient("MRN-BM-0002", "Lindqvist", serial=REVISED)
        clinic.start_pump(SERIAL, ptm=True)
        clinic.start_pump(REVISED)
        with live_server(clinic.app) as base:
            yield clinic, base


def pump_now(clinic: WebClinic, serial: str = SERIAL) -> PumpSnapshot:
    """What a pump holds now, read beside the app."""
    return clinic.pumps.service(serial, patient=PatientFacts()).port.interrogate()


def intents(clinic: WebClinic, serial: str) -> list[object]:
    """The intents of the programming sessions of one pump, oldest first."""
    entries = [e for e in reversed(clinic.store.audit_trail()) if e.action == PROGRAM_ACTION]
    return [e.new["intent"] for e in entries if e.pump_serial == serial]  # type: ignore[index]


def test_interrogation_shows_the_replace_by_date_and_the_pumps_facts(page: Page, served: tuple[WebClinic, str]) -> None:
    """ "Interrogate": status, reservoir, battery, a replace-by date (projected, never unknown), the event log."""
    clinic, base = served
    sign_in(page, base, "nurse")
    page.goto(f"{base}/pumps/{SERIAL}")
    expect(page.locator("#pairing")).to_contain_text("Paired")
    page.get_by_role("button", name="Interrogate").click()
    expect(page.get_by_role("heading", name="Interrogation")).to_be_visible()
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text("running the prescription")
    expect(facts).to_contain_text("morphine 10 mg/mL")
    expect(facts).to_contain_text(re.compile(r"1[67]\.\d+ mL of 20 mL"))
    expect(facts).to_contain_text(re.compile(r"\d+\.\d\d % used"))
    replace_by = page.locator("#replace-by")
    expect(replace_by).to_contain_text(re.compile(r"\d{4}-\d\d-\d\d \(projected"))
    expect(replace_by).not_to_contain_text("unknown")
    expect(page.locator("table.log")).to_contain_text("fill")
    page.goto(f"{base}/pumps/{SERIAL}")  # the page read again: the last interrogation's date, by whom
    expect(page.locator("#last-replace-by")).to_contain_text(re.compile(r"\d{4}-\d\d-\d\d .*by nokafor"))
    assert [e for e in clinic.store.audit_trail() if e.action == "pump.interrogate"]


def test_ptm_settings_show_the_worst_case_daily_dose_and_are_sent(page: Page, served: tuple[WebClinic, str]) -> None:
    """0.08 mg, 10 min, 3 h lockout, 3 a day on 1 mg/day basal: the worst 24 h is 1.24 mg, said before sending."""
    clinic, base = served
    sign_in(page, base, "nurse")
    page.goto(f"{base}/pumps/{SERIAL}/workflow/ptm")
    page.get_by_label("Each demand dose").fill("0.08 mg")
    page.get_by_label("Each dose over").fill("10 min")
    page.get_by_label("Lockout between doses").fill("3 h")
    page.get_by_label("Most doses in any 24 h").fill("3")
    page.get_by_role("button", name="Plan it: show the Finish screen").click()
    expect(page.get_by_role("heading", name="Finish: patient's handset (PTM) settings")).to_be_visible()
    expect(page.locator("#warnings")).to_contain_text("In the worst 24 h the patient could get 1.24 mg of morphine")
    row = page.locator("#settings tr.changed")
    expect(row).to_contain_text("0.08 mg of morphine (0.008 mL) over 10 min, lockout 3 h, at most 3 per 24 h")
    demand = pump_now(clinic).demand
    assert demand is not None and demand.dose_ng == 100_000  # nothing sent yet
    page.get_by_role("button", name="Send to pump").click()
    expect(page.locator("#result-status")).to_contain_text("Done and verified.")
    demand = pump_now(clinic).demand
    assert demand is not None and (demand.dose_ng, demand.max_per_24h) == (80_000, 3)


def test_a_clinician_bolus_is_planned_sent_and_verified(page: Page, served: tuple[WebClinic, str]) -> None:
    """0.05 mg over 10 min: its dose and volume on the Finish screen, sent once, verified, in the audit."""
    clinic, base = served
    sign_in(page, base, "physician")
    page.goto(f"{base}/pumps/{SERIAL}/workflow/bolus")
    page.get_by_label("Bolus dose").fill("0.05 mg")
    page.get_by_label("Over", exact=True).fill("10 min")
    page.get_by_role("button", name="Plan it: show the Finish screen").click()
    expect(page.get_by_role("heading", name="Finish: clinician bolus")).to_be_visible()
    expect(page.locator("#verdict")).to_contain_text("May be sent")
    assert "clinician bolus" not in intents(clinic, SERIAL)
    page.get_by_role("button", name="Send to pump").click()
    expect(page.locator("#result-status")).to_contain_text("Done and verified.")
    expect(page.locator("main")).to_contain_text("ClinicianBolus: done")
    assert intents(clinic, SERIAL)[-1] == "clinician bolus"
    assert pump_now(clinic).bolus is not None  # the bolus is running


def test_the_dashboard_and_patient_exports_answer(page: Page, served: tuple[WebClinic, str]) -> None:
    """The dashboard's CSV and the patient's PDF, CSV and FHIR links each download a file of their kind."""
    clinic, base = served
    sign_in(page, base, "viewer")
    with page.expect_download() as got:
        page.get_by_role("link", name="Export CSV: these patients").click()
    download = got.value
    assert re.fullmatch(r"patients-\d{4}-\d\d-\d\d\.csv", download.suggested_filename)
    rows = list(csv.reader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
    assert {"Okoye", "Lindqvist"} <= {cell for row in rows for cell in row}
    page.get_by_role("link", name="Okoye, Sam").click()
    with page.expect_download() as got:
        page.get_by_role("link", name="Visit summary (PDF)").click()
    pdf = got.value
    assert re.fullmatch(r"visit-summary-MRN-BM-0001-\d{4}-\d\d-\d\d\.pdf", pdf.suggested_filename)
    assert Path(pdf.path()).read_bytes().startswith(b"%PDF-")
    for name, kind in (
        ("Export CSV: fills", "text/csv"),
        ("Export CSV: pain scores", "text/csv"),
        ("FHIR export (JSON)", "application/fhir+json"),
    ):
        href = page.get_by_role("link", name=name).get_attribute("href")
        answer = page.request.get(f"{base}{href}")
        assert answer.status == 200 and answer.headers["content-type"].startswith(kind), name
    actions = {e.action for e in clinic.store.audit_trail()}
    assert {"report.pdf", "export.csv", "export.fhir"} <= actions


def test_a_catheter_revision_then_the_new_catheter_and_its_priming_and_a_visit(
    page: Page, served: tuple[WebClinic, str]
) -> None:
    """Revision on the patient's page → the new catheter's Finish screen → sent → priming offered, sent; a visit."""
    clinic, base = served
    sign_in(page, base, "nurse")
    page.get_by_role("link", name="Lindqvist, Sam").click()
    page.get_by_text("Record a catheter revision").click()
    page.get_by_label("New catheter length").fill("40 cm")
    page.get_by_label("New tip level").fill("T9")
    page.get_by_label("Revision note").fill("tip moved to T9")
    page.get_by_role("button", name="Record the revision").click()
    expect(page.get_by_role("heading", name="New catheter (after an implant or a revision)")).to_be_visible()
    expect(page.get_by_role("status").first).to_contain_text("Catheter revision recorded: 40 cm, tip at T9.")
    expect(page.get_by_label("Catheter length (pump to tip)")).to_have_value("40 cm")
    expect(page.get_by_label("Catheter volume per cm")).to_have_value("2.2 uL/cm")
    page.get_by_role("button", name="Plan it: show the Finish screen").click()
    expect(page.get_by_role("heading", name="Finish: record the implanted catheter")).to_be_visible()
    row = page.locator("#settings tr.changed")
    expect(row).to_contain_text("0.099 mL")
    expect(row).to_contain_text("0.088 mL")
    expect(page.locator("#warnings")).to_contain_text("A new catheter holds no drug")
    assert pump_now(clinic, REVISED).catheter_volume_nl == 99_000  # nothing sent yet
    page.get_by_role("button", name="Send to pump").click()
    expect(page.locator("#result-status")).to_contain_text("Done and verified.")
    assert pump_now(clinic, REVISED).catheter_volume_nl == 88_000
    page.get_by_role("link", name="Plan the priming bolus").click()
    page.get_by_role("button", name="Plan it: show the Finish screen").click()
    expect(page.get_by_role("heading", name="Finish: priming bolus")).to_be_visible()
    page.get_by_role("button", name="Send to pump").click()
    expect(page.locator("#result-status")).to_contain_text("Done and verified.")
    assert pump_now(clinic, REVISED).mode == "priming"
    assert intents(clinic, REVISED) == ["record the implanted catheter", "priming bolus"]

    page.get_by_role("link", name="The patient").click()
    expect(page.locator("ul.revisions")).to_contain_text("40.0 cm, tip at T9. tip moved to T9")
    page.get_by_label("Kind of visit").select_option("catheter revision")
    page.get_by_label("What was done").fill("Catheter revised to T9, new catheter primed.")
    page.get_by_role("button", name="Record the visit").click()
    expect(page.locator("#visits")).to_contain_text("catheter revision")
    expect(page.locator("#visits")).to_contain_text("Catheter revised to T9, new catheter primed.")
    expect(page.locator("#visits")).to_contain_text("Nurse Okafor")

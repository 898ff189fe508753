"""The clinician programmer in Debian's chromium: sign-in, dashboard, and programming through the Finish screen.

The app runs with uvicorn in a thread over a real SQLite store and a real pump
daemon (a process) set up days before; the browser clicks what a clinician
clicks and reads what they read.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from tests.browser.browser_rig import live_server
from tests.clinic.clinic_web_rig import PASSWORD, STAFF, WebClinic, web_clinic

from thecal.apps.clinic.web.core import PROGRAM_ACTION
from thecal.pump.core.schedule import DoseSchedule
from thecal.therapy import PatientFacts

SERIAL = "NGP-BRW-1"
REASON = "Cancer pain crisis; tolerant to 400 mg/day oral morphine, watched in clinic"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[WebClinic, str]]:
    """A clinic with one patient whose pump was set up 2.9 days ago (a raise now meets a soft limit), served live."""
    with web_clinic(f"sqlite:///{tmp_path / 'clinic.db'}", tmp_path) as clinic:
        clinic.add_patient("MRN-0001", "Okoye", serial=SERIAL)
        clinic.add_patient("MRN-0002", "Lindqvist", serial=None)
        clinic.start_pump(SERIAL, days_ago=2.9)
        with live_server(clinic.app) as base:
            yield clinic, base


def sign_in(page: Page, base: str, who: str) -> None:
    """Sign in through the login form as one of the staff."""
    page.goto(f"{base}/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Username").fill(STAFF[who][0])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Patients by urgency")).to_be_visible()


def held(clinic: WebClinic) -> DoseSchedule | None:
    """The prescription the pump holds, read beside the app."""
    return clinic.pumps.service(SERIAL, patient=PatientFacts()).port.interrogate().prescription


def plan_prescription(page: Page, base: str, dose: str) -> None:
    """Open the prescription form of the pump and plan one continuous daily dose."""
    page.goto(f"{base}/pumps/{SERIAL}/workflow/prescribe")
    page.get_by_label("Continuous: one daily dose around the clock").check()
    page.get_by_label("Daily dose", exact=True).fill(dose)
    page.get_by_role("button", name="Plan it: show the Finish screen").click()
    expect(page.get_by_role("heading", name="Finish: prescription change")).to_be_visible()


def test_sign_in_dashboard_and_patient(page: Page, served: tuple[WebClinic, str], tmp_path: Path) -> None:
    """A physician signs in, sees the patients ranked with reasons in words, searches, opens a patient."""
    _, base = served
    sign_in(page, base, "physician")
    table = page.get_by_role("table")
    expect(table).to_contain_text("Okoye, Sam")
    expect(table).to_contain_text(f"pump {SERIAL}: never interrogated in this clinic")
    page.get_by_label("Search (name or MRN)").fill("Lindq")
    page.get_by_role("button", name="Show").click()
    expect(table).to_contain_text("Lindqvist")
    expect(table).not_to_contain_text("Okoye")
    page.get_by_role("link", name="Lindqvist, Sam").click()
    expect(page.get_by_role("heading", name="Lindqvist, Sam")).to_be_visible()
    page.screenshot(path=str(tmp_path / "patient.png"))
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_a_prescription_change_through_the_finish_screen_reaches_the_pump_only_on_send(
    page: Page, served: tuple[WebClinic, str]
) -> None:
    """Interrogate, plan, read old against new, press Send once: the pump holds it, the audit says who."""
    clinic, base = served
    sign_in(page, base, "physician")
    page.goto(f"{base}/pumps/{SERIAL}")
    page.get_by_role("button", name="Interrogate").click()
    expect(page.locator("#replace-by")).to_contain_text("projected")
    plan_prescription(page, base, "0.9 mg/day")
    row = page.locator("#settings tr.changed")
    expect(row).to_contain_text("basal dose, every day from 00:00")
    expect(row).to_contain_text("1 mg/day (0.1 mL/day)")
    expect(row).to_contain_text("0.9 mg/day (0.09 mL/day)")
    expect(page.locator("#totals")).to_contain_text("1 mg/day before, 0.9 mg/day after")
    assert held(clinic) == DoseSchedule.continuous(1_000_000)  # the Finish screen sent nothing
    page.get_by_role("button", name="Send to pump").click()
    expect(page.locator("#result-status")).to_contain_text("Done and verified.")
    expect(page.locator("#verified")).to_contain_text("the pump holds what was confirmed")
    assert held(clinic) == DoseSchedule.continuous(900_000)
    page.go_back()  # the Finish screen again: its token is spent, so sending again sends nothing more
    page.get_by_role("button", name="Send to pump").click()
    expect(page.locator("#result-status")).to_contain_text("Done and verified.")
    entries = [e for e in clinic.store.audit_trail() if e.action == PROGRAM_ACTION]
    assert len(entries) == 1 and entries[0].username == STAFF["physician"][0]


def test_a_nurse_is_refused_a_soft_limit_and_a_physician_passes_it_with_a_reason_the_audit_shows(
    page: Page, served: tuple[WebClinic, str]
) -> None:
    """The therapy layer's words refuse the nurse; the physician's reason passes and shows in the audit trail."""
    clinic, base = served
    sign_in(page, base, "nurse")
    plan_prescription(page, base, "1.2 mg/day")
    expect(page.locator("#verdict")).to_contain_text("Cannot be sent")
    expect(page.locator("#findings")).to_contain_text("time since the last increase")
    page.get_by_label("Written reason").fill(REASON)
    page.get_by_role("button", name="Plan again with this reason").click()
    expect(page.locator("#override-note")).to_contain_text("A nurse cannot pass a soft limit, whatever the reason")
    expect(page.get_by_role("button", name="Send to pump")).to_have_count(0)
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, base, "physician")
    plan_prescription(page, base, "1.2 mg/day")
    page.get_by_label("Written reason").fill(REASON)
    page.get_by_role("button", name="Plan again with this reason").click()
    expect(page.locator("#verdict")).to_contain_text("passed by Dr Ana Rivera with a written reason")
    page.get_by_role("button", name="Send to pump").click()
    expect(page.locator("#result-status")).to_contain_text("Done and verified.")
    assert held(clinic) == DoseSchedule.continuous(1_200_000)
    page.get_by_role("link", name="Audit trail").click()
    audit = page.get_by_role("table")
    expect(audit).to_contain_text(REASON)
    expect(audit).to_contain_text("pump.program")


def test_a_per_hour_slip_is_flagged_on_the_finish_screen_and_nothing_is_sent(
    page: Page, served: tuple[WebClinic, str]
) -> None:
    """24 mg/day typed for 1 mg/day: the Finish screen warns of a per-hour slip; leaving it sends nothing."""
    clinic, base = served
    sign_in(page, base, "nurse")
    plan_prescription(page, base, "24 mg/day")
    warning = page.locator(".warn-per_hour_slip")
    expect(warning).to_contain_text("check whether a dose per hour was entered as a dose per day")
    expect(warning).to_contain_text("Warning — check the dose")
    page.get_by_role("button", name="Cancel: send nothing").click()
    expect(page.get_by_role("status").first).to_contain_text("nothing was sent")
    assert held(clinic) == DoseSchedule.continuous(1_000_000)
    assert [e for e in clinic.store.audit_trail() if e.action == PROGRAM_ACTION] == []


def test_nothing_reaches_the_pump_without_the_finish_confirmation(page: Page, served: tuple[WebClinic, str]) -> None:
    """A planned change left on its Finish screen, and a viewer who tries the form: the pump keeps its dose."""
    clinic, base = served
    sign_in(page, base, "nurse")
    plan_prescription(page, base, "0.8 mg/day")
    page.goto(f"{base}/")  # walks away from the Finish screen
    assert held(clinic) == DoseSchedule.continuous(1_000_000)
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, base, "viewer")
    page.goto(f"{base}/pumps/{SERIAL}/workflow/prescribe")
    expect(page.get_by_role("alert")).to_contain_text("never programs")
    assert held(clinic) == DoseSchedule.continuous(1_000_000)
    assert [e for e in clinic.store.audit_trail() if e.action == PROGRAM_ACTION] == []

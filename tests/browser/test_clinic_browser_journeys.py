"""Every clinic workflow not driven elsewhere, in Debian's chromium: Finish screen, send, then the pump read again.

One clinic (SQLite) serves the module with five running pumps, each set up
days before by the test rig: ziconotide at 1.2 mcg/day (titration), morphine
for the alarm test and the periodic bolus, morphine for the priming bolus, and
two morphine pumps that lay in an MRI scanner 20 hours ago (their motor-stall
alarm waits for the clinic: one for the alarm review, one for the post-MRI
check). A sixth patient, not yet implanted, has the screening trial, the notes,
the pain score and the visit. Each programming test goes through the Finish
screen, sends once, and reads on the result page what the pump holds when
interrogated again.
"""

from __future__ import annotations

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

ZICONOTIDE = "NGP-BRJ-Z"
MORPHINE = "NGP-BRJ-M"
PRIMING = "NGP-BRJ-P"
STALLED = "NGP-BRJ-S"
SCANNED = "NGP-BRJ-R"
PLAN = "Plan it: show the Finish screen"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[WebClinic, str]]:
    """Six patients, five with running pumps, served live."""
    root: Path = tmp_path_factory.mktemp("journeys")
    with web_clinic(f"sqlite:///{root / 'clinic.db'}", root) as clinic:
        for mrn, family, serial in (
            ("MRN-BJ-0001", "Adeyemi", ZICONOTIDE),
            ("MRN-BJ-0002", "Brennan", MORPHINE),
            ("MRN-BJ-0003", "Castillo", PRIMING),
            ("MRN-BJ-0004", "Dubois", STALLED),
            ("MRN-BJ-0005", "Eriksen", SCANNED),
            ("MRN-BJ-0006", "Fujita", None),
        ):
            clinic.add_patient(mrn, family, serial=serial)
        clinic.start_pump(ZICONOTIDE, drug="ziconotide", conc_ng_per_ml=5_000, dose_ng_per_day=1_200, days_ago=3)
        clinic.start_pump(MORPHINE)
        clinic.start_pump(PRIMING)
        clinic.start_pump(STALLED, days_ago=2, mri_hours_ago=20)
        clinic.start_pump(SCANNED, days_ago=2, mri_hours_ago=20)
        with live_server(clinic.app) as base:
            yield clinic, base


def pump_now(clinic: WebClinic, serial: str) -> PumpSnapshot:
    """What a pump holds now, read beside the app."""
    return clinic.pumps.service(serial, patient=PatientFacts()).port.interrogate()


def intents(clinic: WebClinic, serial: str) -> list[object]:
    """The intents of the programming sessions of one pump, oldest first."""
    entries = [e for e in reversed(clinic.store.audit_trail()) if e.action == PROGRAM_ACTION]
    return [e.new["intent"] for e in entries if e.pump_serial == serial]  # type: ignore[index]


def plan(page: Page, base: str, serial: str, workflow: str, finish: str, **fields: str) -> None:
    """Open a workflow's form, fill its fields by their labels, and plan it: the Finish screen."""
    page.goto(f"{base}/pumps/{serial}/workflow/{workflow}")
    for label, value in fields.items():
        page.get_by_label(label.replace("_", " "), exact=True).fill(value)
    page.get_by_role("button", name=PLAN).click()
    expect(page.get_by_role("heading", name=f"Finish: {finish}")).to_be_visible()
    expect(page.get_by_text("Nothing has been sent yet.")).to_be_visible()


def send(page: Page) -> None:
    """Press "Send to pump" once: the result says done and verified, and shows the pump read again."""
    page.get_by_role("button", name="Send to pump").click()
    expect(page.locator("#result-status")).to_contain_text("Done and verified.")
    expect(page.get_by_role("heading", name="Read again after sending")).to_be_visible()


def test_titration_refuses_ziconotides_step_and_interval_in_words_and_sends_a_permitted_step(
    page: Page, served: tuple[WebClinic, str]
) -> None:
    """1.2 mcg/day for 3 days: 6 mcg/day is a step beyond 2.4 mcg/day (hard); 2.4 mcg/day is sent and read back;
    a raise at once after it meets the 24 h between increases (hard). Nothing refused reaches the pump."""
    clinic, base = served
    sign_in(page, base, "physician")
    plan(page, base, ZICONOTIDE, "titrate", "titration", New_daily_dose="6 mcg/day")
    expect(page.locator("#verdict")).to_contain_text("Cannot be sent")
    findings = page.locator("#findings")
    expect(findings).to_contain_text("hard limit: no one may pass it")
    expect(findings).to_contain_text("Prialt US PI: raise by no more than 2.4 mcg/day at a time")
    expect(page.get_by_role("button", name="Send to pump")).to_have_count(0)
    plan(page, base, ZICONOTIDE, "titrate", "titration", New_daily_dose="2.4 mcg/day")
    expect(page.locator("#verdict")).to_contain_text("May be sent")
    expect(page.locator("#totals")).to_contain_text("1.2 mcg/day before, 2.4 mcg/day after")
    assert pump_now(clinic, ZICONOTIDE).prescription.max_dose_ng_per_day() == 1_200  # type: ignore[union-attr]
    send(page)
    expect(page.locator("#reread-settings")).to_contain_text("2.4 mcg/day")
    assert pump_now(clinic, ZICONOTIDE).prescription.max_dose_ng_per_day() == 2_400  # type: ignore[union-attr]
    plan(page, base, ZICONOTIDE, "titrate", "titration", New_daily_dose="3.6 mcg/day")
    expect(page.locator("#verdict")).to_contain_text("Cannot be sent")
    expect(page.locator("#findings")).to_contain_text("Prialt EU SmPC: at least 24 h between dose increases")
    assert intents(clinic, ZICONOTIDE) == ["titration"]


def test_the_alarm_test_sounds_each_tone_and_the_result_says_what_each_means(
    page: Page, served: tuple[WebClinic, str]
) -> None:
    clinic, base = served
    sign_in(page, base, "nurse")
    page.goto(f"{base}/pumps/{MORPHINE}")
    page.get_by_role("link", name="Alarm test").click()
    expect(page.locator("#alarm-test-about")).to_contain_text("the single tone first, then the two-tone")
    page.get_by_role("button", name=PLAN).click()
    expect(page.get_by_role("heading", name="Finish: alarm test")).to_be_visible()
    expect(page.locator("#what-happens")).to_contain_text("The pump will sound the single tone")
    expect(page.locator("#what-happens")).to_contain_text("Nothing in the therapy changes")
    expect(page.locator("#settings tr.changed")).to_have_count(0)
    before = pump_now(clinic, MORPHINE)
    send(page)
    expect(page.locator("#verified")).to_contain_text(re.compile(r"event log shows the alarm tone test \(entry \d+\)"))
    rows = page.locator("#tones tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("single")
    expect(rows.nth(0)).to_contain_text("Call your clinic today")
    expect(rows.nth(1)).to_contain_text("two-tone")
    expect(rows.nth(1)).to_contain_text("Call your clinic now")
    expect(page.locator("#reread")).to_contain_text("running the prescription")
    after = pump_now(clinic, MORPHINE)
    assert (after.prescription, after.alarms, after.periodic) == (before.prescription, (), before.periodic)
    assert intents(clinic, MORPHINE)[-1] == "alarm test"


def test_a_periodic_bolus_is_switched_on_then_off(page: Page, served: tuple[WebClinic, str]) -> None:
    clinic, base = served
    sign_in(page, base, "physician")
    plan(
        page,
        base,
        MORPHINE,
        "periodic",
        "periodic bolus",
        Each_bolus="0.2 mg",
        Each_bolus_over="30 min",
        Every="6 h",
        **{"First bolus at (HH:MM, pump clock)": "08:00"},
    )
    changed = page.locator("#settings tr.changed")
    expect(changed).to_contain_text(re.compile(r"0\.2 mg of morphine \(0\.02 mL\) over 30 min every 6 h"))
    assert pump_now(clinic, MORPHINE).periodic is None
    send(page)
    expect(page.locator("#reread-settings")).to_contain_text("0.2 mg of morphine (0.02 mL) over 30 min every 6 h")
    periodic = pump_now(clinic, MORPHINE).periodic
    assert periodic is not None and (periodic.dose_ng, periodic.interval_ms) == (200_000, 6 * 3_600_000)
    page.goto(f"{base}/pumps/{MORPHINE}/workflow/periodic")
    page.get_by_label("End the periodic bolus").check()
    page.get_by_role("button", name=PLAN).click()
    expect(page.get_by_role("heading", name="Finish: periodic bolus off")).to_be_visible()
    send(page)
    expect(page.locator("#reread-settings")).not_to_contain_text("every 6 h")
    assert pump_now(clinic, MORPHINE).periodic is None
    assert intents(clinic, MORPHINE)[-2:] == ["periodic bolus", "periodic bolus off"]


def test_a_priming_bolus_of_the_dead_volume(page: Page, served: tuple[WebClinic, str]) -> None:
    clinic, base = served
    sign_in(page, base, "nurse")
    plan(page, base, PRIMING, "priming", "priming bolus")
    expect(page.locator("#verdict")).to_contain_text("May be sent")
    assert pump_now(clinic, PRIMING).mode == "running"
    send(page)
    expect(page.locator("main")).to_contain_text("PrimingBolus: done")
    expect(page.locator("#reread")).to_contain_text("priming the catheter, in place of the basal flow")
    assert pump_now(clinic, PRIMING).mode == "priming"


def test_alarm_review_refuses_what_ends_by_itself_and_clears_the_stall(
    page: Page, served: tuple[WebClinic, str]
) -> None:
    clinic, base = served
    sign_in(page, base, "nurse")
    page.goto(f"{base}/pumps/{STALLED}/workflow/clear-alarm")
    expect(page.locator("main")).to_contain_text("Alarms now: CRITICAL: the motor stalled: delivery was interrupted")
    page.get_by_label("Alarm to clear (its cause handled)").select_option("low_reservoir")
    page.get_by_role("button", name=PLAN).click()
    expect(page.locator("#verdict")).to_contain_text("Cannot be sent")
    expect(page.locator("#findings")).to_contain_text("it ends by a refill above the alarm threshold")
    page.goto(f"{base}/pumps/{STALLED}/workflow/clear-alarm")
    page.get_by_label("Alarm to clear (its cause handled)").select_option("motor_stall")
    page.get_by_role("button", name=PLAN).click()
    expect(page.get_by_role("heading", name="Finish: clear an alarm")).to_be_visible()
    assert pump_now(clinic, STALLED).alarms == ("motor_stall",)
    send(page)
    expect(page.locator("#reread")).to_contain_text(re.compile(r"Alarms\s*none"))
    assert pump_now(clinic, STALLED).alarms == ()
    assert intents(clinic, STALLED) == ["clear an alarm"]


def test_the_post_mri_check_after_a_motor_stall(page: Page, served: tuple[WebClinic, str]) -> None:
    """The stall logged and recovered, its alarm cleared through the Finish screen, therapy shown running."""
    clinic, base = served
    sign_in(page, base, "nurse")
    page.goto(f"{base}/pumps/{SCANNED}")
    page.get_by_role("link", name="Post-MRI check").click()
    page.get_by_role("button", name=PLAN).click()
    expect(page.get_by_role("heading", name="Finish: check after an MRI")).to_be_visible()
    expect(page.locator("#warnings")).to_contain_text(re.compile("may lag 2 to 24 h", re.IGNORECASE))
    send(page)
    expect(page.locator("main")).to_contain_text("ClearAlarm: done")
    reread = page.locator("#reread")
    expect(reread).to_contain_text("running the prescription")
    expect(reread).to_contain_text(re.compile(r"Alarms\s*none"))
    page.get_by_role("link", name="Back to the pump").click()
    page.get_by_role("button", name="Interrogate").click()
    log = page.locator("table.log")
    for event in ("motor stall", "motor recovered", "alarm cleared"):
        expect(log).to_contain_text(event)
    assert pump_now(clinic, SCANNED).mode == "running"


def test_a_screening_trial_then_a_note_a_pain_score_and_a_visit(page: Page, served: tuple[WebClinic, str]) -> None:
    """A physician records the trial and its decision, then the note, score and visit of the day; all audited."""
    clinic, base = served
    patient_id = clinic.patients["MRN-BJ-0006"].id
    sign_in(page, base, "physician")
    page.get_by_role("link", name="Fujita, Sam").click()
    page.get_by_text("Record a screening trial and its decision").click()
    page.get_by_label("Drug", exact=True).fill("morphine")
    page.get_by_label("Doses given").fill("0.2 mg intrathecal bolus")
    page.get_by_label("Pain before (0–10)").fill("8")
    page.get_by_label("Pain after (0–10)").fill("3")
    page.get_by_label("Decision", exact=True).fill("implant")
    page.get_by_role("button", name="Record the trial").click()
    main = page.locator("main")
    expect(main).to_contain_text("Screening trial recorded.")
    expect(main).to_contain_text(
        "morphine, 0.2 mg intrathecal bolus: pain 8/10 before, 3/10 after; decision: implant "
        "(rule: at least 50 % pain relief)"
    )
    page.get_by_label("New note").fill("Trial went well; implant planned.")
    page.get_by_role("button", name="Save the note").click()
    expect(main).to_contain_text("Note saved.")
    expect(main).to_contain_text("Trial went well; implant planned.")
    page.get_by_label("Pain score now (0–10)").fill("3")
    page.get_by_label("Note", exact=True).fill("after the trial")
    page.get_by_role("button", name="Save the score").click()
    expect(main).to_contain_text("Pain score 3/10 saved.")
    page.get_by_label("Kind of visit").select_option("screening trial")
    page.get_by_label("What was done").fill("Intrathecal trial of morphine 0.2 mg; decision: implant.")
    page.get_by_role("button", name="Record the visit").click()
    expect(page.locator("#visits")).to_contain_text("Intrathecal trial of morphine 0.2 mg; decision: implant.")
    [trial] = clinic.store.trials(patient_id)
    assert (trial.pain_before, trial.pain_after, trial.decision) == (8, 3, "implant")
    assert [s.score for s in clinic.store.pain_scores(patient_id)] == [3]
    actions = {e.action.split(".")[0] for e in clinic.store.audit_trail(patient_id=patient_id)}
    assert {"trial", "note", "pain", "visit"} <= {a.split("_")[0] for a in actions}

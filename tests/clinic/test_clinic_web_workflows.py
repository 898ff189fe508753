"""The workflows beyond the prescription, refill, bolus and PTM: each through plan → Finish → send → verify → audit.

Priming after a catheter revision, the periodic bolus on and off, ziconotide's
titration rules, alarm review and clearing, the check after an MRI, the
screening trial, notes and pain scores, and the elective replacement. Each
test runs on SQLite and on PostgreSQL with its own pump daemon where it
programs one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from tests.clinic.clinic_web_rig import TOKEN, WebClinic, web_clinic
from tests.clinic.test_clinic_web_finish import words

from thecal.apps.clinic.web.core import PROGRAM_ACTION
from thecal.therapy import PatientFacts, PumpSnapshot
from thecal.therapy.settings import wall_text

SERIAL = "NGP-WF-1"


@pytest.fixture
def clinic(clinic_db_url: str, tmp_path: Path) -> Iterator[WebClinic]:
    """A clinic with one patient whose pump serial is SERIAL; each test starts the pump it needs."""
    with web_clinic(clinic_db_url, tmp_path) as clinic:
        clinic.add_patient("MRN-W-0001", "Okoye", serial=SERIAL)
        yield clinic


def pump_now(clinic: WebClinic, serial: str = SERIAL) -> PumpSnapshot:
    """What the pump holds now, read beside the app."""
    return clinic.pumps.service(serial, patient=PatientFacts()).port.interrogate()


def programmed(clinic: WebClinic) -> list[object]:
    """The audit entries of programming sessions, oldest first."""
    return [e for e in reversed(clinic.store.audit_trail()) if e.action == PROGRAM_ACTION]


def send(browser: object, finish_html: str) -> str:
    """Press "Send to pump" on a Finish screen; the result page's words."""
    token = TOKEN.search(finish_html)
    assert token is not None, words(finish_html)
    return words(browser.post(f"/plans/{token.group(1)}/send", {"confirm": "send"}).text)  # type: ignore[attr-defined]


def test_a_priming_bolus_after_a_catheter_revision(clinic: WebClinic) -> None:
    """A revision recorded, the priming bolus (the dead volume, as fast as allowed) planned, sent and verified."""
    clinic.start_pump(SERIAL)
    implant = clinic.store.implant_by_serial(SERIAL)
    assert implant is not None
    clinic.store.add_revision(
        implant.id,
        revised_on=date(2026, 2, 1),
        new_length_cm=40.0,
        new_tip_level="T9",
        note="catheter tip moved",
        by=clinic.users["physician"],
    )
    nurse = clinic.client("nurse")
    assert "40.0 cm, tip at T9" in words(nurse.get(f"/patients/{clinic.patients['MRN-W-0001'].id}").text)
    form = nurse.get(f"/pumps/{SERIAL}/workflow/priming")
    assert "empty: the dead volume of the tubing and catheter" in words(form.text)
    finish = nurse.post(f"/pumps/{SERIAL}/workflow/priming", {})
    text = words(finish.text)
    assert "Finish: priming bolus" in text and "May be sent:" in text and "Nothing has been sent yet." in text
    assert not [e for e in programmed(clinic)]  # the Finish screen sent nothing
    result = send(nurse, finish.text)
    assert "Done and verified." in result and "PrimingBolus: done" in result
    assert pump_now(clinic).mode == "priming"
    entry = programmed(clinic)[-1]
    assert entry.new["intent"] == "priming bolus" and entry.new["status"] == "done"  # type: ignore[attr-defined]
    assert entry.username == "nokafor" and entry.pump_serial == SERIAL  # type: ignore[attr-defined]


def test_a_periodic_bolus_is_switched_on_then_off(clinic: WebClinic) -> None:
    """Each bolus as a dose and a volume on the Finish screen; on, verified; off, verified; both audited."""
    clinic.start_pump(SERIAL)
    physician = clinic.client("physician")
    fields = {"dose": "0.2 mg", "duration": "30 min", "every": "6 h", "first": "08:00"}
    finish = physician.post(f"/pumps/{SERIAL}/workflow/periodic", fields)
    text = words(finish.text)
    assert "Finish: periodic bolus" in text and "May be sent:" in text
    assert re.search(
        r"periodic bolus off 0\.2 mg of morphine \(0\.02 mL\) over 30 min every 6 h, from \S+ 08:00 changes", text
    )
    assert "Done and verified." in send(physician, finish.text)
    periodic = pump_now(clinic).periodic
    assert periodic is not None and periodic.dose_ng == 200_000 and periodic.interval_ms == 6 * 3_600_000
    off = physician.post(f"/pumps/{SERIAL}/workflow/periodic", {"off": "on"})
    assert "Finish: periodic bolus off" in words(off.text)
    assert "Done and verified." in send(physician, off.text)
    assert pump_now(clinic).periodic is None
    assert [e.new["intent"] for e in programmed(clinic)] == ["periodic bolus", "periodic bolus off"]  # type: ignore[attr-defined]


def test_ziconotide_titration_refuses_a_step_too_soon_in_the_therapy_layers_words(clinic: WebClinic) -> None:
    """12 h after the start, a raise is refused (hard limit, no reason passes it); a decrease is sent and verified."""
    clinic.start_pump(SERIAL, drug="ziconotide", conc_ng_per_ml=5_000, dose_ng_per_day=1_200, days_ago=0.5)
    physician = clinic.client("physician")
    form = words(physician.get(f"/pumps/{SERIAL}/workflow/titrate").text)
    assert "ziconotide 5 mcg/mL" in form
    finish = physician.post(f"/pumps/{SERIAL}/workflow/titrate", {"dose": "2.4 mcg/day"})
    text = words(finish.text)
    assert "Finish: titration" in text and "Cannot be sent:" in text and 'id="send"' not in finish.text
    assert "hard limit: no one may pass it" in text
    assert "Prialt EU SmPC: at least 24 h between dose increases" in text
    assert "1.2 mcg/day before, 2.4 mcg/day after" in text
    assert pump_now(clinic).prescription.max_dose_ng_per_day() == 1_200  # type: ignore[union-attr]
    down = physician.post(f"/pumps/{SERIAL}/workflow/titrate", {"dose": "0.6 mcg/day"})
    assert "May be sent:" in words(down.text)
    assert "Done and verified." in send(physician, down.text)
    assert pump_now(clinic).prescription.max_dose_ng_per_day() == 600  # type: ignore[union-attr]
    entry = programmed(clinic)[-1]
    assert entry.new["intent"] == "titration"  # type: ignore[attr-defined]
    assert entry.old == {"basal dose, every day from 00:00": "1.2 mcg/day (0.24 mL/day)"}  # type: ignore[attr-defined]


def test_alarm_review_refuses_an_alarm_not_cleared_by_hand_and_clears_the_motor_stall(clinic: WebClinic) -> None:
    """The review lists the active alarm in words; low reservoir cannot be cleared by hand; the stall is cleared."""
    clinic.start_pump(SERIAL, days_ago=2, mri_hours_ago=20)
    nurse = clinic.client("nurse")
    form = words(nurse.get(f"/pumps/{SERIAL}/workflow/clear-alarm").text)
    assert "Alarms now: CRITICAL: the motor stalled: delivery was interrupted" in form
    wrong = nurse.post(f"/pumps/{SERIAL}/workflow/clear-alarm", {"alarm": "low_reservoir"})
    text = words(wrong.text)
    assert "Cannot be sent:" in text and "The low_reservoir alarm is not active." in text
    assert "it ends by a refill above the alarm threshold" in text
    finish = nurse.post(f"/pumps/{SERIAL}/workflow/clear-alarm", {"alarm": "motor_stall"})
    assert "May be sent:" in words(finish.text)
    assert "Done and verified." in send(nurse, finish.text)
    assert pump_now(clinic).alarms == ()
    assert programmed(clinic)[-1].new["intent"] == "clear an alarm"  # type: ignore[attr-defined]


def test_the_post_mri_check_clears_the_stall_and_shows_therapy_running(clinic: WebClinic) -> None:
    """After a scan: the Finish screen warns of the lag in words; sent, the stall alarm is gone and therapy runs."""
    clinic.start_pump(SERIAL, days_ago=2, mri_hours_ago=20)
    assert pump_now(clinic).alarms == ("motor_stall",)
    nurse = clinic.client("nurse")
    finish = nurse.post(f"/pumps/{SERIAL}/workflow/post-mri", {})
    text = words(finish.text)
    assert "Finish: check after an MRI" in text and "May be sent:" in text
    assert "the return to the programmed rate may lag 2 to 24 h" in text.lower()
    assert "Done and verified." in send(nurse, finish.text)
    after = pump_now(clinic)
    assert after.alarms == () and after.mode == "running"
    interrogated = words(nurse.post(f"/pumps/{SERIAL}/interrogate").text)
    assert "Status running the prescription" in interrogated and "Alarms none" in interrogated
    assert "motor stall" in interrogated and "alarm cleared" in interrogated  # the event log keeps both
    assert programmed(clinic)[-1].new["intent"] == "check after an MRI"  # type: ignore[attr-defined]


def test_a_physician_records_a_screening_trial_and_its_decision(clinic: WebClinic) -> None:
    """The drug, doses, pain before and after, the decision and its rule; a nurse may not record the decision."""
    patient_id = clinic.patients["MRN-W-0001"].id
    trial = {
        "drug": "morphine",
        "doses": "0.2 mg intrathecal bolus",
        "pain_before": "8",
        "pain_after": "3",
        "rule": "at least 50 % pain relief",
        "decision": "implant",
    }
    nurse = clinic.client("nurse")
    nurse.get(f"/patients/{patient_id}")
    refused = nurse.post(f"/patients/{patient_id}/trials", trial)
    assert refused.status_code == 403 and "Only a physician may record a screening trial" in words(refused.text)
    physician = clinic.client("physician")
    physician.get(f"/patients/{patient_id}")
    page = physician.post(f"/patients/{patient_id}/trials", trial, follow_redirects=True)
    assert "Screening trial recorded." in words(page.text)
    assert (
        "morphine, 0.2 mg intrathecal bolus: pain 8/10 before, 3/10 after; decision: implant "
        "(rule: at least 50 % pain relief)" in words(page.text)
    )
    [kept] = clinic.store.trials(patient_id)
    assert (kept.pain_before, kept.pain_after, kept.decision) == (8, 3, "implant")
    assert any(e.action.startswith("trial") and e.username == "drrivera" for e in clinic.store.audit_trail())
    bad = physician.post(f"/patients/{patient_id}/trials", trial | {"pain_after": "11"})
    assert bad.status_code == 400 and "give a whole number from 0 (no pain) to 10 (worst)" in words(bad.text)


def test_notes_and_pain_scores_are_kept_and_audited(clinic: WebClinic) -> None:
    """A nurse writes a note and a pain score; both show on the page, are kept and audited; a bad score is refused."""
    patient_id = clinic.patients["MRN-W-0001"].id
    nurse = clinic.client("nurse")
    nurse.get(f"/patients/{patient_id}")
    page = nurse.post(
        f"/patients/{patient_id}/notes", {"text": "Wound healed; pump pocket dry."}, follow_redirects=True
    )
    assert "Note saved." in words(page.text) and "Wound healed; pump pocket dry. Nurse Okafor" in words(page.text)
    page = nurse.post(
        f"/patients/{patient_id}/pain-scores", {"score": "4", "note": "after walking"}, follow_redirects=True
    )
    assert "Pain score 4/10 saved." in words(page.text) and "4/10 clinic after walking" in words(page.text)
    assert [n.text for n in clinic.store.notes(patient_id)] == ["Wound healed; pump pocket dry."]
    assert [(s.score, s.source) for s in clinic.store.pain_scores(patient_id)] == [(4, "clinic")]
    actions = [e.action for e in clinic.store.audit_trail(patient_id=patient_id) if e.username == "nokafor"]
    assert any(a.startswith("note") for a in actions) and any(a.startswith("pain") for a in actions)
    bad = nurse.post(f"/patients/{patient_id}/pain-scores", {"score": "ten"})
    assert bad.status_code == 400 and "is not a pain score" in words(bad.text)
    assert len(clinic.store.pain_scores(patient_id)) == 1


def test_the_replace_by_date_is_projected_for_a_new_pump_and_the_indicator_reached_is_said_and_ranked(
    clinic: WebClinic,
) -> None:
    """A week-old pump: a projected date years ahead, no warning. A pump past its indicator: the words, the end of
    service as the date (never unknown, never beyond it), and the dashboard ranks it first."""
    clinic.add_patient("MRN-W-0002", "Abbott", serial="NGP-WF-OLD")
    clinic.start_pump(SERIAL)
    clinic.start_old_pump("NGP-WF-OLD", days_past_eri=15)
    nurse = clinic.client("nurse")
    new = words(nurse.post(f"/pumps/{SERIAL}/interrogate").text)
    projected = re.search(r"Replace by (\d{4})-\d\d-\d\d \(projected from the battery used and the present flow\)", new)
    assert projected is not None and int(projected.group(1)) >= date.today().year + 5
    assert "Elective replacement:" not in new and "unknown" not in new
    old_page = nurse.post("/pumps/NGP-WF-OLD/interrogate").text
    old = words(old_page)
    assert "the battery is near its end (ERI): plan pump replacement" in old
    found = re.search(r"Replace by (\d{4}-\d\d-\d\d) \(elective replacement indicator reached; this is the end", old)
    assert found is not None
    snapshot = pump_now(clinic, "NGP-WF-OLD")
    eri_wall = snapshot.status["eri_at_ms"] + snapshot.wall_ms - snapshot.now_ms  # type: ignore[operator]
    end_of_service = eri_wall + snapshot.model.end_of_service_after_eri_ms
    assert found.group(1) == wall_text(end_of_service)[:10]
    assert (
        f"Elective replacement: The elective replacement indicator was reached on {wall_text(eri_wall)[:10]}: the "
        f"pump stops at its end of service on {found.group(1)}. Plan the replacement surgery before that date." in old
    )
    board = words(nurse.get("/").text)
    assert board.index("Abbott") < board.index("Okoye")
    assert re.search(
        r"pump NGP-WF-OLD: elective replacement indicator reached: replace the pump within 7\d(\.\d)? days "
        rf"\({found.group(1)}\), its end of service",
        board,
    )
    # Anyone who reads the pump's page, a viewer too, sees the date from the last interrogation.
    viewer = words(clinic.client("viewer").get("/pumps/NGP-WF-OLD").text)
    assert f"Replace by: {found.group(1)} (elective replacement indicator reached" in viewer
    assert "Elective replacement: The elective replacement indicator was reached" in viewer


def test_the_alarm_test_sounds_each_tone_once_and_changes_nothing(clinic: WebClinic) -> None:
    """The Finish screen says what will happen; sent, the pump's log shows the test, the result page lists each tone
    with the patient's instruction, and every setting, alarm and the reservoir stay as they were."""
    clinic.start_pump(SERIAL)
    nurse = clinic.client("nurse")
    page = words(nurse.get(f"/pumps/{SERIAL}").text)
    assert "Alarm test" in page and "not offered" not in page
    before = pump_now(clinic)
    finish = nurse.post(f"/pumps/{SERIAL}/workflow/alarm-test", {})
    text = words(finish.text)
    assert "Finish: alarm test" in text and "May be sent:" in text and "Nothing has been sent yet." in text
    assert (
        "What will happen: The pump will sound the single tone (a non-critical alarm: the reservoir is low; the "
        "battery is near its end (ERI): plan pump replacement), then the two-tone sound (a critical alarm:" in text
    )
    assert "Nothing in the therapy changes: no setting, no alarm and no reservoir volume" in text
    assert 'class="changed"' not in finish.text  # every setting "unchanged"
    assert not programmed(clinic)
    result = send(nurse, finish.text)
    assert "Done and verified." in result and "AlarmToneTest: done" in result
    assert re.search(r"its event log shows the alarm tone test \(entry \d+\)", result)
    assert "single a single tone, about once an hour (not urgent, but do not ignore it). the reservoir is low" in result
    assert "Call your clinic today to arrange a visit." in result
    assert "two-tone two tones, repeated (a critical alarm). the reservoir is empty" in result
    assert "Call your clinic now." in result
    assert "Read again after sending" in result and "Status running the prescription Alarms none" in result
    after = pump_now(clinic)
    assert (after.prescription, after.alarms, after.mode) == (before.prescription, (), "running")
    assert after.reservoir_nl <= before.reservoir_nl  # only the basal flow moved it, no more
    log = clinic.pumps.event_log(SERIAL, before.status["log_next_seq"])  # type: ignore[arg-type]
    assert [e["detail"]["tones"] for e in log if e["kind"] == "alarm_tone_test"] == ["single,two-tone"]  # type: ignore[index]
    entry = programmed(clinic)[-1]
    assert entry.new["intent"] == "alarm test" and entry.new["status"] == "done"  # type: ignore[attr-defined]
    assert entry.old == {}  # type: ignore[attr-defined]


def test_a_viewer_is_not_offered_the_alarm_test_and_cannot_plan_it(clinic: WebClinic) -> None:
    clinic.start_pump(SERIAL)
    viewer = clinic.client("viewer")
    assert "/workflow/alarm-test" not in viewer.get(f"/pumps/{SERIAL}").text
    refused = viewer.post(f"/pumps/{SERIAL}/workflow/alarm-test", {})
    assert refused.status_code == 403 and "never programs a pump" in words(refused.text)

"""The Finish-screen flow against real pump daemons: plan → Finish screen → one confirmed send → verify → audit.

Each test runs on SQLite and on PostgreSQL, with its own pump daemon (a
process) set up through the therapy layer days before, as a clinic left it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest
from tests.clinic.clinic_web_rig import MG, ML, TOKEN, WebClinic, web_clinic

from thecal.apps.clinic.web.core import PROGRAM_ACTION
from thecal.pump.core.schedule import DoseSchedule, DoseStep
from thecal.therapy import PatientFacts

SERIAL = "NGP-FIN-1"
REASON = "Cancer pain crisis; tolerant to 400 mg/day oral morphine, watched in clinic"


def words(html: str) -> str:
    """A page's text as a person reads it: tags out, entities decoded, blanks collapsed."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", re.sub(r"<svg.*?</svg>", " ", html, flags=re.S))))


def held(clinic: WebClinic, serial: str = SERIAL) -> DoseSchedule | None:
    """The prescription the pump holds now, read beside the app."""
    return clinic.pumps.service(serial, patient=PatientFacts()).port.interrogate().prescription


def programmed(clinic: WebClinic) -> list[object]:
    """The audit entries of programming sessions."""
    return [e for e in clinic.store.audit_trail() if e.action == PROGRAM_ACTION]


@pytest.fixture
def clinic(clinic_db_url: str, tmp_path: Path) -> Iterator[WebClinic]:
    """A clinic with one patient whose pump (morphine 10 mg/mL, 1 mg/day, PTM on) was set up 7 days ago."""
    with web_clinic(clinic_db_url, tmp_path) as clinic:
        clinic.add_patient("MRN-0001", "Okoye", serial=SERIAL)
        clinic.start_pump(SERIAL, ptm=True)
        yield clinic


def test_a_prescription_change_goes_through_the_finish_screen_once_and_is_verified_and_audited(
    clinic: WebClinic,
) -> None:
    """Old and new side by side in dose and volume, the change marked; sent once on "Send to pump"; verified."""
    nurse = clinic.client("nurse")
    form = nurse.get(f"/pumps/{SERIAL}/workflow/prescribe")
    assert form.status_code == 200 and 'value="1 mg/day"' in form.text  # the editor starts from what the pump holds
    finish = nurse.post(f"/pumps/{SERIAL}/workflow/prescribe", {"mode": "continuous", "dose": "1200 mcg/day"})
    text = words(finish.text)
    assert finish.status_code == 200 and "Finish: prescription change" in text
    assert "basal dose, every day from 00:00 1 mg/day (0.1 mL/day) 1.2 mg/day (0.12 mL/day) changes" in text
    assert "demand dose (patient's handset)" in text and "unchanged" in text
    assert "Highest daily total of the week: 1 mg/day before, 1.2 mg/day after." in text
    assert "Nothing has been sent yet." in text and "May be sent:" in text
    assert '<tr class="changed">' in finish.text
    # The Finish screen sent nothing.
    assert held(clinic) == DoseSchedule.continuous(1 * MG) and programmed(clinic) == []
    token = TOKEN.search(finish.text).group(1)  # type: ignore[union-attr]
    result = nurse.post(f"/plans/{token}/send", {"confirm": "send"}, follow_redirects=True)
    text = words(result.text)
    assert "Done and verified." in text and "the pump holds what was confirmed" in text
    assert held(clinic) == DoseSchedule.continuous(1_200_000)
    # A second press (or a replayed form) shows the first result and sends nothing again.
    again = nurse.post(f"/plans/{token}/send", {"confirm": "send"}, follow_redirects=True)
    assert "Done and verified." in words(again.text)
    entries = programmed(clinic)
    assert len(entries) == 1
    entry = entries[0]
    assert entry.username == "nokafor" and entry.pump_serial == SERIAL  # type: ignore[attr-defined]
    assert entry.old == {"basal dose, every day from 00:00": "1 mg/day (0.1 mL/day)"}  # type: ignore[attr-defined]
    assert entry.new["basal dose, every day from 00:00"] == "1.2 mg/day (0.12 mL/day)"  # type: ignore[attr-defined]
    assert entry.new["status"] == "done" and entry.override_reason is None  # type: ignore[attr-defined]


def test_the_flexible_editor_gives_a_week_schedule_with_a_dose_chart_and_daily_totals(clinic: WebClinic) -> None:
    """Steps by weekday and hour become the prescription; the Finish screen draws them and totals each day."""
    physician = clinic.client("physician")
    rows = {
        "mode": "flexible",
        "days_0": "every day",
        "at_0": "00:00",
        "dose_0": "0.9 mg/day",
        "days_1": "mon-fri",
        "at_1": "08:00",
        "dose_1": "1.2 mg/day",
        "days_2": "mon-fri",
        "at_2": "20:00",
        "dose_2": "0.9 mg/day",
    }
    finish = physician.post(f"/pumps/{SERIAL}/workflow/prescribe", rows)
    text = words(finish.text)
    assert finish.status_code == 200, text
    assert "<svg" in finish.text and "mon after, from 08:00: 1.2 mg/day" in finish.text
    assert "mon 1 mg/day → 1.05 mg/day" in text and "sat 1 mg/day → 0.9 mg/day" in text
    assert "basal dose, mon-fri from 08:00 none 1.2 mg/day (0.12 mL/day) changes" in text
    token = TOKEN.search(finish.text).group(1)  # type: ignore[union-attr]
    assert "Done and verified." in words(physician.post(f"/plans/{token}/send", {"confirm": "send"}).text)
    weekday = (DoseStep(0, 900_000), DoseStep(8 * 3_600_000, 1_200_000), DoseStep(20 * 3_600_000, 900_000))
    weekend = (DoseStep(0, 900_000),)
    assert held(clinic) == DoseSchedule((weekday,) * 5 + (weekend,) * 2)


def test_a_schedule_mistake_is_shown_on_the_form_naming_the_field_and_nothing_is_planned(clinic: WebClinic) -> None:
    """A day without a step from 00:00, or a dose without its unit: the form again, with what to do."""
    nurse = clinic.client("nurse")
    missing = nurse.post(
        f"/pumps/{SERIAL}/workflow/prescribe",
        {"mode": "flexible", "days_0": "mon-fri", "at_0": "00:00", "dose_0": "1 mg/day"},
    )
    assert missing.status_code == 400
    assert "sat has no step from 00:00" in words(missing.text)
    no_unit = nurse.post(f"/pumps/{SERIAL}/workflow/prescribe", {"mode": "continuous", "dose": "1.2"})
    assert no_unit.status_code == 400 and "dose" in words(no_unit.text)
    assert 'value="1.2"' in no_unit.text  # what was typed stays in the form
    assert held(clinic) == DoseSchedule.continuous(1 * MG)


def test_a_per_hour_slip_is_flagged_on_the_finish_screen(clinic: WebClinic) -> None:
    """1 mg/day to 24 mg/day: the Finish screen says in words that a dose per hour may have been typed per day."""
    physician = clinic.client("physician")
    finish = physician.post(f"/pumps/{SERIAL}/workflow/prescribe", {"mode": "continuous", "dose": "24 mg/day"})
    text = words(finish.text)
    assert "check whether a dose per hour was entered as a dose per day" in text
    assert "Warning — check the dose:" in text
    assert "Cannot be sent:" in text and 'id="send"' not in finish.text
    assert held(clinic) == DoseSchedule.continuous(1 * MG)


def test_nothing_reaches_the_pump_without_the_finish_confirmation(clinic: WebClinic) -> None:
    """No confirmation, a cancelled plan, an unknown token, a plan beyond a limit, another's plan: nothing sent."""
    nurse = clinic.client("nurse")
    finish = nurse.post(f"/pumps/{SERIAL}/workflow/prescribe", {"mode": "continuous", "dose": "1.1 mg/day"})
    token = TOKEN.search(finish.text).group(1)  # type: ignore[union-attr]
    assert nurse.post(f"/plans/{token}/send", {}).status_code == 400  # the confirmation is the explicit press
    other = clinic.client("physician")
    other.get("/")
    assert other.post(f"/plans/{token}/send", {"confirm": "send"}).status_code == 403  # not the planner's
    assert nurse.post(f"/plans/{token}/cancel", {}).status_code == 200
    assert nurse.post(f"/plans/{token}/send", {"confirm": "send"}).status_code == 400  # cancelled: gone
    assert nurse.post("/plans/made-up-token/send", {"confirm": "send"}).status_code == 400
    blocked = nurse.post(f"/pumps/{SERIAL}/workflow/prescribe", {"mode": "continuous", "dose": "24 mg/day"})
    blocked_token = re.search(r'action="/plans/([^/"]+)/cancel"', blocked.text).group(1)  # type: ignore[union-attr]
    refused = nurse.post(f"/plans/{blocked_token}/send", {"confirm": "send"}, follow_redirects=True)
    assert "Not done as planned." in words(refused.text) and "Nothing was sent" in words(refused.text)
    assert held(clinic) == DoseSchedule.continuous(1 * MG)
    assert all(e.new["status"] != "done" for e in programmed(clinic))  # type: ignore[attr-defined]


def test_clinician_bolus_and_ptm_settings_show_the_worst_case_and_are_sent(clinic: WebClinic) -> None:
    """A PTM change shows the worst-case daily dose; a clinician bolus is planned, sent and verified."""
    nurse = clinic.client("nurse")
    ptm = nurse.post(
        f"/pumps/{SERIAL}/workflow/ptm",
        {"dose": "0.08 mg", "duration": "10 min", "lockout": "3 h", "max_per_24h": "3"},
    )
    text = words(ptm.text)
    assert "In the worst 24 h the patient could get 1.24 mg of morphine" in text
    assert "0.08 mg of morphine (0.008 mL) over 10 min, lockout 3 h, at most 3 per 24 h" in text
    token = TOKEN.search(ptm.text).group(1)  # type: ignore[union-attr]
    assert "Done and verified." in words(nurse.post(f"/plans/{token}/send", {"confirm": "send"}).text)
    bolus = nurse.post(f"/pumps/{SERIAL}/workflow/bolus", {"dose": "0.05 mg", "duration": "10 min"})
    text = words(bolus.text)
    assert "Finish: clinician bolus" in text and "May be sent:" in text, text
    token = TOKEN.search(bolus.text).group(1)  # type: ignore[union-attr]
    sent = words(nurse.post(f"/plans/{token}/send", {"confirm": "send"}).text)
    assert "ClinicianBolus: done" in sent
    assert [e.new["intent"] for e in programmed(clinic)] == ["clinician bolus", "patient's handset (PTM) settings"]  # type: ignore[attr-defined]


def test_interrogation_shows_status_reservoir_battery_replace_by_and_the_event_log(clinic: WebClinic) -> None:
    """The pump page after "Interrogate": every fact in words, a replace-by date, the log; audited for the dashboard."""
    nurse = clinic.client("nurse")
    page = nurse.get(f"/pumps/{SERIAL}")
    assert "Paired: the programmer can talk to this pump." in words(page.text)
    text = words(nurse.post(f"/pumps/{SERIAL}/interrogate").text)
    assert "Status running the prescription" in text and "Alarms none" in text
    assert "Drug in the reservoir morphine 10 mg/mL" in text
    assert re.search(r"Reservoir 1[67]\.\d+ mL of 20 mL", text)
    assert re.search(r"Battery \d+\.\d\d % used", text)
    assert re.search(r"Replace by \d{4}-\d\d-\d\d \(projected", text) and "unknown" not in text
    assert "fill" in text and "power on" in text and "program" in text  # the event log
    reads = [e for e in clinic.store.audit_trail() if e.action == "pump.interrogate"]
    assert len(reads) == 1 and reads[0].new["days_to_low_reservoir"] > 100  # type: ignore[index]


def test_the_proximity_step_pairs_the_programmer_again(clinic: WebClinic) -> None:
    """ "Place the programmer head over the pump" opens the window and pairs; the pairing is audited."""
    nurse = clinic.client("nurse")
    nurse.get(f"/pumps/{SERIAL}")
    page = nurse.post(f"/pumps/{SERIAL}/place-head", follow_redirects=True)
    assert f"The programmer is paired with pump {SERIAL}." in words(page.text)
    assert any(e.action == "pump.pair" and e.username == "nokafor" for e in clinic.store.audit_trail())
    assert clinic.pumps.paired(SERIAL)


@pytest.fixture
def soft_clinic(clinic_db_url: str, tmp_path: Path) -> Iterator[WebClinic]:
    """A pump whose dose was raised 3 days ago: another raise now meets morphine's soft 3-day wait."""
    with web_clinic(clinic_db_url, tmp_path) as clinic:
        clinic.add_patient("MRN-0002", "Lindqvist", serial=SERIAL)
        clinic.start_pump(SERIAL, days_ago=2.9)
        yield clinic


def test_a_nurse_cannot_pass_a_soft_limit_and_a_physician_passes_it_with_a_reason_the_audit_shows(
    soft_clinic: WebClinic,
) -> None:
    """The therapy layer's words refuse the nurse's reason; the physician's reason passes and is audited."""
    clinic = soft_clinic
    nurse = clinic.client("nurse")
    finish = nurse.post(f"/pumps/{SERIAL}/workflow/prescribe", {"mode": "continuous", "dose": "1.2 mg/day"})
    text = words(finish.text)
    assert "soft limit, not passed" in text and "time since the last increase" in text
    assert 'id="send"' not in finish.text
    token = nurse.plan_token()
    refused = nurse.post(f"/plans/{token}/reason", {"override_reason": REASON})
    text = words(refused.text)
    assert "Override refused: A nurse cannot pass a soft limit, whatever the reason" in text
    assert 'id="send"' not in refused.text and "Cannot be sent:" in text
    physician = clinic.client("physician")
    finish = physician.post(f"/pumps/{SERIAL}/workflow/prescribe", {"mode": "continuous", "dose": "1.2 mg/day"})
    passed = physician.post(f"/plans/{physician.plan_token()}/reason", {"override_reason": REASON})
    text = words(passed.text)
    assert "May be sent:" in text and f"passed by Dr Ana Rivera (physician) with the reason: {REASON}" in text
    token = TOKEN.search(passed.text).group(1)  # type: ignore[union-attr]
    result = words(physician.post(f"/plans/{token}/send", {"confirm": "send"}).text)
    assert "Done and verified." in result and REASON in result
    assert held(clinic) == DoseSchedule.continuous(1_200_000)
    entry = programmed(clinic)[0]
    assert entry.override_reason == REASON and entry.username == "drrivera"  # type: ignore[attr-defined]
    audit = words(physician.get("/audit").text)
    assert REASON in audit and "1.2 mg/day (0.12 mL/day)" in audit


@pytest.fixture
def refill_clinic(clinic_db_url: str, tmp_path: Path) -> Iterator[WebClinic]:
    """A 40 mL pump with morphine 10 mg/mL at 1 mg/day and PTM doses of 0.1 mg."""
    with web_clinic(clinic_db_url, tmp_path) as clinic:
        clinic.add_patient("MRN-0003", "Haddad", serial=SERIAL)
        clinic.start_pump(SERIAL, model="programmable-40", fill_nl=30 * ML, ptm=True)
        yield clinic


def _refill_form(expected_ml: float, short_ml: float, conc: str = "10 mg/mL") -> dict[str, str]:
    return {
        "aspirated": f"{expected_ml - short_ml:.3f} mL",
        "drug": "morphine",
        "concentration": conc,
        "drug_confirm": "morphine",
        "concentration_confirm": conc,
        "volume": "35 mL",
    }


def _expected_ml(page: str) -> float:
    found = re.search(r'<strong id="expected">([0-9.]+) mL</strong>', page)
    assert found is not None, "the refill form shows no expected volume"
    return float(found.group(1))


def test_a_refill_short_by_2_5_ml_stops_until_the_discrepancy_is_acknowledged(refill_clinic: WebClinic) -> None:
    """2.5 mL less aspirated than expected: the Finish screen stops the refill; acknowledged, it goes on."""
    clinic = refill_clinic
    nurse = clinic.client("nurse")
    expected = _expected_ml(nurse.get(f"/pumps/{SERIAL}/workflow/refill").text)
    stopped = nurse.post(f"/pumps/{SERIAL}/workflow/refill", _refill_form(expected, 2.5))
    text = words(stopped.text)
    assert "Cannot be sent:" in text and "hard limit" in text and 'id="send"' not in stopped.text
    assert f"against {expected:g} mL expected" in text.replace(".0 mL", " mL") or "expected" in text
    form = _refill_form(expected, 2.5) | {"acknowledge_discrepancy": "on"}
    going = nurse.post(f"/pumps/{SERIAL}/workflow/refill", form)
    text = words(going.text)
    assert "May be sent:" in text and "Acknowledged by Nurse Okafor" in text
    token = TOKEN.search(going.text).group(1)  # type: ignore[union-attr]
    assert "Done and verified." in words(nurse.post(f"/plans/{token}/send", {"confirm": "send"}).text)
    implant = clinic.store.implant_by_serial(SERIAL)
    fill = clinic.store.fills(implant.id)[-1]  # type: ignore[union-attr]
    assert fill.discrepancy_acknowledged and fill.volume_ml == 35.0
    assert fill.expected_ml is not None and fill.aspirated_ml is not None
    assert fill.expected_ml - fill.aspirated_ml == pytest.approx(2.5, abs=0.01)


def test_a_refill_from_10_to_25_mg_per_ml_keeps_each_ptm_dose_in_mg_and_shows_the_new_volumes(
    refill_clinic: WebClinic,
) -> None:
    """Every dose stays a dose: the PTM dose is 0.1 mg before and after, its volume 0.01 mL then 0.004 mL."""
    clinic = refill_clinic
    physician = clinic.client("physician")
    expected = _expected_ml(physician.get(f"/pumps/{SERIAL}/workflow/refill").text)
    finish = physician.post(f"/pumps/{SERIAL}/workflow/refill", _refill_form(expected, 0.0, "25 mg/mL"))
    text = words(finish.text)
    assert "drug in the reservoir morphine 10 mg/mL morphine 25 mg/mL changes" in text
    assert (
        "0.1 mg of morphine (0.01 mL) over 10 min, lockout 2 h, at most 4 per 24 h "
        "0.1 mg of morphine (0.004 mL) over 10 min, lockout 2 h, at most 4 per 24 h" in text
    )
    assert "1 mg/day (0.1 mL/day) 1 mg/day (0.04 mL/day)" in text
    assert "Into the reservoir: 35 mL of morphine 25 mg/mL" in text


def test_the_refill_drug_and_concentration_are_typed_twice_and_never_defaulted(refill_clinic: WebClinic) -> None:
    """A confirmation that differs, or a missing drug, is refused on the form; nothing is planned."""
    nurse = refill_clinic.client("nurse")
    page = nurse.get(f"/pumps/{SERIAL}/workflow/refill")
    assert 'name="drug" size="14" value=""' in page.text and 'name="concentration" size="14" value=""' in page.text
    expected = _expected_ml(page.text)
    form = _refill_form(expected, 0.0) | {"concentration_confirm": "25 mg/mL"}
    wrong = nurse.post(f"/pumps/{SERIAL}/workflow/refill", form)
    assert wrong.status_code == 400 and "differs from the concentration typed first" in words(wrong.text)
    missing = nurse.post(f"/pumps/{SERIAL}/workflow/refill", _refill_form(expected, 0.0) | {"drug": ""})
    assert missing.status_code == 400 and "the drug on the vial label is missing" in words(missing.text)


def test_the_dashboard_ranks_a_pump_near_its_low_reservoir_alarm_first(clinic_db_url: str, tmp_path: Path) -> None:
    """Two pumps read: the one with days to its low-reservoir alarm comes first, the reason and figure in words."""
    with web_clinic(clinic_db_url, tmp_path) as clinic:
        clinic.add_patient("MRN-0010", "Abbott", serial="NGP-DASH-1")
        clinic.add_patient("MRN-0011", "Zimmer", serial="NGP-DASH-2")
        clinic.start_pump("NGP-DASH-1", fill_nl=18 * ML)
        clinic.start_pump("NGP-DASH-2", fill_nl=int(2.8 * ML))  # 0.8 mL above the 2 mL alarm: 8 days at 1 mg/day
        nurse = clinic.client("nurse")
        before = words(nurse.get("/").text)
        assert "never interrogated in this clinic" in before
        for serial in ("NGP-DASH-1", "NGP-DASH-2"):
            nurse.get(f"/pumps/{serial}")
            nurse.post(f"/pumps/{serial}/interrogate")
        board = words(nurse.get("/").text)
        assert board.index("Zimmer") < board.index("Abbott")
        assert re.search(r"pump NGP-DASH-2: low-reservoir alarm in [0-9.]+ days", board)
        by_name = words(nurse.get("/", params={"sort": "family_name"}).text)
        assert by_name.index("Abbott") < by_name.index("Zimmer")
        found = words(nurse.get("/", params={"q": "MRN-0010"}).text)
        assert "Abbott" in found and "Zimmer" not in found

"""The dashboard reads the database in a few statements whatever the number of patients, and ranks as it says.

The statements are counted with SQLAlchemy's `before_cursor_execute` event on
the store's engine while one page is drawn (the page route and the API, each
sort): a clinic ten times larger issues exactly as many. The ranking is checked
on records written through the store: the dose trend over every interrogation
on record, the last refill by time then by order recorded, only the active
implant counted.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from tests.clinic.clinic_web_rig import WebClinic, web_clinic

from thecal.apps.clinic.store import INTERROGATION_ACTION, AppRole, ClinicStore, Patient, User
from thecal.apps.clinic.web import dashboard as board

NOW = datetime.now(UTC)
PAGES = ["/", "/?sort=family_name", "/?sort=mrn", "/?q=family", "/api/patients", "/api/patients?sort=mrn&q=mrn"]
MOST_STATEMENTS = 12  # the page's patients and count, implants, interrogations, fills, drugs; the session's user


@contextmanager
def _counting(store: ClinicStore) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(store.engine, "before_cursor_execute", count)


def _summary(i: int, dose: int) -> dict[str, Any]:
    return {
        "alarms": ["motor_stall"] if i % 5 == 0 else [],
        "reservoir_nl": 3_000_000,
        "days_to_low_reservoir": float(i % 20),
        "replace_by_wall_ms": 1_900_000_000_000,
        "replace_by_basis": "projected",
        "days_to_replace_by": float(100 + i),
        "max_dose_ng_per_day": dose,
    }


def _add_patient(clinic: WebClinic, i: int) -> None:
    """Patient number `i`, like a clinic's: a pump (every ninth none), two refills, interrogations, a pain score."""
    by = clinic.users["physician"]
    store = clinic.store
    serial = None if i % 9 == 4 else f"SN-{i:04d}"
    patient = clinic.add_patient(f"MRN-{i:04d}", f"Family{i % 7}", serial=serial)
    implant = None if serial is None else store.implant_by_serial(serial)
    if implant is not None:
        for days_ago, aspirated in ((40, 4.0), (5, 4.0 + (2.5 if i % 3 == 0 else 0.2))):
            store.record_fill(
                implant.id,
                at=NOW - timedelta(days=days_ago),
                drugs=(("morphine", 10.0),),
                volume_ml=18.0,
                aspirated_ml=aspirated,
                expected_ml=4.0,
                discrepancy_acknowledged=i % 2 == 0,
                by=by,
            )
        for n in range(i % 3):
            new = _summary(i, 1_000_000 * (2 if n and i % 2 else 1))
            store.audit(INTERROGATION_ACTION, by=by, patient_id=patient.id, pump_serial=implant.pump_serial, new=new)
    store.add_pain_score(patient.id, at=NOW, score=i % 11, source="clinic", by=by)


def _statements_per_page(clinic: WebClinic) -> dict[str, int]:
    nurse = clinic.client("nurse")
    counts = {}
    for page in PAGES:
        with _counting(clinic.store) as statements:
            response = nurse.http.get(page)
        assert response.status_code == 200, page
        counts[page] = len(statements)
    return counts


def test_a_dashboard_page_issues_the_same_few_statements_for_a_clinic_ten_times_larger(
    clinic_db_url: str, tmp_path: Path
) -> None:
    with web_clinic(clinic_db_url, tmp_path) as clinic:
        for i in range(5):
            _add_patient(clinic, i)
        small = _statements_per_page(clinic)
        for i in range(5, 50):
            _add_patient(clinic, i)
        large = _statements_per_page(clinic)
        listed = clinic.client("viewer").http.get("/api/patients").json()
    assert listed["total"] == 50 and len(listed["patients"]) == board.PAGE_SIZE
    assert any("rose 2.0-fold" in why for p in listed["patients"] for why in p["reasons"])
    assert large == small, (small, large)
    assert max(large.values()) <= MOST_STATEMENTS, large


# ---------------------------------------------------------------------- what the ranking says


def _person(store: ClinicStore, by: User, mrn: str, family: str) -> Patient:
    return store.add_patient(
        mrn=mrn,
        family_name=family,
        given_name="Sam",
        birth_date=date(1960, 5, 17),
        weight_kg=70.0,
        indication="cancer",
        opioid_status="tolerant",
        by=by,
    )


def _pump(store: ClinicStore, patient: Patient, by: User, serial: str) -> int:
    return store.add_implant(
        patient.id,
        pump_model="programmable-20",
        pump_serial=serial,
        implant_date=date(2024, 1, 5),
        catheter_model="two-piece intrathecal catheter",
        catheter_length_cm=45.0,
        catheter_volume_ul_per_cm=2.2,
        tip_level="T10",
        by=by,
    ).id


def _ranked(store: ClinicStore, **kwargs: Any) -> dict[str, board.Ranked]:
    ranked, _ = board.dashboard(store, datetime.now(UTC), **kwargs)
    return {r.patient.mrn: r for r in ranked}


@pytest.fixture
def doctor(clinic_store: ClinicStore) -> User:
    return clinic_store.add_user("doc", "Dr Doc", AppRole.PHYSICIAN, "a long enough passphrase", by=None)


def test_the_dose_trend_spans_every_interrogation_on_record_that_gave_a_dose(
    clinic_store: ClinicStore, doctor: User
) -> None:
    rising = _person(clinic_store, doctor, "M-RISE", "Rise")
    steady = _person(clinic_store, doctor, "M-STEADY", "Steady")
    _pump(clinic_store, rising, doctor, "SN-RISE")
    _pump(clinic_store, steady, doctor, "SN-STEADY")
    for patient, serial, doses in (
        (rising, "SN-RISE", [1_000_000, None, 1_200_000, 2_000_000]),
        (steady, "SN-STEADY", [1_000_000, 1_400_000]),
    ):
        for dose in doses:
            new = {"alarms": [], "max_dose_ng_per_day": dose}
            clinic_store.audit(INTERROGATION_ACTION, by=doctor, patient_id=patient.id, pump_serial=serial, new=new)
    ranked = _ranked(clinic_store)
    assert ranked["M-RISE"].reasons == [
        "pump SN-RISE: the highest basal dose rose 2.0-fold over the interrogations on record (a fast-rising dose is "
        "a risk sign of a catheter-tip inflammatory mass)"
    ]
    assert ranked["M-RISE"].score == 20
    assert ranked["M-STEADY"].reasons == [] and ranked["M-STEADY"].score == 0
    assert ranked["M-RISE"].last_interrogated is not None


def test_the_last_refill_of_the_active_pump_is_the_one_ranked(clinic_store: ClinicStore, doctor: User) -> None:
    patient = _person(clinic_store, doctor, "M-1", "Fill")
    old = _pump(clinic_store, patient, doctor, "SN-OLD")
    alarm = {"alarms": ["motor_stall"]}
    clinic_store.audit(INTERROGATION_ACTION, by=doctor, patient_id=patient.id, pump_serial="SN-OLD", new=alarm)
    new = _pump(clinic_store, patient, doctor, "SN-NEW")
    at = datetime(2025, 5, 1, 9, 0, tzinfo=UTC)
    for implant, when, aspirated, acknowledged in (
        (old, at + timedelta(days=9), 9.0, False),  # the old pump's: not counted
        (new, at, 1.0, False),
        (new, at + timedelta(days=2), 7.5, True),  # the last: done last
        (new, at + timedelta(days=1), 4.0, False),  # recorded last, done earlier
    ):
        clinic_store.record_fill(
            implant,
            at=when,
            drugs=(("morphine", 10.0),),
            volume_ml=18.0,
            aspirated_ml=aspirated,
            expected_ml=4.0,
            discrepancy_acknowledged=acknowledged,
            by=doctor,
        )
    (ranked,) = board.dashboard(clinic_store, datetime.now(UTC))[0]
    assert ranked.serials == ["SN-NEW"]
    assert ranked.reasons == [
        "pump SN-NEW: never interrogated in this clinic",
        "pump SN-NEW: the last refill aspirated 7.5 mL where 4 mL was expected (+3.5 mL); acknowledged",
    ]
    assert ranked.score == 15 + 25


def test_patients_without_a_pump_and_the_order_of_equal_scores(clinic_store: ClinicStore, doctor: User) -> None:
    for mrn, family in (("M-3", "Berg"), ("M-1", "Abbott"), ("M-2", "Zimmer")):
        _person(clinic_store, doctor, mrn, family)
    _pump(clinic_store, clinic_store.patient_by_mrn("M-2"), doctor, "SN-Z")  # type: ignore[arg-type]
    ranked, total = board.dashboard(clinic_store, datetime.now(UTC), per_page=2)
    assert total == 3
    assert [(r.patient.family_name, r.score) for r in ranked] == [("Zimmer", 15), ("Abbott", 0)]
    ranked, _ = board.dashboard(clinic_store, datetime.now(UTC), per_page=2, page=2)
    assert [r.patient.family_name for r in ranked] == ["Berg"]
    assert ranked[0].reasons == ["no implanted pump on record"]
    by_mrn, _ = board.dashboard(clinic_store, datetime.now(UTC), sort="mrn", per_page=2, page=2)
    assert [r.patient.mrn for r in by_mrn] == ["M-3"]

"""The report's record: built from plain values, put in time order, one patient only; the refill reconciliation.

This module also holds the records the report tests build on: minimal frozen
dataclasses with the same field names as the clinic store's Patient, Implant,
DrugFill, PainScore and Visit, and `sample_record()`, a patient with a 40 mL
pump, morphine with bupivacaine, a flagged refill, alarms, an event log and a
month of series for the plots.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

import pytest

from thecal.apps.clinic.reports.record import (
    Alarm,
    Bolus,
    DoseSeries,
    PatientRecord,
    Prescription,
    PtmPress,
    SettingRow,
    concentration_text,
    reconcile,
)
from thecal.errors import InputError

GENERATED_AT = datetime(2025, 3, 14, 16, 30, tzinfo=UTC)
VISIT_AT = datetime(2025, 3, 14, 10, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Patient:
    id: int
    mrn: str
    family_name: str
    given_name: str
    birth_date: date
    weight_kg: float
    indication: str
    opioid_status: str
    created_at: datetime


@dataclass(frozen=True)
class Implant:
    id: int
    patient_id: int
    pump_model: str
    pump_serial: str
    implant_date: date
    catheter_model: str
    catheter_length_cm: float
    catheter_volume_ul_per_cm: float
    tip_level: str
    active: bool


@dataclass(frozen=True)
class DrugFill:
    id: int
    implant_id: int
    at: datetime
    drugs: tuple[tuple[str, float], ...]
    volume_ml: float
    aspirated_ml: float | None
    expected_ml: float | None
    discrepancy_acknowledged: bool
    by_user_id: int


@dataclass(frozen=True)
class Visit:
    id: int
    patient_id: int
    at: datetime
    kind: str
    by_user_id: int
    summary: str


@dataclass(frozen=True)
class PainScore:
    id: int
    patient_id: int
    at: datetime
    score: int
    source: str
    note: str


def sample_patient(**changes: object) -> Patient:
    patient = Patient(
        id=7,
        mrn="MRN-0042",
        family_name="Lindqvist",
        given_name="Astrid",
        birth_date=date(1958, 6, 2),
        weight_kg=64.5,
        indication="cancer",
        opioid_status="tolerant",
        created_at=datetime(2024, 9, 1, 9, 0, tzinfo=UTC),
    )
    return replace(patient, **changes)  # type: ignore[arg-type]


def sample_implant(**changes: object) -> Implant:
    implant = Implant(
        id=3,
        patient_id=7,
        pump_model="programmable-40",
        pump_serial="TV40-000317",
        implant_date=date(2024, 10, 2),
        catheter_model="IT-8731",
        catheter_length_cm=52.0,
        catheter_volume_ul_per_cm=2.2,
        tip_level="T10",
        active=True,
    )
    return replace(implant, **changes)  # type: ignore[arg-type]


def sample_fills() -> list[DrugFill]:
    return [
        DrugFill(11, 3, datetime(2025, 1, 10, 9, 15, tzinfo=UTC), (("morphine", 10.0),), 40.0, 6.2, 6.0, False, 2),
        DrugFill(
            12,
            3,
            datetime(2025, 3, 14, 10, 20, tzinfo=UTC),
            (("morphine", 25.0), ("bupivacaine", 7.5)),
            40.0,
            3.1,
            5.6,
            True,
            2,
        ),
    ]


def sample_scores() -> list[PainScore]:
    start = datetime(2025, 2, 12, 8, 0, tzinfo=UTC)
    scores = [7, 7, 6, 6, 5, 6, 5, 4, 4, 5, 4, 3]
    sources = ["clinic", "patient_app", "patient_app", "patient_app"]
    return [
        PainScore(100 + n, 7, start + timedelta(days=3 * n), s, sources[n % 4], "after walking" if n == 3 else "")
        for n, s in enumerate(scores)
    ]


def sample_record(**changes: object) -> PatientRecord:
    start = date(2025, 2, 12)
    days = [start + timedelta(days=n) for n in range(31)]
    morphine = [2.0 if n < 20 else 2.5 for n in range(31)]
    bupivacaine = [0.6 if n < 20 else 0.75 for n in range(31)]
    reservoir = [(datetime(2025, 2, 12, tzinfo=UTC) + timedelta(days=n), 12.0 - 0.2 * n) for n in range(31)]
    presses = [
        PtmPress(
            datetime(2025, 2, 12, 8, tzinfo=UTC) + timedelta(days=n // 4, hours=5 * (n % 4)), n % 5 != 4, "lockout"
        )
        for n in range(120)
    ]
    events = [
        {
            "seq": 400 + n,
            "at": datetime(2025, 3, 14, 9, 0, tzinfo=UTC) + timedelta(minutes=3 * n),
            "kind": kind,
            "detail": detail,
        }
        for n, (kind, detail) in enumerate(
            [
                ("interrogation", "programmer TV-PRG-01 read status"),
                ("alarm", "low reservoir: 2.0 mL left"),
                ("refill", "reservoir emptied: 3.1 mL aspirated"),
                ("refill", "reservoir filled: 40 mL morphine 25 mg/mL + bupivacaine 7.5 mg/mL"),
                ("program", "continuous rate 0.08 mL/day → 0.1 mL/day"),
                ("bolus", "bridge bolus 0.052 mL at the old dose rate"),
            ]
            * 3
        )
    ]
    record = PatientRecord(
        sample_patient(),
        implants=[sample_implant()],
        fills=sample_fills(),
        pain_scores=sample_scores(),
        visits=[Visit(1, 7, VISIT_AT, "refill", 2, "Refill and concentration change 10 → 25 mg/mL; dose +25 %.")],
        visit=Visit(1, 7, VISIT_AT, "refill", 2, "Refill and concentration change 10 → 25 mg/mL; dose +25 %."),
        prescriptions=[
            Prescription("morphine", "mg", 2.5, 25.0, VISIT_AT, ptm_bolus_dose=0.1, ptm_max_per_day=4),
            Prescription("bupivacaine", "mg", 0.75, 7.5, VISIT_AT),
        ],
        settings=[
            SettingRow.compare("Morphine, continuous", 2.0, 2.5, "mg/day"),
            SettingRow.compare("Bupivacaine, continuous", 0.6, 0.75, "mg/day"),
            SettingRow.compare("Flow", 0.2, 0.1, "mL/day"),
            SettingRow.compare("Morphine concentration", 10, 25, "mg/mL"),
            SettingRow.compare("PTM bolus", 0.1, 0.1, "mg"),
            SettingRow.compare("PTM lockout", 4, 4, "h"),
            SettingRow.compare("PTM maximum", 4, 4, "per 24 h"),
            SettingRow.compare("Low reservoir alarm", 2, 2, "mL"),
        ],
        alarms=[
            Alarm(datetime(2025, 3, 13, 7, 0, tzinfo=UTC), "low reservoir", "non-critical", False, "2.0 mL left"),
            Alarm(datetime(2025, 2, 20, 14, 5, tzinfo=UTC), "motor stall", "critical", True, "during MRI"),
        ],
        events=events,
        boluses=[Bolus(VISIT_AT + timedelta(minutes=30), "bridge", "morphine", 0.52, "mg")],
        delivered=[
            DoseSeries("morphine", "mg", tuple(zip(days, morphine, strict=True))),
            DoseSeries("bupivacaine", "mg", tuple(zip(days, bupivacaine, strict=True))),
        ],
        reservoir_ml=reservoir,
        ptm_presses=presses,
    )
    return replace(record, **changes)  # type: ignore[arg-type]


# ---- the record -------------------------------------------------------------------------------------------------


def test_the_record_keeps_its_lists_as_tuples_in_time_order() -> None:
    fills = sample_fills()
    record = PatientRecord(sample_patient(), implants=[sample_implant()], fills=list(reversed(fills)))
    assert isinstance(record.fills, tuple)
    assert [f.id for f in record.fills] == [11, 12]
    assert record.last_fill is not None and record.last_fill.id == 12


def test_a_record_refuses_another_patients_implant_naming_it() -> None:
    with pytest.raises(InputError) as caught:
        PatientRecord(sample_patient(), implants=[sample_implant(patient_id=8)])
    assert "TV40-000317" in str(caught.value)
    assert "patient 8" in str(caught.value)


def test_the_current_implant_is_the_active_one() -> None:
    old = sample_implant(id=1, pump_serial="OLD-1", implant_date=date(2018, 1, 1), active=False)
    record = PatientRecord(sample_patient(), implants=[sample_implant(), old])
    assert record.implant is not None and record.implant.pump_serial == "TV40-000317"


def test_a_setting_row_knows_whether_it_changed() -> None:
    assert SettingRow.compare("rate", 2.0, 2.5, "mg/day").changed
    assert not SettingRow.compare("lockout", 4, 4.0, "h").changed
    row = SettingRow.compare("bolus", None, 0.1, "mg")
    assert (row.before, row.after, row.changed) == ("not set", "0.1", True)


def test_a_dose_unit_must_be_a_mass_unit() -> None:
    with pytest.raises(InputError) as caught:
        Prescription("morphine", "mL", 1.0, 10.0)
    assert "mass_unit" in str(caught.value)


def test_ziconotide_concentration_is_shown_in_mcg() -> None:
    assert concentration_text("ziconotide", 0.1) == "100 mcg/mL"
    assert concentration_text("morphine", 25.0) == "25 mg/mL"


def test_a_40_ml_pump_flags_over_2_ml_and_a_20_ml_pump_over_1_ml() -> None:
    fill = sample_fills()[1]  # expected 5.6 mL, aspirated 3.1 mL: 2.5 mL less came back
    forty = reconcile(fill, "programmable-40")
    assert forty.difference_ml == pytest.approx(-2.5)
    assert (forty.flag_ml, forty.flagged, forty.acknowledged) == (2.0, True, True)
    small = replace(fill, aspirated_ml=4.1)  # 1.5 mL less
    assert not reconcile(small, "programmable-40").flagged
    assert reconcile(small, "programmable-20").flagged


def test_an_unknown_pump_model_gets_the_strictest_threshold_and_says_so() -> None:
    check = reconcile(replace(sample_fills()[1], aspirated_ml=4.1), "SynchroMed 8637-40")
    assert check.flag_ml == 1.0
    assert check.flagged
    assert "not a shipped model" in check.flag_source


def test_a_fill_without_volumes_has_no_difference_and_no_flag() -> None:
    check = reconcile(replace(sample_fills()[0], aspirated_ml=None), "programmable-40")
    assert check.difference_ml is None
    assert not check.flagged


def test_the_store_records_fit_the_report_record() -> None:
    """The store's own frozen records go into a PatientRecord unchanged (the Protocols name their fields)."""
    store = pytest.importorskip("thecal.apps.clinic.store")
    if not hasattr(store, "Patient"):  # the package's front door is not written yet: its records module is
        store = importlib.import_module("thecal.apps.clinic.store.records")
    patient = store.Patient(7, "M1", "Doe", "Jo", date(1970, 1, 1), 70.0, "non_cancer", "naive", GENERATED_AT)
    implant = store.Implant(1, 7, "programmable-20", "S-1", date(2024, 1, 1), "C", 40.0, 2.2, "T11", True)
    fill = store.DrugFill(1, 1, GENERATED_AT, (("ziconotide", 0.1),), 20.0, 1.0, 1.2, False, 1)
    score = store.PainScore(1, 7, GENERATED_AT, 6, "clinic", "")
    visit = store.Visit(1, 7, GENERATED_AT, "refill", 1, "")
    record = PatientRecord(patient, implants=[implant], fills=[fill], pain_scores=[score], visits=[visit], visit=visit)
    assert record.last_fill is fill
    assert reconcile(fill, implant.pump_model).difference_ml == pytest.approx(-0.2)

"""What the dashboard reads: each implant's last interrogation, kept with its audit entry, and the patients' overviews.

An interrogation's audit entry (with its patient, pump and summary) also keeps
that implant's last interrogation with the trend of its highest basal dose;
`patient_overviews` reads one page of a search (or every match) with the
active implants, their last interrogations and last refills.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from thecal.apps.clinic.store import (
    INTERROGATION_ACTION,
    AppRole,
    ClinicStore,
    Implant,
    LastInterrogation,
    Patient,
    User,
)
from thecal.errors import InputError

PASSWORD = "a long enough passphrase"
AT = datetime(2025, 6, 2, 10, 30, tzinfo=UTC)


@pytest.fixture
def nurse(clinic_store: ClinicStore) -> User:
    return clinic_store.add_user("nurse", "Nora Nurse", AppRole.NURSE, PASSWORD, by=None)


def _patient(store: ClinicStore, by: User, mrn: str, family: str, given: str = "Olof") -> Patient:
    return store.add_patient(
        mrn=mrn,
        family_name=family,
        given_name=given,
        birth_date=date(1948, 11, 30),
        weight_kg=80.0,
        indication="non_cancer",
        opioid_status="naive",
        by=by,
    )


def _implant(store: ClinicStore, patient: Patient, by: User, serial: str, day: date = date(2024, 1, 15)) -> Implant:
    return store.add_implant(
        patient.id,
        pump_model="8637-40",
        pump_serial=serial,
        implant_date=day,
        catheter_model="8709SC",
        catheter_length_cm=66.0,
        catheter_volume_ul_per_cm=2.2,
        tip_level="T10",
        by=by,
    )


def _read(store: ClinicStore, by: User, patient: Patient | None, serial: str, summary: dict[str, Any] | None) -> int:
    entry = store.audit(
        INTERROGATION_ACTION,
        by=by,
        patient_id=None if patient is None else patient.id,
        pump_serial=serial,
        new=summary,
        detail="interrogated",
    )
    return entry.id


def test_an_interrogation_is_kept_as_the_implants_last_with_the_trend_of_its_dose(
    clinic_store: ClinicStore, nurse: User
) -> None:
    patient = _patient(clinic_store, nurse, "P-1", "Nilsson")
    other = _patient(clinic_store, nurse, "P-2", "Berg")
    implant = _implant(clinic_store, patient, nurse, "SN-1")
    assert clinic_store.last_interrogation("SN-1") is None

    _read(clinic_store, nurse, patient, "SN-1", {"max_dose_ng_per_day": 1_000_000, "alarms": []})
    _read(clinic_store, nurse, patient, "SN-1", {"max_dose_ng_per_day": None, "alarms": ["motor_stall"]})
    _read(clinic_store, nurse, None, "SN-1", {"max_dose_ng_per_day": 9_000_000})  # not for its patient
    _read(clinic_store, nurse, other, "SN-1", {"max_dose_ng_per_day": 9_000_000})  # another patient's
    _read(clinic_store, nurse, patient, "SN-1", None)  # no summary
    clinic_store.audit("pump.pair", by=nurse, patient_id=patient.id, pump_serial="SN-1", new={"max_dose_ng_per_day": 7})
    newest = _read(clinic_store, nurse, patient, "SN-1", {"max_dose_ng_per_day": 1_600_000, "alarms": []})
    _read(clinic_store, nurse, patient, "SN-UNKNOWN", {"max_dose_ng_per_day": 5})  # no implant for this pump

    found = clinic_store.last_interrogation("SN-1")
    assert found == LastInterrogation(
        implant_id=implant.id,
        audit_id=newest,
        at=found.at if found is not None else AT,
        username="nurse",
        summary={"max_dose_ng_per_day": 1_600_000, "alarms": []},
        interrogations=3,
        doses_known=2,
        first_dose_ng_per_day=1_000_000,
        last_dose_ng_per_day=1_600_000,
    )
    assert found is not None and found.at == clinic_store.audit_trail(limit=2)[1].at
    assert clinic_store.last_interrogation("SN-UNKNOWN") is None
    assert clinic_store.last_interrogation(12345) is None  # type: ignore[arg-type]


@pytest.mark.parametrize("dose", [0, -5, 1.5, "1000", True, 2**63])
def test_only_a_whole_dose_above_zero_counts_in_the_trend(clinic_store: ClinicStore, nurse: User, dose: object) -> None:
    patient = _patient(clinic_store, nurse, "P-1", "Nilsson")
    _implant(clinic_store, patient, nurse, "SN-1")
    _read(clinic_store, nurse, patient, "SN-1", {"max_dose_ng_per_day": dose})
    found = clinic_store.last_interrogation("SN-1")
    assert found is not None and (found.interrogations, found.doses_known) == (1, 0)
    assert found.first_dose_ng_per_day is None and found.last_dose_ng_per_day is None


def test_an_overview_has_the_active_implants_their_last_interrogation_and_last_fill(
    clinic_store: ClinicStore, nurse: User
) -> None:
    patient = _patient(clinic_store, nurse, "P-1", "Nilsson")
    old = _implant(clinic_store, patient, nurse, "SN-OLD", date(2020, 1, 1))
    _read(clinic_store, nurse, patient, "SN-OLD", {"alarms": ["end_of_service"]})
    new = _implant(clinic_store, patient, nurse, "SN-NEW", date(2024, 1, 1))  # the old one is no longer active
    fills = []
    for at, drugs, aspirated in (
        (AT - timedelta(days=30), (("morphine", 25.0),), 4.0),
        (AT, (("morphine", 25.0), ("bupivacaine", 7.5)), 1.0),
        (AT, (("clonidine", 0.1),), 9.5),  # the same time: the one recorded last is the last
        (AT - timedelta(days=1), (("baclofen", 2.0),), 3.0),  # recorded later, but done earlier
    ):
        fills.append(
            clinic_store.record_fill(
                new.id,
                at=at,
                drugs=drugs,
                volume_ml=20.0,
                aspirated_ml=aspirated,
                expected_ml=4.0,
                discrepancy_acknowledged=False,
                by=nurse,
            )
        )
    clinic_store.record_fill(
        old.id,
        at=AT + timedelta(days=5),
        drugs=(("morphine", 10.0),),
        volume_ml=20.0,
        aspirated_ml=1.0,
        expected_ml=4.0,
        discrepancy_acknowledged=False,
        by=nurse,
    )
    _read(clinic_store, nurse, patient, "SN-NEW", {"alarms": []})
    bare = _patient(clinic_store, nurse, "P-2", "Berg")

    overviews, total = clinic_store.patient_overviews()
    assert total == 2 and [o.patient for o in overviews] == [bare, patient]  # by family name
    assert overviews[0].implants == ()
    (only,) = overviews[1].implants
    implant = next(i for i in clinic_store.implants(patient.id) if i.id == new.id)
    assert only.implant == implant and only.last_fill == fills[2]
    assert only.last_fill is not None and only.last_fill.drugs == (("clonidine", 0.1),)
    assert only.last_interrogation == clinic_store.last_interrogation("SN-NEW")


def test_overviews_search_sort_and_page_as_the_patient_search(clinic_store: ClinicStore, nurse: User) -> None:
    for n, (family, given) in enumerate(
        [("Öberg", "Ann"), ("berg", "Bo"), ("Berg", "Cy"), ("Smith", "Di"), ("Bergman", "Ed"), ("Lind", "Fay")]
    ):
        patient = _patient(clinic_store, nurse, f"MRN-{n:02d}", family, given)
        _implant(clinic_store, patient, nurse, f"SN-{n}")
    for kwargs in (
        {},
        {"text": "berg"},
        {"text": "BERG ed"},
        {"sort": "mrn", "descending": True, "per_page": 2, "page": 2},
        {"sort": "family_name", "per_page": 4, "page": 2},
        {"text": "nobody"},
        {"per_page": 3, "page": 9},
    ):
        patients, total = clinic_store.search_patients(**kwargs)
        overviews, overview_total = clinic_store.patient_overviews(**kwargs)
        assert [o.patient for o in overviews] == patients and overview_total == total, kwargs
        assert all(o.implants[0].implant.patient_id == o.patient.id for o in overviews)
    everyone, total = clinic_store.patient_overviews("berg", per_page=None)
    assert total == 4 and [o.patient for o in everyone] == clinic_store.search_patients("berg", per_page=500)[0]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"sort": "urgency"}, "sort"),
        ({"per_page": 0}, "per_page"),
        ({"per_page": 501}, "per_page"),
        ({"page": 0}, "page"),
        ({"text": "x" * 201}, "search text"),
    ],
)
def test_bad_overview_arguments_are_input_errors(clinic_store: ClinicStore, kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(InputError) as caught:
        clinic_store.patient_overviews(**kwargs)
    assert caught.value.field == field

"""Implants, catheter revisions, refills, visits, pain scores, notes, trials, settings: stored, read back, audited."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from tests.clinic.conftest import fast_hasher

from thecal.apps.clinic.store import (
    AppRole,
    CatheterRevision,
    ClinicStore,
    DrugFill,
    Implant,
    Note,
    PainScore,
    Patient,
    TrialRecord,
    User,
    Visit,
)
from thecal.errors import InputError

PASSWORD = "a long enough passphrase"
AT = datetime(2025, 6, 2, 10, 30, tzinfo=UTC)


@pytest.fixture
def nurse(clinic_store: ClinicStore) -> User:
    return clinic_store.add_user("nurse", "Nora Nurse", AppRole.NURSE, PASSWORD, by=None)


@pytest.fixture
def patient(clinic_store: ClinicStore, nurse: User) -> Patient:
    return clinic_store.add_patient(
        mrn="P-1",
        family_name="Nilsson",
        given_name="Olof",
        birth_date=date(1948, 11, 30),
        weight_kg=80.0,
        indication="non_cancer",
        opioid_status="naive",
        by=nurse,
    )


def _implant(store: ClinicStore, patient: Patient, by: User, **overrides: Any) -> Implant:
    values: dict[str, Any] = {
        "pump_model": "8637-40",
        "pump_serial": "NGP123456H",
        "implant_date": date(2024, 1, 15),
        "catheter_model": "8709SC",
        "catheter_length_cm": 66.0,
        "catheter_volume_ul_per_cm": 2.2,
        "tip_level": "T10",
    } | overrides
    return store.add_implant(patient.id, **values, by=by)


def _fill(store: ClinicStore, implant: Implant, by: User, **overrides: Any) -> DrugFill:
    values: dict[str, Any] = {
        "at": AT,
        "drugs": (("morphine", 25.0), ("bupivacaine", 7.5)),
        "volume_ml": 40.0,
        "aspirated_ml": 4.1,
        "expected_ml": 6.6,
        "discrepancy_acknowledged": True,
    } | overrides
    return store.record_fill(implant.id, **values, by=by)


def test_implants(clinic_store: ClinicStore, nurse: User, patient: Patient) -> None:
    first = _implant(clinic_store, patient, nurse)
    assert first == Implant(
        first.id, patient.id, "8637-40", "NGP123456H", date(2024, 1, 15), "8709SC", 66.0, 2.2, "T10", True
    )
    assert clinic_store.implants(patient.id) == [first]
    assert clinic_store.implant_by_serial("NGP123456H") == first
    assert clinic_store.implant_by_serial("nope") is None
    entry = clinic_store.audit_trail()[0]
    assert (entry.action, entry.patient_id, entry.pump_serial) == ("implant.add", patient.id, "NGP123456H")

    # A replacement pump becomes the active one; the first is kept, inactive.
    second = _implant(clinic_store, patient, nurse, pump_serial="NGP999", implant_date=date(2025, 1, 10))
    assert second.active
    assert [(i.pump_serial, i.active) for i in clinic_store.implants(patient.id)] == [
        ("NGP123456H", False),
        ("NGP999", True),
    ]
    assert clinic_store.audit_trail()[0].old == {"active_implants": ["NGP123456H"]}


def test_a_duplicate_serial_is_an_input_error_naming_it(
    clinic_store: ClinicStore, nurse: User, patient: Patient
) -> None:
    _implant(clinic_store, patient, nurse)
    other = clinic_store.add_patient(
        mrn="P-2",
        family_name="Ek",
        given_name="Ann",
        birth_date=date(1970, 1, 1),
        weight_kg=60.0,
        indication="cancer",
        opioid_status="tolerant",
        by=nurse,
    )
    with pytest.raises(InputError) as caught:
        _implant(clinic_store, other, nurse)
    assert (caught.value.field, caught.value.value) == ("pump_serial", "NGP123456H")
    assert clinic_store.implants(other.id) == []
    assert clinic_store.implants(patient.id)[0].active  # the failed call deactivated nothing


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("pump_serial", ""),
        ("implant_date", date(1940, 1, 1)),  # before the patient was born
        ("implant_date", date(2999, 1, 1)),
        ("catheter_length_cm", 0),
        ("catheter_length_cm", 201),
        ("catheter_volume_ul_per_cm", -2.2),
        ("tip_level", ""),
    ],
)
def test_bad_implant_input(clinic_store: ClinicStore, nurse: User, patient: Patient, field: str, value: object) -> None:
    with pytest.raises(InputError) as caught:
        _implant(clinic_store, patient, nurse, **{field: value})
    assert caught.value.field == field
    assert clinic_store.implants(patient.id) == []


def test_implant_for_an_unknown_patient(clinic_store: ClinicStore, nurse: User, patient: Patient) -> None:
    ghost = Patient(patient.id + 10, "X", "Y", "Z", date(1950, 1, 1), 70.0, "cancer", "naive", AT)
    with pytest.raises(InputError) as caught:
        _implant(clinic_store, ghost, nurse)
    assert caught.value.field == "patient_id"


def test_revisions_change_the_catheter(clinic_store: ClinicStore, nurse: User, patient: Patient) -> None:
    implant = _implant(clinic_store, patient, nurse)
    revision = clinic_store.add_revision(
        implant.id,
        revised_on=date(2024, 9, 1),
        new_length_cm=58.5,
        new_tip_level="T11",
        note="kinked; shortened",
        by=nurse,
    )
    assert revision == CatheterRevision(revision.id, implant.id, date(2024, 9, 1), 58.5, "T11", "kinked; shortened")
    assert clinic_store.revisions(implant.id) == [revision]
    now = clinic_store.implant_by_serial(implant.pump_serial)
    assert now is not None and (now.catheter_length_cm, now.tip_level) == (58.5, "T11")
    entry = clinic_store.audit_trail()[0]
    assert entry.action == "implant.revise"
    assert entry.old == {"catheter_length_cm": 66.0, "tip_level": "T10"}
    assert entry.new is not None and entry.new["catheter_length_cm"] == 58.5
    with pytest.raises(InputError) as caught:
        clinic_store.add_revision(
            implant.id, revised_on=date(2023, 1, 1), new_length_cm=50.0, new_tip_level="T9", note="", by=nurse
        )
    assert caught.value.field == "revised_on"
    with pytest.raises(InputError) as caught:
        clinic_store.add_revision(
            999, revised_on=date(2024, 9, 1), new_length_cm=50.0, new_tip_level="T9", note="", by=nurse
        )
    assert caught.value.field == "implant_id"
    assert clinic_store.revisions(implant.id) == [revision]


def test_fills_keep_the_drugs_as_typed(clinic_store: ClinicStore, nurse: User, patient: Patient) -> None:
    implant = _implant(clinic_store, patient, nurse)
    fill = _fill(clinic_store, implant, nurse)
    assert fill.drugs == (("morphine", 25.0), ("bupivacaine", 7.5))
    assert (fill.volume_ml, fill.aspirated_ml, fill.expected_ml) == (40.0, 4.1, 6.6)
    assert fill.discrepancy_acknowledged and fill.by_user_id == nurse.id and fill.at == AT
    later = _fill(
        clinic_store,
        implant,
        nurse,
        at=AT + timedelta(days=60),
        drugs=[("ziconotide", 0.1)],
        aspirated_ml=None,
        expected_ml=None,
        discrepancy_acknowledged=False,
    )
    assert clinic_store.fills(implant.id) == [fill, later]
    entry = clinic_store.audit_trail()[0]
    assert (entry.action, entry.pump_serial, entry.patient_id) == ("fill.record", "NGP123456H", patient.id)
    assert entry.new is not None and entry.new["drugs"] == [{"drug": "ziconotide", "mg_per_ml": 0.1}]


def test_times_are_utc_whatever_zone_they_came_in(clinic_store: ClinicStore, nurse: User, patient: Patient) -> None:
    implant = _implant(clinic_store, patient, nurse)
    stockholm = timezone(timedelta(hours=2))
    fill = _fill(clinic_store, implant, nurse, at=datetime(2025, 6, 2, 12, 30, tzinfo=stockholm))
    assert fill.at == AT
    assert clinic_store.fills(implant.id)[0].at.tzinfo is UTC
    assert clinic_store.fills(implant.id)[0].at == AT


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("drugs", ()),
        ("drugs", "morphine"),
        ("drugs", (("morphine", 0),)),
        ("drugs", (("morphine", 10.0), ("morphine", 10.0))),
        ("drugs", (("", 10.0),)),
        ("drugs", (("a", 1.0), ("b", 1.0), ("c", 1.0), ("d", 1.0), ("e", 1.0))),
        ("volume_ml", 0),
        ("volume_ml", float("inf")),
        ("aspirated_ml", -0.1),
        ("discrepancy_acknowledged", "yes"),
        ("at", datetime(2025, 6, 2, 10, 30)),
    ],
)
def test_bad_fill_input(clinic_store: ClinicStore, nurse: User, patient: Patient, field: str, value: object) -> None:
    implant = _implant(clinic_store, patient, nurse)
    with pytest.raises(InputError) as caught:
        _fill(clinic_store, implant, nurse, **{field: value})
    assert caught.value.field.startswith(field)
    assert clinic_store.fills(implant.id) == []
    assert clinic_store.audit_trail()[0].action == "implant.add"


def test_visits_pain_scores_notes_and_trials(clinic_store: ClinicStore, nurse: User, patient: Patient) -> None:
    visit = clinic_store.add_visit(patient.id, at=AT, kind="refill", summary="Refilled.\nNo complaints.", by=nurse)
    assert visit == Visit(visit.id, patient.id, AT, "refill", nurse.id, "Refilled.\nNo complaints.")
    assert clinic_store.visits(patient.id) == [visit]

    score = clinic_store.add_pain_score(patient.id, at=AT, score=4, source="clinic", note="after refill", by=nurse)
    from_app = clinic_store.add_pain_score(
        patient.id, at=AT + timedelta(hours=5), score=6, source="patient_app", by=None
    )
    assert score == PainScore(score.id, patient.id, AT, 4, "clinic", "after refill")
    assert clinic_store.pain_scores(patient.id) == [score, from_app]
    assert clinic_store.audit_trail()[0].username == "patient_app"

    note = clinic_store.add_note(patient.id, text="Prefers morning visits.", by=nurse)
    assert note == Note(note.id, patient.id, note.at, nurse.id, "Prefers morning visits.")
    assert note.at.tzinfo is UTC
    assert clinic_store.notes(patient.id) == [note]

    trial = clinic_store.add_trial(
        patient.id,
        at=AT,
        drug="morphine",
        doses="0.5 mg single shot; 1 mg next day",
        pain_before=8,
        pain_after=3,
        decision="implant",
        rule="at least 50 % less pain",
        by=nurse,
    )
    assert trial == TrialRecord(
        trial.id,
        patient.id,
        AT,
        "morphine",
        "0.5 mg single shot; 1 mg next day",
        8,
        3,
        "implant",
        "at least 50 % less pain",
        nurse.id,
    )
    assert clinic_store.trials(patient.id) == [trial]
    assert [e.action for e in clinic_store.audit_trail(patient_id=patient.id)] == [
        "trial.add",
        "note.add",
        "pain_score.add",
        "pain_score.add",
        "visit.add",
        "patient.add",
    ]


@pytest.mark.parametrize("score", [-1, 11, 5.5, True, "7"])
def test_a_pain_score_is_a_whole_number_0_to_10(
    clinic_store: ClinicStore, nurse: User, patient: Patient, score: object
) -> None:
    with pytest.raises(InputError) as caught:
        clinic_store.add_pain_score(patient.id, at=AT, score=score, source="clinic", by=nurse)  # type: ignore[arg-type]
    assert caught.value.field == "score"
    assert clinic_store.pain_scores(patient.id) == []


def test_other_record_input_is_checked(clinic_store: ClinicStore, nurse: User, patient: Patient) -> None:
    with pytest.raises(InputError) as caught:
        clinic_store.add_pain_score(patient.id, at=AT, score=3, source="nurse", by=nurse)
    assert caught.value.field == "source"
    with pytest.raises(InputError) as caught:
        clinic_store.add_note(patient.id, text=" \n ", by=nurse)
    assert caught.value.field == "text"
    with pytest.raises(InputError) as caught:
        clinic_store.add_note(patient.id, text="x" * 20_001, by=nurse)
    assert caught.value.limit == "at most 20000 characters"
    with pytest.raises(InputError) as caught:
        clinic_store.add_visit(patient.id, at=AT, kind="", summary="", by=nurse)
    assert caught.value.field == "kind"
    with pytest.raises(InputError) as caught:
        clinic_store.add_trial(
            patient.id,
            at=AT,
            drug="morphine",
            doses="1 mg",
            pain_before=11,
            pain_after=3,
            decision="x",
            rule="",
            by=nurse,
        )
    assert caught.value.field == "pain_before"
    with pytest.raises(InputError) as caught:
        clinic_store.add_visit(999, at=AT, kind="refill", summary="", by=nurse)
    assert caught.value.field == "patient_id"
    assert clinic_store.audit_trail()[0].action == "patient.add"


def test_records_of_unknown_ids_are_empty(clinic_store: ClinicStore) -> None:
    for read in (
        clinic_store.implants,
        clinic_store.revisions,
        clinic_store.fills,
        clinic_store.visits,
        clinic_store.pain_scores,
        clinic_store.notes,
        clinic_store.trials,
    ):
        assert read(12345) == []
        assert read("1; DROP TABLE patients") == []  # type: ignore[arg-type]
    assert clinic_store.patient("1 OR 1=1") is None  # type: ignore[arg-type]


def test_settings(clinic_store: ClinicStore, nurse: User) -> None:
    assert clinic_store.setting("refill.interval_days", "90") == "90"
    clinic_store.set_setting("refill.interval_days", "84", by=nurse)
    assert clinic_store.setting("refill.interval_days", "90") == "84"
    clinic_store.set_setting("refill.interval_days", "70", by=nurse)
    entry = clinic_store.audit_trail()[0]
    assert (entry.action, entry.old, entry.new) == (
        "setting.set",
        {"refill.interval_days": "84"},
        {"refill.interval_days": "70"},
    )
    with pytest.raises(InputError) as caught:
        clinic_store.set_setting("", "1", by=nurse)
    assert caught.value.field == "setting key"


def test_an_injected_clock_times_the_records(clinic_db_url: str) -> None:
    moments = iter([AT + timedelta(minutes=n) for n in range(100)])
    store = ClinicStore.open(clinic_db_url, clock=lambda: next(moments), password_hasher=fast_hasher())
    try:
        store.migrate()
        nurse = store.add_user("nurse", "Nora Nurse", AppRole.NURSE, PASSWORD, by=None)
        patient = store.add_patient(
            mrn="P-1",
            family_name="N",
            given_name="O",
            birth_date=date(1950, 1, 1),
            weight_kg=70.0,
            indication="cancer",
            opioid_status="naive",
            by=nurse,
        )
        note = store.add_note(patient.id, text="timed", by=nurse)
        assert patient.created_at > AT
        assert AT < note.at < AT + timedelta(hours=2)
        assert all(AT <= entry.at < AT + timedelta(hours=2) for entry in store.audit_trail())
    finally:
        store.close()

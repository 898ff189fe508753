"""The audit trail: appended by every change, read newest first, and refused any change by the database itself."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from thecal.apps.clinic.store import AppRole, AuditEntry, ClinicStore, User
from thecal.errors import InputError

PASSWORD = "a long enough passphrase"


@pytest.fixture
def doctor(clinic_store: ClinicStore) -> User:
    return clinic_store.add_user("doc", "Dr Doc", AppRole.PHYSICIAN, PASSWORD, by=None)


def _count(store: ClinicStore) -> int:
    with store.engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM audit_entries")).scalar_one())


def test_an_entry_is_stored_whole(clinic_store: ClinicStore, doctor: User) -> None:
    entry = clinic_store.audit(
        "program.bolus",
        by=doctor,
        patient_id=None,
        pump_serial="NGP1",
        old={"rate_mcg_per_day": 500, "on": date(2025, 1, 2)},
        new={"rate_mcg_per_day": 750, "drugs": ("morphine",), "ratio": float("nan")},
        override_reason="soft limit passed: breakthrough pain, discussed with the patient",
        detail="confirmed on the Finish screen",
    )
    assert entry == AuditEntry(
        entry.id,
        entry.at,
        doctor.id,
        "doc",
        "program.bolus",
        None,
        "NGP1",
        {"rate_mcg_per_day": 500, "on": "2025-01-02"},
        {"rate_mcg_per_day": 750, "drugs": ["morphine"], "ratio": "nan"},
        "soft limit passed: breakthrough pain, discussed with the patient",
        "confirmed on the Finish screen",
    )
    assert clinic_store.audit_trail()[0] == entry


def test_the_trail_is_newest_first_and_filters_by_patient(clinic_store: ClinicStore, doctor: User) -> None:
    patient = clinic_store.add_patient(
        mrn="A-1",
        family_name="Ek",
        given_name="Bo",
        birth_date=date(1960, 2, 2),
        weight_kg=75.0,
        indication="cancer",
        opioid_status="tolerant",
        by=doctor,
    )
    for n in range(5):
        clinic_store.audit("patient.view", by=doctor, patient_id=patient.id, detail=f"view {n}")
    clinic_store.audit("report.export", by=None, detail="whole clinic")
    assert [e.detail for e in clinic_store.audit_trail(limit=3)] == ["whole clinic", "view 4", "view 3"]
    mine = clinic_store.audit_trail(patient_id=patient.id)
    assert [e.action for e in mine] == ["patient.view"] * 5 + ["patient.add"]
    assert clinic_store.audit_trail()[0].username == "system"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"action": ""}, "action"),
        ({"action": "x" * 65}, "action"),
        ({"old": ["not", "a", "dict"]}, "old"),
        ({"patient_id": "1"}, "patient_id"),
        ({"override_reason": "   "}, "override_reason"),
    ],
)
def test_bad_audit_input(clinic_store: ClinicStore, doctor: User, kwargs: dict[str, object], field: str) -> None:
    args: dict[str, object] = {"action": "program.bolus"} | kwargs
    action = args.pop("action")
    before = _count(clinic_store)
    with pytest.raises(InputError) as caught:
        clinic_store.audit(action, by=doctor, **args)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert _count(clinic_store) == before


def test_injection_strings_in_the_audit_are_kept_verbatim(clinic_store: ClinicStore, doctor: User) -> None:
    evil = "x'); UPDATE audit_entries SET detail='gone'; --"
    entry = clinic_store.audit("note.view", by=doctor, detail=evil, new={evil: evil}, override_reason=evil)
    assert clinic_store.audit_trail()[0] == entry
    assert (entry.detail, entry.new, entry.override_reason) == (evil, {evil: evil}, evil)
    assert all(e.detail != "gone" for e in clinic_store.audit_trail())


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_entries SET detail = 'rewritten'",
        "UPDATE audit_entries SET username = 'someone else' WHERE action = 'user.add'",
        "DELETE FROM audit_entries",
        "DELETE FROM audit_entries WHERE action = 'user.add'",
    ],
)
def test_the_database_refuses_to_change_the_audit(clinic_store: ClinicStore, doctor: User, statement: str) -> None:
    clinic_store.audit("program.prescription", by=doctor, pump_serial="NGP1", detail="original")
    before = clinic_store.audit_trail()
    with pytest.raises(DatabaseError) as caught, clinic_store.engine.begin() as connection:
        connection.execute(text(statement))
    assert "append-only" in str(caught.value)
    assert clinic_store.audit_trail() == before


@pytest.mark.parametrize(
    ("statement", "why"),
    [
        ("TRUNCATE audit_entries", "foreign key"),  # the last interrogations refer to their audit entries
        ("TRUNCATE audit_entries CASCADE", "append-only"),
        ("TRUNCATE audit_entries, last_interrogations", "append-only"),
    ],
)
def test_postgresql_refuses_truncate_too(clinic_store: ClinicStore, doctor: User, statement: str, why: str) -> None:
    if clinic_store.engine.dialect.name != "postgresql":
        assert clinic_store.engine.dialect.name == "sqlite"  # SQLite has no TRUNCATE (DELETE is refused above)
        return
    before = clinic_store.audit_trail()
    with pytest.raises(DatabaseError) as caught, clinic_store.engine.begin() as connection:
        connection.execute(text(statement))
    assert why in str(caught.value)
    assert clinic_store.audit_trail() == before


def test_the_store_has_no_way_to_change_an_entry() -> None:
    verbs = ("update_audit", "delete_audit", "remove_audit", "edit_audit", "clear_audit")
    assert not any(hasattr(ClinicStore, verb) for verb in verbs)
    assert {name for name in dir(ClinicStore) if "audit" in name and not name.startswith("_")} == {
        "audit",
        "audit_trail",
    }


def test_a_refused_change_leaves_no_audit_entry(clinic_store: ClinicStore, doctor: User) -> None:
    before = _count(clinic_store)
    with pytest.raises(InputError):
        clinic_store.add_patient(
            mrn="B-1",
            family_name="Ek",
            given_name="Bo",
            birth_date=date(1960, 2, 2),
            weight_kg=-5.0,
            indication="cancer",
            opioid_status="tolerant",
            by=doctor,
        )
    assert _count(clinic_store) == before

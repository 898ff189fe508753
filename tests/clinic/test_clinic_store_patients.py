"""Patients: added, changed, found by MRN and by search with sort and paging; bad input changes nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from thecal.apps.clinic.store import AppRole, ClinicStore, Patient, User
from thecal.errors import InputError

PASSWORD = "a long enough passphrase"
INJECTIONS = [
    "Robert'); DROP TABLE patients; --",
    "' OR '1'='1",
    '" OR ""="',
    "1; DELETE FROM audit_entries",
    "%_\\%",
    "<script>alert('x')</script>",
    "O'Brien-Ñúñez 李",
]


@pytest.fixture
def doctor(clinic_store: ClinicStore) -> User:
    return clinic_store.add_user("doc", "Dr Doc", AppRole.PHYSICIAN, PASSWORD, by=None)


def _patient(store: ClinicStore, by: User, **overrides: Any) -> Patient:
    values: dict[str, Any] = {
        "mrn": "MRN-001",
        "family_name": "Andersson",
        "given_name": "Karin",
        "birth_date": date(1955, 4, 2),
        "weight_kg": 68.0,
        "indication": "cancer",
        "opioid_status": "tolerant",
    } | overrides
    return store.add_patient(**values, by=by)


def test_add_and_read_back(clinic_store: ClinicStore, doctor: User) -> None:
    patient = _patient(clinic_store, doctor)
    assert patient.mrn == "MRN-001"
    assert patient.birth_date == date(1955, 4, 2)
    assert patient.weight_kg == 68.0
    assert (patient.indication, patient.opioid_status) == ("cancer", "tolerant")
    assert patient.created_at.tzinfo is UTC
    assert clinic_store.patient(patient.id) == patient
    assert clinic_store.patient_by_mrn("MRN-001") == patient
    assert clinic_store.patient_by_mrn("mrn-001") is None
    assert clinic_store.patient(patient.id + 1) is None
    entry = clinic_store.audit_trail()[0]
    assert (entry.action, entry.patient_id, entry.user_id) == ("patient.add", patient.id, doctor.id)
    assert entry.new is not None and entry.new["birth_date"] == "1955-04-02" and entry.old is None


def test_a_duplicate_mrn_is_an_input_error_naming_it(clinic_store: ClinicStore, doctor: User) -> None:
    _patient(clinic_store, doctor)
    before = clinic_store.audit_trail()
    with pytest.raises(InputError) as caught:
        _patient(clinic_store, doctor, family_name="Other")
    assert (caught.value.field, caught.value.value) == ("mrn", "MRN-001")
    assert "MRN-001" in str(caught.value)
    assert clinic_store.search_patients()[1] == 1
    assert clinic_store.audit_trail() == before


@pytest.mark.parametrize(
    ("field", "value", "limit"),
    [
        ("mrn", "", None),
        ("mrn", "x" * 65, "at most 64 characters"),
        ("family_name", "  ", None),
        ("given_name", 7, None),
        ("family_name", "tab\tinside", None),
        ("family_name", "nul\x00inside", None),
        ("birth_date", date(2999, 1, 1), None),
        ("birth_date", datetime(1950, 1, 1, tzinfo=UTC), None),
        ("birth_date", "1950-01-01", None),
        ("weight_kg", 0, "from 0.5 to 500 kg"),
        ("weight_kg", 501, "from 0.5 to 500 kg"),
        ("weight_kg", float("nan"), "from 0.5 to 500 kg"),
        ("weight_kg", True, None),
        ("weight_kg", "70", None),
        ("indication", "cancer pain", None),
        ("opioid_status", "NAIVE", None),
    ],
)
def test_bad_patient_input_names_the_field_and_writes_nothing(
    clinic_store: ClinicStore, doctor: User, field: str, value: object, limit: str | None
) -> None:
    with pytest.raises(InputError) as caught:
        _patient(clinic_store, doctor, **{field: value})
    assert caught.value.field == field
    assert caught.value.action
    if limit is not None:
        assert caught.value.limit == limit
    assert clinic_store.search_patients() == ([], 0)
    assert [e.action for e in clinic_store.audit_trail()] == ["user.add"]


def test_update_keeps_old_and_new_of_what_changed(clinic_store: ClinicStore, doctor: User) -> None:
    patient = _patient(clinic_store, doctor)
    changed = clinic_store.update_patient(patient.id, by=doctor, weight_kg=72.5, opioid_status="tolerant")
    assert changed.weight_kg == 72.5
    assert clinic_store.patient(patient.id) == changed
    entry = clinic_store.audit_trail()[0]
    assert entry.action == "patient.update"
    assert (entry.old, entry.new) == ({"weight_kg": 68.0}, {"weight_kg": 72.5})
    # Nothing changed: nothing to audit.
    clinic_store.update_patient(patient.id, by=doctor, weight_kg=72.5)
    assert clinic_store.audit_trail()[0] == entry


def test_update_refuses_unknown_fields_taken_mrns_and_bad_values(clinic_store: ClinicStore, doctor: User) -> None:
    first = _patient(clinic_store, doctor)
    second = _patient(clinic_store, doctor, mrn="MRN-002")
    with pytest.raises(InputError) as caught:
        clinic_store.update_patient(first.id, by=doctor, created_at=datetime.now(UTC))
    assert caught.value.field == "patient field"
    with pytest.raises(InputError) as caught:
        clinic_store.update_patient(second.id, by=doctor, mrn="MRN-001", weight_kg=80.0)
    assert caught.value.field == "mrn"
    with pytest.raises(InputError) as caught:
        clinic_store.update_patient(second.id, by=doctor, family_name="Berg", weight_kg=-1)
    assert caught.value.field == "weight_kg"
    with pytest.raises(InputError) as caught:
        clinic_store.update_patient(999, by=doctor, family_name="Berg")
    assert caught.value.field == "patient_id"
    assert clinic_store.patient(second.id) == second  # nothing half-written


@pytest.mark.parametrize("evil", INJECTIONS)
def test_injection_strings_are_stored_and_found_verbatim(clinic_store: ClinicStore, doctor: User, evil: str) -> None:
    patient = _patient(clinic_store, doctor, mrn=evil[:64], family_name=evil, given_name=evil)
    _patient(clinic_store, doctor, mrn="MRN-plain", family_name="Plain", given_name="Jane")
    assert clinic_store.patient(patient.id) == patient
    assert patient.family_name == evil
    assert clinic_store.patient_by_mrn(evil[:64]) == patient
    found, total = clinic_store.search_patients(evil)
    assert found == [patient] and total == 1
    assert clinic_store.search_patients()[1] == 2  # the tables are all still there
    assert clinic_store.audit_trail()[1].new["family_name"] == evil  # type: ignore[index]


def test_search_matches_every_word_in_any_name_in_any_case(clinic_store: ClinicStore, doctor: User) -> None:
    karin = _patient(clinic_store, doctor)
    nils = _patient(clinic_store, doctor, mrn="X-17", family_name="Karlsson", given_name="Nils")
    eva = _patient(clinic_store, doctor, mrn="X-18", family_name="Berg", given_name="Eva")
    assert clinic_store.search_patients("kar") == ([karin, nils], 2)
    assert clinic_store.search_patients("KARIN") == ([karin], 1)
    assert clinic_store.search_patients("x-1") == ([eva, nils], 2)
    assert clinic_store.search_patients("nils karl") == ([nils], 1)
    assert clinic_store.search_patients("nils eva") == ([], 0)
    assert clinic_store.search_patients("  ") == ([karin, eva, nils], 3)
    assert clinic_store.search_patients("%") == ([], 0)  # a wildcard is a character like any other
    assert clinic_store.search_patients("_") == ([], 0)


def test_sort_and_page(clinic_store: ClinicStore, doctor: User) -> None:
    names = ["delta", "Alpha", "charlie", "Bravo", "echo", "alpha"]
    made = [
        _patient(clinic_store, doctor, mrn=f"M{i}", family_name=name, weight_kg=50.0 + 10 * ((i * 7) % 6))
        for i, name in enumerate(names)
    ]
    by_name = [p.family_name for p in clinic_store.search_patients(per_page=100)[0]]
    assert by_name == ["Alpha", "alpha", "Bravo", "charlie", "delta", "echo"]  # any case; ties in a fixed order
    down = [p.family_name for p in clinic_store.search_patients(descending=True, per_page=100)[0]]
    assert down == list(reversed(by_name))
    by_weight = [p.weight_kg for p in clinic_store.search_patients(sort="weight_kg", per_page=100)[0]]
    assert by_weight == sorted(p.weight_kg for p in made)
    by_mrn = [p.mrn for p in clinic_store.search_patients(sort="mrn", descending=True)[0]]
    assert by_mrn == ["M5", "M4", "M3", "M2", "M1", "M0"]

    pages = [clinic_store.search_patients(page=n, per_page=4) for n in (1, 2, 3)]
    assert [len(found) for found, _ in pages] == [4, 2, 0]
    assert {total for _, total in pages} == {6}
    assert [p.family_name for found, _ in pages for p in found] == by_name
    found, total = clinic_store.search_patients("L", sort="mrn", page=2, per_page=3)
    assert ([p.family_name for p in found], total) == (["alpha"], 4)  # delta, Alpha, charlie | alpha


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"sort": "password_hash"}, "sort"),
        ({"sort": "family_name; DROP TABLE patients"}, "sort"),
        ({"page": 0}, "page"),
        ({"per_page": 0}, "per_page"),
        ({"per_page": 501}, "per_page"),
        ({"descending": "yes"}, "descending"),
    ],
)
def test_bad_search_arguments_are_input_errors(clinic_store: ClinicStore, kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(InputError) as caught:
        clinic_store.search_patients(**kwargs)
    assert caught.value.field == field


def test_a_duplicate_caught_by_the_database_itself_is_an_input_error(
    clinic_store: ClinicStore, doctor: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two clerks typing the same MRN at once: the unique constraint decides, and the loser's call writes nothing."""
    _patient(clinic_store, doctor)
    before = clinic_store.audit_trail()
    monkeypatch.setattr(ClinicStore, "_mrn_free", staticmethod(lambda s, mrn: None))  # the race: both checks passed
    with pytest.raises(InputError) as caught:
        _patient(clinic_store, doctor, family_name="Other")
    assert caught.value.field == "mrn"
    assert clinic_store.audit_trail() == before
    assert clinic_store.search_patients()[1] == 1

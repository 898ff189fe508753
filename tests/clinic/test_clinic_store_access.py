"""Diary tokens and the observations they send, in the store, on SQLite and PostgreSQL; migration 0003 down and up."""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError
from tests.clinic.conftest import fast_hasher

from thecal.apps.clinic.store import AppRole, ClinicStore, PatientObservation, User
from thecal.apps.clinic.store.access import MAX_ACTIVE_TOKENS, NOTES_CHARS
from thecal.apps.clinic.store.facade import MIGRATIONS
from thecal.errors import InputError

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
ENTRY_AT = datetime(2026, 3, 1, 7, 30, tzinfo=UTC)


class Clock:
    """The store's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(clinic_db_url: str, clock: Clock) -> Any:
    store = ClinicStore.open(clinic_db_url, clock=clock, password_hasher=fast_hasher())
    store.migrate()
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def nurse(store: ClinicStore) -> User:
    return store.add_user("nokafor", "Nurse Okafor", AppRole.NURSE, "correct horse battery", by=None)


def _patient(store: ClinicStore, by: User, mrn: str) -> int:
    return store.add_patient(
        mrn=mrn,
        family_name="Lind",
        given_name="Eva",
        birth_date=date(1950, 5, 1),
        weight_kg=61.5,
        indication="non_cancer",
        opioid_status="tolerant",
        by=by,
    ).id


def _entry(**changes: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "source_id": "ptm-1-1",
        "effective_at": ENTRY_AT,
        "effective_local": "2026-03-01T07:30",
        "pain_0_10": 6,
        "activity": "walking",
        "side_effects": ["nausea", "itching"],
        "notes": "worse after the stairs",
    }
    entry.update(changes)
    return entry


def _send(store: ClinicStore, token: str, **changes: Any) -> tuple[PatientObservation, bool]:
    found = store.patient_token(token)
    assert found is not None
    return store.add_observation(found.patient_id, token_id=found.id, **_entry(**changes))


def test_a_token_is_shown_once_and_only_its_hash_is_kept(store: ClinicStore, nurse: User) -> None:
    patient = _patient(store, nurse, "M-1")
    token = store.issue_patient_token(patient, nurse)
    assert len(token) >= 43  # 32 random bytes, URL-safe base64
    assert store.patient_for_token(token) == patient
    with store.engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM patient_tokens")).mappings().all()
    assert len(rows) == 1
    assert rows[0]["token_sha256"] == hashlib.sha256(token.encode()).hexdigest()
    assert token not in {str(value) for value in rows[0].values()}
    assert all(token not in repr(entry) for entry in store.audit_trail())
    [listed] = store.patient_tokens(patient)
    assert (listed.issued_by, listed.issued_at, listed.last_used_at, listed.active) == ("nokafor", NOW, None, True)
    assert listed.hint == token[:6]
    issued = store.audit_trail()[0]
    assert (issued.action, issued.username, issued.patient_id, issued.at) == (
        "patient_token.issue",
        "nokafor",
        patient,
        NOW,
    )


@pytest.mark.parametrize("presented", ["", "x", "Bearer abc", "a" * 5000, "é" * 43, None, 42])
def test_anything_but_an_issued_token_finds_nobody(store: ClinicStore, nurse: User, presented: Any) -> None:
    store.issue_patient_token(_patient(store, nurse, "M-1"), nurse)
    assert store.patient_for_token(presented) is None


def test_a_revoked_token_finds_nobody_and_the_audit_says_who(store: ClinicStore, nurse: User, clock: Clock) -> None:
    patient = _patient(store, nurse, "M-1")
    token = store.issue_patient_token(patient, nurse)
    [listed] = store.patient_tokens(patient)
    clock.now = NOW + timedelta(days=2)
    revoked = store.revoke_patient_token(listed.id, nurse, patient_id=patient)
    assert store.patient_for_token(token) is None
    assert (revoked.active, revoked.revoked_at, revoked.revoked_by) == (False, NOW + timedelta(days=2), "nokafor")
    entry = store.audit_trail()[0]
    assert (entry.action, entry.username, entry.old, entry.new) == (
        "patient_token.revoke",
        "nokafor",
        {"token_id": listed.id, "hint": listed.hint, "revoked": False},
        {"token_id": listed.id, "hint": listed.hint, "revoked": True},
    )
    audited = len(store.audit_trail())
    assert store.revoke_patient_token(listed.id, nurse) == revoked  # again: nothing changes, nothing audited
    assert len(store.audit_trail()) == audited


def test_a_token_is_revoked_only_from_its_own_patient(store: ClinicStore, nurse: User) -> None:
    first, second = _patient(store, nurse, "M-1"), _patient(store, nurse, "M-2")
    token = store.issue_patient_token(first, nurse)
    [listed] = store.patient_tokens(first)
    with pytest.raises(InputError) as caught:
        store.revoke_patient_token(listed.id, nurse, patient_id=second)
    assert caught.value.field == "token_id"
    assert store.patient_for_token(token) == first


def test_an_observation_is_kept_once_with_its_pain_score_from_the_diary(
    store: ClinicStore, nurse: User, clock: Clock
) -> None:
    patient = _patient(store, nurse, "M-1")
    token = store.issue_patient_token(patient, nurse)
    clock.now = NOW + timedelta(minutes=5)
    kept, created = _send(store, token)
    assert created is True
    assert (kept.patient_id, kept.source_id, kept.effective_at, kept.pain_0_10) == (patient, "ptm-1-1", ENTRY_AT, 6)
    assert (kept.activity, kept.side_effects, kept.notes) == (
        "walking",
        ("nausea", "itching"),
        "worse after the stairs",
    )
    assert kept.received_at == NOW + timedelta(minutes=5)
    [score] = store.pain_scores(patient)
    assert (score.id, score.at, score.score, score.source) == (kept.pain_score_id, ENTRY_AT, 6, "patient_diary")
    assert score.note == "activity: walking; side effects: nausea, itching; notes: worse after the stairs"
    received = store.audit_trail()[0]
    assert (received.action, received.username, received.user_id, received.patient_id) == (
        "observation.receive",
        "patient_diary",
        None,
        patient,
    )
    assert received.new is not None and received.new["pain_0_10"] == 6 and received.new["source_id"] == "ptm-1-1"
    assert store.patient_tokens(patient)[0].last_used_at == NOW + timedelta(minutes=5)

    audited = len(store.audit_trail())
    clock.now = NOW + timedelta(minutes=9)
    again, created = _send(store, token, pain_0_10=2)  # the same entry sent again: the first is kept
    assert created is False and again == kept
    assert store.observations(patient) == [kept]
    assert len(store.pain_scores(patient)) == 1 and len(store.audit_trail()) == audited
    assert store.patient_tokens(patient)[0].last_used_at == NOW + timedelta(minutes=9)


def test_the_same_entry_id_of_another_patient_is_another_entry(store: ClinicStore, nurse: User) -> None:
    first, second = _patient(store, nurse, "M-1"), _patient(store, nurse, "M-2")
    tokens = [store.issue_patient_token(p, nurse) for p in (first, second)]
    assert [_send(store, t)[1] for t in tokens] == [True, True]
    assert [len(store.observations(p)) for p in (first, second)] == [1, 1]


def test_a_token_appends_only_to_its_own_patient(store: ClinicStore, nurse: User) -> None:
    first, second = _patient(store, nurse, "M-1"), _patient(store, nurse, "M-2")
    token = store.patient_token(store.issue_patient_token(first, nurse))
    assert token is not None
    with pytest.raises(InputError) as caught:
        store.add_observation(second, token_id=token.id, **_entry())
    assert caught.value.field == "token"
    assert store.observations(second) == [] and store.pain_scores(second) == []


def test_a_revoked_token_appends_nothing(store: ClinicStore, nurse: User) -> None:
    patient = _patient(store, nurse, "M-1")
    token = store.patient_token(store.issue_patient_token(patient, nurse))
    assert token is not None
    store.revoke_patient_token(token.id, nurse)
    with pytest.raises(InputError) as caught:
        store.add_observation(patient, token_id=token.id, **_entry())
    assert caught.value.field == "token" and "new token" in caught.value.action
    assert store.observations(patient) == []


@pytest.mark.parametrize(
    ("changes", "field", "limit"),
    [
        ({"pain_0_10": 11}, "pain_0_10", "0 to 10"),
        ({"pain_0_10": True}, "pain_0_10", None),
        ({"source_id": ""}, "source_id", None),
        ({"source_id": "x" * 101}, "source_id", "at most 100 characters"),
        ({"notes": "n" * (NOTES_CHARS + 1)}, "notes", f"at most {NOTES_CHARS} characters"),
        ({"side_effects": ["nausea"] * 21}, "side_effects", "at most 20"),
        ({"side_effects": "nausea"}, "side_effects", None),
        ({"side_effects": ["nau\x00sea"]}, "side_effects[0]", None),
        ({"effective_at": datetime(2026, 3, 1, 7, 30)}, "effective_at", None),
        (
            {"effective_at": NOW + timedelta(days=2)},
            "effective_local",
            "at most 1 day, 0:00:00 after 2026-03-01T09:00+00:00",
        ),
        ({"effective_at": datetime(1999, 12, 31, tzinfo=UTC)}, "effective_local", "from 2000-01-01"),
    ],
)
def test_a_wrong_observation_is_refused_by_field_and_nothing_is_written(
    store: ClinicStore, nurse: User, changes: dict[str, Any], field: str, limit: str | None
) -> None:
    patient = _patient(store, nurse, "M-1")
    token = store.issue_patient_token(patient, nurse)
    audited = len(store.audit_trail())
    with pytest.raises(InputError) as caught:
        _send(store, token, **changes)
    assert caught.value.field == field and caught.value.action
    if limit is not None:
        assert caught.value.limit == limit
    assert store.observations(patient) == [] and store.pain_scores(patient) == []
    assert len(store.audit_trail()) == audited


def test_a_patient_has_at_most_so_many_active_tokens(store: ClinicStore, nurse: User) -> None:
    patient = _patient(store, nurse, "M-1")
    for _ in range(MAX_ACTIVE_TOKENS):
        store.issue_patient_token(patient, nurse)
    with pytest.raises(InputError) as caught:
        store.issue_patient_token(patient, nurse)
    assert (
        caught.value.limit == f"at most {MAX_ACTIVE_TOKENS} active tokens a patient" and "revoke" in caught.value.action
    )
    store.revoke_patient_token(store.patient_tokens(patient)[0].id, nurse)
    assert store.patient_for_token(store.issue_patient_token(patient, nurse)) == patient


def test_a_token_is_issued_by_a_user_for_a_patient(store: ClinicStore, nurse: User) -> None:
    with pytest.raises(InputError) as caught:
        store.issue_patient_token(999, nurse)
    assert caught.value.field == "patient_id"
    with pytest.raises(InputError):
        store.issue_patient_token(_patient(store, nurse, "M-1"), None)  # type: ignore[arg-type]


def test_observations_are_listed_oldest_entry_first(store: ClinicStore, nurse: User) -> None:
    patient = _patient(store, nurse, "M-1")
    token = store.issue_patient_token(patient, nurse)
    for n, hours in enumerate((5, 1, 3)):
        _send(store, token, source_id=f"e-{n}", effective_at=ENTRY_AT - timedelta(hours=hours))
    assert [o.source_id for o in store.observations(patient)] == ["e-0", "e-2", "e-1"]
    assert store.observations(0) == [] and store.observations(999) == []


def test_the_database_keeps_one_entry_per_patient_and_source_id(store: ClinicStore, nurse: User) -> None:
    patient = _patient(store, nurse, "M-1")
    kept, _ = _send(store, store.issue_patient_token(patient, nurse))
    with pytest.raises(IntegrityError), store.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO patient_observations (patient_id, source_id, pain_score_id, effective_local, activity,"
                " side_effects, notes, received_at, token_id) SELECT patient_id, source_id, pain_score_id,"
                " effective_local, activity, side_effects, notes, received_at, token_id FROM patient_observations"
            )
        )
    assert store.observations(patient) == [kept]


def _to_revision(store: ClinicStore, revision: str, *, down: bool = False) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with store.engine.connect() as connection, connection.begin():
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


def test_revision_0003_goes_down_to_0002_and_up_again(store: ClinicStore, nurse: User) -> None:
    """Down: the tokens, the observations and their diary pain scores go, the clinic's scores stay, and a diary
    source is refused again; up again: everything works as before."""
    patient = _patient(store, nurse, "M-1")
    store.add_pain_score(patient, at=NOW, score=3, source="clinic", by=nurse)
    _send(store, store.issue_patient_token(patient, nurse))
    assert store.schema_revision() == "0003" and len(store.pain_scores(patient)) == 2

    _to_revision(store, "0002", down=True)
    assert store.schema_revision() == "0002"
    tables = set(inspect(store.engine).get_table_names())
    assert not {"patient_tokens", "patient_observations"} & tables
    assert [(s.score, s.source) for s in store.pain_scores(patient)] == [(3, "clinic")]
    with pytest.raises(IntegrityError), store.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO pain_scores (patient_id, at, score, source, note) "
                "VALUES (:p, '2026-03-01 08:00:00', 5, 'patient_diary', '')"
            ),
            {"p": patient},
        )

    store.migrate()
    assert store.schema_revision() == "0003"
    token = store.issue_patient_token(patient, nurse)
    assert _send(store, token)[1] is True
    assert [s.source for s in store.pain_scores(patient)] == ["patient_diary", "clinic"]
    checks = {c["name"] for c in inspect(store.engine).get_check_constraints("pain_scores")}
    assert {"ck_pain_scores_score", "ck_pain_scores_source"} <= checks


def test_the_same_entry_sent_twice_at_once_is_kept_once(store: ClinicStore, nurse: User) -> None:
    """Two requests with one entry at the same moment (a resend racing the first send): one keeps it, one reads it."""
    patient = _patient(store, nurse, "M-1")
    # Two tokens (two devices), so that the token's lock does not line the requests up: the database's own
    # uniqueness of (patient, source_id) is what keeps the entry once.
    tokens = [store.patient_token(store.issue_patient_token(patient, nurse)) for _ in range(2)]
    start = threading.Barrier(4)

    def send(n: int) -> tuple[PatientObservation, bool]:
        token = tokens[n % 2]
        assert token is not None
        start.wait()
        return store.add_observation(patient, token_id=token.id, **_entry())

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(send, range(4)))
    assert sorted(created for _, created in results) == [False, False, False, True]
    assert len({observation for observation, _ in results}) == 1
    assert len(store.observations(patient)) == 1 and len(store.pain_scores(patient)) == 1
    assert [e.action for e in store.audit_trail()].count("observation.receive") == 1

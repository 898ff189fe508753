"""The clinic database's migrations run up, down and up again on SQLite and PostgreSQL, and match the models."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, inspect, select
from tests.clinic.conftest import fast_hasher

from thecal.apps.clinic.store import INTERROGATION_ACTION, AppRole, ClinicStore, LastInterrogation, User
from thecal.apps.clinic.store.facade import MIGRATIONS
from thecal.apps.clinic.store.models import AuditRow, Base
from thecal.errors import InputError

TABLES = {
    "users",
    "settings",
    "patients",
    "implants",
    "catheter_revisions",
    "drug_fills",
    "drug_fill_drugs",
    "visits",
    "pain_scores",
    "notes",
    "trials",
    "audit_entries",
    "last_interrogations",
    "patient_tokens",
    "patient_observations",
}
HEAD = "0003"


def _tables(store: ClinicStore) -> set[str]:
    return set(inspect(store.engine).get_table_names()) - {"alembic_version"}


def test_open_makes_no_tables(clinic_db_url: str) -> None:
    store = ClinicStore.open(clinic_db_url)
    try:
        assert _tables(store) == set()
        assert store.schema_revision() is None
    finally:
        store.close()


def test_up_down_up(clinic_db_url: str) -> None:
    store = ClinicStore.open(clinic_db_url, password_hasher=fast_hasher())
    try:
        store.migrate()
        assert _tables(store) == TABLES
        assert store.schema_revision() == HEAD
        store.migrate()  # already at head: nothing to do, nothing breaks
        assert store.schema_revision() == HEAD

        store.downgrade_all()
        assert _tables(store) == set()
        assert store.schema_revision() is None

        store.migrate()
        assert _tables(store) == TABLES
        # The database made the second time works, audit triggers included.
        admin = store.add_user("admin", "Ada Admin", AppRole.ADMIN, "correct horse battery", by=None)
        store.add_patient(
            mrn="M-1",
            family_name="Lind",
            given_name="Eva",
            birth_date=date(1950, 5, 1),
            weight_kg=61.5,
            indication="non_cancer",
            opioid_status="tolerant",
            by=admin,
        )
        assert [entry.action for entry in store.audit_trail()] == ["patient.add", "user.add"]
    finally:
        store.close()


def test_the_migrated_schema_is_the_models_schema(clinic_store: ClinicStore) -> None:
    with clinic_store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_constraints_are_in_the_database(clinic_store: ClinicStore) -> None:
    inspector = inspect(clinic_store.engine)
    uniques = {tuple(u["column_names"]) for u in inspector.get_unique_constraints("patients")}
    assert ("mrn",) in uniques
    assert ("pump_serial",) in {tuple(u["column_names"]) for u in inspector.get_unique_constraints("implants")}
    checks = {c["name"] for c in inspector.get_check_constraints("pain_scores")}
    assert {"ck_pain_scores_score", "ck_pain_scores_source"} <= checks
    assert "ck_users_role" in {c["name"] for c in inspector.get_check_constraints("users")}
    patient_checks = {c["name"] for c in inspector.get_check_constraints("patients")}
    assert {"ck_patients_indication", "ck_patients_opioid_status"} <= patient_checks


@pytest.mark.parametrize(
    "url",
    ["not a url", "mysql://root@localhost/clinic", "postgresql+nosuchdriver://x@localhost/db"],
)
def test_a_bad_url_is_an_input_error(url: str) -> None:
    with pytest.raises(InputError) as caught:
        ClinicStore.open(url)
    assert caught.value.field == "database URL"


def test_an_unreachable_server_is_an_input_error() -> None:
    store = ClinicStore.open("postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2")
    try:
        with pytest.raises(InputError) as caught:
            store.migrate()
        assert "cannot be reached" in caught.value.problem
    finally:
        store.close()


def _to_revision(store: ClinicStore, revision: str, *, down: bool = False) -> None:
    """Migrate to one revision, as `ClinicStore.migrate` does to the newest."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with store.engine.connect() as connection, connection.begin():
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


def _summary(dose: int | None, days_low: float) -> dict[str, Any]:
    return {"alarms": [], "days_to_low_reservoir": days_low, "max_dose_ng_per_day": dose}


def test_the_second_revision_fills_the_last_interrogations_from_the_audit_and_goes_down_and_up(
    clinic_db_url: str,
) -> None:
    """A clinic at the first revision, its interrogations only in the audit trail: the upgrade keeps each implanted
    pump's last one for its patient, with the trend of the highest basal dose; down and up again gives the same."""
    store = ClinicStore.open(clinic_db_url, password_hasher=fast_hasher())
    try:
        _to_revision(store, "0001")
        assert store.schema_revision() == "0001" and "last_interrogations" not in _tables(store)
        doctor = store.add_user("doc", "Dr Doc", AppRole.PHYSICIAN, "correct horse battery", by=None)
        first, second = (_patient_with_pump(store, doctor, n) for n in (1, 2))
        at = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
        entries = [  # (patient, serial, summary)
            (first, "SN-1", _summary(1_000_000, 40.0)),
            (first, "SN-1", _summary(None, 30.0)),  # no dose: counted, not in the trend
            (None, "SN-1", _summary(9_000_000, 1.0)),  # not for its patient: not the patient's interrogation
            (second, "SN-1", _summary(9_000_000, 1.0)),  # another patient's: neither
            (first, "SN-1", _summary(2_000_000, 20.0)),
            (first, "SN-UNKNOWN", _summary(5_000_000, 5.0)),  # no implant recorded for this pump
            (second, "SN-2", None),  # no summary
        ]
        with store.engine.begin() as connection:
            for n, (patient_id, serial, new) in enumerate(entries):
                connection.execute(
                    AuditRow.__table__.insert().values(
                        at=at + timedelta(days=n),
                        user_id=doctor.id,
                        username="doc",
                        action=INTERROGATION_ACTION,
                        patient_id=patient_id,
                        pump_serial=serial,
                        new=new,
                        detail="interrogated",
                    )
                )
        audited = _audit_count(store)

        for _ in range(2):
            store.migrate()
            assert store.schema_revision() == HEAD
            newest = next(e for e in store.audit_trail() if e.pump_serial == "SN-1" and e.patient_id == first)
            assert store.last_interrogation("SN-1") == LastInterrogation(
                implant_id=store.implants(first)[0].id,
                audit_id=newest.id,
                at=at + timedelta(days=4),
                username="doc",
                summary=_summary(2_000_000, 20.0),
                interrogations=3,
                doses_known=2,
                first_dose_ng_per_day=1_000_000,
                last_dose_ng_per_day=2_000_000,
            )
            assert store.last_interrogation("SN-2") is None
            assert store.last_interrogation("SN-UNKNOWN") is None

            _to_revision(store, "0001", down=True)
            assert store.schema_revision() == "0001" and "last_interrogations" not in _tables(store)
            assert _audit_count(store) == audited  # the audit keeps every interrogation
    finally:
        store.close()


def _patient_with_pump(store: ClinicStore, by: User, n: int) -> int:
    patient = store.add_patient(
        mrn=f"M-{n}",
        family_name="Lind",
        given_name="Eva",
        birth_date=date(1950, 5, 1),
        weight_kg=61.5,
        indication="non_cancer",
        opioid_status="tolerant",
        by=by,
    )
    store.add_implant(
        patient.id,
        pump_model="programmable-20",
        pump_serial=f"SN-{n}",
        implant_date=date(2024, 1, 5),
        catheter_model="two-piece intrathecal catheter",
        catheter_length_cm=45.0,
        catheter_volume_ul_per_cm=2.2,
        tip_level="T10",
        by=by,
    )
    return patient.id


def _audit_count(store: ClinicStore) -> int:
    with store.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(AuditRow)).scalar_one())

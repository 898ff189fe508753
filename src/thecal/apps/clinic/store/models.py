"""The clinic's tables: one per concept, with the constraints the database itself keeps.

Times are stored as naive UTC (`UTCDateTime`) so that SQLite and PostgreSQL hold
and return the same value; the store's API only ever sees timezone-aware UTC.
The migrations (`migrations/versions/`) create exactly these tables: the first
all but three, the second `last_interrogations`, the third `patient_tokens` and
`patient_observations` (and lets a pain score come from the patient's diary).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    Double,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Where a pain score may come from; `patient_diary` is a score the patient's therapy manager sent (migration 0003).
PAIN_SOURCES_SQL = "'clinic', 'patient_app', 'patient_diary', 'trial'"

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime in the API, a naive UTC datetime in the database (the same on every database)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Aware in, naive UTC out; a naive datetime is a programming error here (the store checks input first)."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"a naive datetime cannot be stored: {value!r}")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Naive UTC from the database, aware UTC to the caller."""
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    """The clinic's declarative base, with constraint names every database agrees on."""

    metadata = MetaData(naming_convention=NAMING)


class UserRow(Base):
    """A person who logs in."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('physician', 'nurse', 'viewer', 'admin')", name="role"),
        CheckConstraint("failed_logins >= 0", name="failed_logins"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(512))
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SettingRow(Base):
    """A clinic setting, as text (the caller knows its type)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PatientRow(Base):
    """A patient of the clinic."""

    __tablename__ = "patients"
    __table_args__ = (
        CheckConstraint("indication IN ('cancer', 'non_cancer')", name="indication"),
        CheckConstraint("opioid_status IN ('naive', 'tolerant')", name="opioid_status"),
        CheckConstraint("weight_kg > 0", name="weight_kg"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mrn: Mapped[str] = mapped_column(String(64), unique=True)
    family_name: Mapped[str] = mapped_column(String(200))
    given_name: Mapped[str] = mapped_column(String(200))
    birth_date: Mapped[date] = mapped_column(Date)
    weight_kg: Mapped[float] = mapped_column(Double)
    indication: Mapped[str] = mapped_column(String(16))
    opioid_status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ImplantRow(Base):
    """A pump implanted in a patient, with its catheter as it is now."""

    __tablename__ = "implants"
    __table_args__ = (
        CheckConstraint("catheter_length_cm > 0", name="catheter_length_cm"),
        CheckConstraint("catheter_volume_ul_per_cm > 0", name="catheter_volume_ul_per_cm"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    pump_model: Mapped[str] = mapped_column(String(100))
    pump_serial: Mapped[str] = mapped_column(String(64), unique=True)
    implant_date: Mapped[date] = mapped_column(Date)
    catheter_model: Mapped[str] = mapped_column(String(100))
    catheter_length_cm: Mapped[float] = mapped_column(Double)
    catheter_volume_ul_per_cm: Mapped[float] = mapped_column(Double)
    tip_level: Mapped[str] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class RevisionRow(Base):
    """A catheter revision."""

    __tablename__ = "catheter_revisions"
    __table_args__ = (CheckConstraint("new_length_cm > 0", name="new_length_cm"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    implant_id: Mapped[int] = mapped_column(ForeignKey("implants.id"), index=True)
    revised_on: Mapped[date] = mapped_column(Date)
    new_length_cm: Mapped[float] = mapped_column(Double)
    new_tip_level: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text)
    by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))


class FillRow(Base):
    """A reservoir refill."""

    __tablename__ = "drug_fills"
    __table_args__ = (
        CheckConstraint("volume_ml > 0", name="volume_ml"),
        CheckConstraint("aspirated_ml IS NULL OR aspirated_ml >= 0", name="aspirated_ml"),
        CheckConstraint("expected_ml IS NULL OR expected_ml >= 0", name="expected_ml"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    implant_id: Mapped[int] = mapped_column(ForeignKey("implants.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    volume_ml: Mapped[float] = mapped_column(Double)
    aspirated_ml: Mapped[float | None] = mapped_column(Double)
    expected_ml: Mapped[float | None] = mapped_column(Double)
    discrepancy_acknowledged: Mapped[bool] = mapped_column(Boolean)
    by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    drugs: Mapped[list[FillDrugRow]] = relationship(order_by="FillDrugRow.position", lazy="selectin")


class FillDrugRow(Base):
    """One drug of a refill and its concentration."""

    __tablename__ = "drug_fill_drugs"
    __table_args__ = (CheckConstraint("mg_per_ml > 0", name="mg_per_ml"),)

    fill_id: Mapped[int] = mapped_column(ForeignKey("drug_fills.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    drug: Mapped[str] = mapped_column(String(100))
    mg_per_ml: Mapped[float] = mapped_column(Double)


class VisitRow(Base):
    """A visit."""

    __tablename__ = "visits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    kind: Mapped[str] = mapped_column(String(64))
    by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    summary: Mapped[str] = mapped_column(Text)


class PainScoreRow(Base):
    """A pain score."""

    __tablename__ = "pain_scores"
    __table_args__ = (
        CheckConstraint("score >= 0 AND score <= 10", name="score"),
        CheckConstraint(f"source IN ({PAIN_SOURCES_SQL})", name="source"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    score: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text)
    by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class NoteRow(Base):
    """A note."""

    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    text: Mapped[str] = mapped_column(Text)


class TrialRow(Base):
    """A screening trial record."""

    __tablename__ = "trials"
    __table_args__ = (
        CheckConstraint("pain_before >= 0 AND pain_before <= 10", name="pain_before"),
        CheckConstraint("pain_after >= 0 AND pain_after <= 10", name="pain_after"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    drug: Mapped[str] = mapped_column(String(100))
    doses: Mapped[str] = mapped_column(Text)
    pain_before: Mapped[int] = mapped_column(Integer)
    pain_after: Mapped[int] = mapped_column(Integer)
    decision: Mapped[str] = mapped_column(String(200))
    rule: Mapped[str] = mapped_column(Text)
    by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))


class AuditRow(Base):
    """An audit entry: append-only (database triggers refuse UPDATE and DELETE)."""

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    user_id: Mapped[int | None] = mapped_column(Integer)
    username: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    patient_id: Mapped[int | None] = mapped_column(Integer, index=True)
    pump_serial: Mapped[str | None] = mapped_column(String(64))
    old: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    new: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    override_reason: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[str] = mapped_column(Text)


class LastInterrogationRow(Base):
    """An implant's last interrogation, kept beside its audit entry so that the dashboard reads one row per pump.

    Written in the transaction that appends the interrogation's audit entry
    (the entry stays the record; this row is what the dashboard ranks from),
    with the trend of the highest basal dose over every interrogation on
    record: how many gave one, the oldest and the newest.
    """

    __tablename__ = "last_interrogations"
    __table_args__ = (
        CheckConstraint("interrogations >= 1", name="interrogations"),
        CheckConstraint("doses_known >= 0 AND doses_known <= interrogations", name="doses_known"),
        CheckConstraint("first_dose_ng_per_day IS NULL OR first_dose_ng_per_day > 0", name="first_dose_ng_per_day"),
        CheckConstraint("last_dose_ng_per_day IS NULL OR last_dose_ng_per_day > 0", name="last_dose_ng_per_day"),
    )

    implant_id: Mapped[int] = mapped_column(ForeignKey("implants.id"), primary_key=True)
    audit_id: Mapped[int] = mapped_column(ForeignKey("audit_entries.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    interrogations: Mapped[int] = mapped_column(Integer)
    doses_known: Mapped[int] = mapped_column(Integer)
    first_dose_ng_per_day: Mapped[int | None] = mapped_column(BigInteger)
    last_dose_ng_per_day: Mapped[int | None] = mapped_column(BigInteger)


class PatientTokenRow(Base):
    """A token the clinic issued to a patient's therapy manager, to send diary entries; only its SHA-256 is kept."""

    __tablename__ = "patient_tokens"
    __table_args__ = (
        CheckConstraint("length(token_sha256) = 64", name="token_sha256"),
        CheckConstraint(
            "(revoked_at IS NULL AND revoked_by_user_id IS NULL) "
            "OR (revoked_at IS NOT NULL AND revoked_by_user_id IS NOT NULL)",
            name="revoked",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(8))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    issued_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PatientObservationRow(Base):
    """A diary entry the patient's therapy manager sent: its pain score is a row of `pain_scores` (patient_diary)."""

    __tablename__ = "patient_observations"
    __table_args__ = (UniqueConstraint("patient_id", "source_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    source_id: Mapped[str] = mapped_column(String(100))
    pain_score_id: Mapped[int] = mapped_column(ForeignKey("pain_scores.id"), unique=True)
    effective_local: Mapped[str] = mapped_column(String(32))
    activity: Mapped[str] = mapped_column(String(40))
    side_effects: Mapped[list[str]] = mapped_column(JSON)
    notes: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    token_id: Mapped[int] = mapped_column(ForeignKey("patient_tokens.id"), index=True)

"""The clinic's first schema: users, settings, patients, implants and their record, and the append-only audit.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# The words both databases raise when anything tries to change or remove an audit entry.
APPEND_ONLY = "audit_entries is append-only: an audit entry can be neither changed nor deleted"


def _pk(table: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}"))


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"))


def _ck(table: str, name: str, condition: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(condition, name=op.f(f"ck_{table}_{name}"))


def upgrade() -> None:
    """Create every table, index and the audit's append-only triggers."""
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("full_name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(512), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        _pk("users"),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
        _ck("users", "role", "role IN ('physician', 'nurse', 'viewer', 'admin')"),
        _ck("users", "failed_logins", "failed_logins >= 0"),
    )
    op.create_table(
        "settings",
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_settings")),
    )
    op.create_table(
        "patients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mrn", sa.String(64), nullable=False),
        sa.Column("family_name", sa.String(200), nullable=False),
        sa.Column("given_name", sa.String(200), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("weight_kg", sa.Double(), nullable=False),
        sa.Column("indication", sa.String(16), nullable=False),
        sa.Column("opioid_status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        _pk("patients"),
        sa.UniqueConstraint("mrn", name=op.f("uq_patients_mrn")),
        _ck("patients", "indication", "indication IN ('cancer', 'non_cancer')"),
        _ck("patients", "opioid_status", "opioid_status IN ('naive', 'tolerant')"),
        _ck("patients", "weight_kg", "weight_kg > 0"),
    )
    op.create_table(
        "implants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("pump_model", sa.String(100), nullable=False),
        sa.Column("pump_serial", sa.String(64), nullable=False),
        sa.Column("implant_date", sa.Date(), nullable=False),
        sa.Column("catheter_model", sa.String(100), nullable=False),
        sa.Column("catheter_length_cm", sa.Double(), nullable=False),
        sa.Column("catheter_volume_ul_per_cm", sa.Double(), nullable=False),
        sa.Column("tip_level", sa.String(32), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        _pk("implants"),
        _fk("implants", "patient_id", "patients"),
        sa.UniqueConstraint("pump_serial", name=op.f("uq_implants_pump_serial")),
        _ck("implants", "catheter_length_cm", "catheter_length_cm > 0"),
        _ck("implants", "catheter_volume_ul_per_cm", "catheter_volume_ul_per_cm > 0"),
    )
    op.create_index(op.f("ix_implants_patient_id"), "implants", ["patient_id"])
    op.create_table(
        "catheter_revisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("implant_id", sa.Integer(), nullable=False),
        sa.Column("revised_on", sa.Date(), nullable=False),
        sa.Column("new_length_cm", sa.Double(), nullable=False),
        sa.Column("new_tip_level", sa.String(32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("by_user_id", sa.Integer(), nullable=False),
        _pk("catheter_revisions"),
        _fk("catheter_revisions", "implant_id", "implants"),
        _fk("catheter_revisions", "by_user_id", "users"),
        _ck("catheter_revisions", "new_length_cm", "new_length_cm > 0"),
    )
    op.create_index(op.f("ix_catheter_revisions_implant_id"), "catheter_revisions", ["implant_id"])
    op.create_table(
        "drug_fills",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("implant_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("volume_ml", sa.Double(), nullable=False),
        sa.Column("aspirated_ml", sa.Double(), nullable=True),
        sa.Column("expected_ml", sa.Double(), nullable=True),
        sa.Column("discrepancy_acknowledged", sa.Boolean(), nullable=False),
        sa.Column("by_user_id", sa.Integer(), nullable=False),
        _pk("drug_fills"),
        _fk("drug_fills", "implant_id", "implants"),
        _fk("drug_fills", "by_user_id", "users"),
        _ck("drug_fills", "volume_ml", "volume_ml > 0"),
        _ck("drug_fills", "aspirated_ml", "aspirated_ml IS NULL OR aspirated_ml >= 0"),
        _ck("drug_fills", "expected_ml", "expected_ml IS NULL OR expected_ml >= 0"),
    )
    op.create_index(op.f("ix_drug_fills_implant_id"), "drug_fills", ["implant_id"])
    op.create_table(
        "drug_fill_drugs",
        sa.Column("fill_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("drug", sa.String(100), nullable=False),
        sa.Column("mg_per_ml", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("fill_id", "position", name=op.f("pk_drug_fill_drugs")),
        _fk("drug_fill_drugs", "fill_id", "drug_fills"),
        _ck("drug_fill_drugs", "mg_per_ml", "mg_per_ml > 0"),
    )
    op.create_table(
        "visits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("by_user_id", sa.Integer(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        _pk("visits"),
        _fk("visits", "patient_id", "patients"),
        _fk("visits", "by_user_id", "users"),
    )
    op.create_index(op.f("ix_visits_patient_id"), "visits", ["patient_id"])
    op.create_table(
        "pain_scores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("by_user_id", sa.Integer(), nullable=True),
        _pk("pain_scores"),
        _fk("pain_scores", "patient_id", "patients"),
        _fk("pain_scores", "by_user_id", "users"),
        _ck("pain_scores", "score", "score >= 0 AND score <= 10"),
        _ck("pain_scores", "source", "source IN ('clinic', 'patient_app', 'trial')"),
    )
    op.create_index(op.f("ix_pain_scores_patient_id"), "pain_scores", ["patient_id"])
    op.create_table(
        "notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("by_user_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        _pk("notes"),
        _fk("notes", "patient_id", "patients"),
        _fk("notes", "by_user_id", "users"),
    )
    op.create_index(op.f("ix_notes_patient_id"), "notes", ["patient_id"])
    op.create_table(
        "trials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("drug", sa.String(100), nullable=False),
        sa.Column("doses", sa.Text(), nullable=False),
        sa.Column("pain_before", sa.Integer(), nullable=False),
        sa.Column("pain_after", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(200), nullable=False),
        sa.Column("rule", sa.Text(), nullable=False),
        sa.Column("by_user_id", sa.Integer(), nullable=False),
        _pk("trials"),
        _fk("trials", "patient_id", "patients"),
        _fk("trials", "by_user_id", "users"),
        _ck("trials", "pain_before", "pain_before >= 0 AND pain_before <= 10"),
        _ck("trials", "pain_after", "pain_after >= 0 AND pain_after <= 10"),
    )
    op.create_index(op.f("ix_trials_patient_id"), "trials", ["patient_id"])
    op.create_table(
        "audit_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(200), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("pump_serial", sa.String(64), nullable=True),
        sa.Column("old", sa.JSON(), nullable=True),
        sa.Column("new", sa.JSON(), nullable=True),
        sa.Column("override_reason", sa.Text(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        _pk("audit_entries"),
    )
    op.create_index(op.f("ix_audit_entries_at"), "audit_entries", ["at"])
    op.create_index(op.f("ix_audit_entries_patient_id"), "audit_entries", ["patient_id"])
    _create_append_only_triggers()


def _create_append_only_triggers() -> None:
    """Make the audit append-only in the database itself: UPDATE and DELETE (and TRUNCATE) are refused."""
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_entries_no_{verb.lower()} BEFORE {verb} ON audit_entries "
                f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
            )
    elif dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION audit_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '{APPEND_ONLY} (% refused)', TG_OP; END $$"
        )
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_entries_no_{verb.lower()} BEFORE {verb} ON audit_entries "
                "FOR EACH ROW EXECUTE FUNCTION audit_entries_append_only()"
            )
        op.execute(
            "CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_append_only()"
        )
    else:
        raise NotImplementedError(f"the clinic's audit triggers are written for sqlite and postgresql, not {dialect}")


def downgrade() -> None:
    """Drop everything the upgrade created, the triggers first."""
    dialect = op.get_bind().dialect.name
    for verb in ("update", "delete", "truncate"):
        if dialect == "sqlite" and verb != "truncate":
            op.execute(f"DROP TRIGGER IF EXISTS audit_entries_no_{verb}")
        elif dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS audit_entries_no_{verb} ON audit_entries")
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_entries_append_only()")
    for index, table in (
        ("ix_audit_entries_patient_id", "audit_entries"),
        ("ix_audit_entries_at", "audit_entries"),
        ("ix_trials_patient_id", "trials"),
        ("ix_notes_patient_id", "notes"),
        ("ix_pain_scores_patient_id", "pain_scores"),
        ("ix_visits_patient_id", "visits"),
        ("ix_drug_fills_implant_id", "drug_fills"),
        ("ix_catheter_revisions_implant_id", "catheter_revisions"),
        ("ix_implants_patient_id", "implants"),
    ):
        op.drop_index(op.f(index), table_name=table)
    for table in (
        "audit_entries",
        "trials",
        "notes",
        "pain_scores",
        "visits",
        "drug_fill_drugs",
        "drug_fills",
        "catheter_revisions",
        "implants",
        "patients",
        "settings",
        "users",
    ):
        op.drop_table(table)

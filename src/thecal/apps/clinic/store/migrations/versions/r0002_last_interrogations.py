"""Each implant's last interrogation in a table of its own, filled from the interrogations the audit trail keeps.

The dashboard ranks every patient from their pumps' last interrogations; reading
them from one row per implant replaces parsing each patient's audit trail. The
upgrade fills the table from the audit entries already written, oldest first,
as the store keeps it from now on: the last summary of each implanted pump
interrogated for its patient, how many interrogations there were, and the
oldest and newest highest basal dose among them.

Revision ID: 0002
Revises: 0001
Create Date: 2025-06-01
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLE = "last_interrogations"
# As the store writes them; written out here so that this revision keeps meaning what it did when the store changes.
INTERROGATION_ACTION = "pump.interrogate"
DOSE_KEY = "max_dose_ng_per_day"

_audit = sa.table(
    "audit_entries",
    sa.column("id", sa.Integer()),
    sa.column("at", sa.DateTime()),
    sa.column("action", sa.String()),
    sa.column("patient_id", sa.Integer()),
    sa.column("pump_serial", sa.String()),
    sa.column("new", sa.JSON()),
)
_implants = sa.table(
    "implants",
    sa.column("id", sa.Integer()),
    sa.column("patient_id", sa.Integer()),
    sa.column("pump_serial", sa.String()),
)
_last = sa.table(
    TABLE,
    sa.column("implant_id", sa.Integer()),
    sa.column("audit_id", sa.Integer()),
    sa.column("at", sa.DateTime()),
    sa.column("summary", sa.JSON()),
    sa.column("interrogations", sa.Integer()),
    sa.column("doses_known", sa.Integer()),
    sa.column("first_dose_ng_per_day", sa.BigInteger()),
    sa.column("last_dose_ng_per_day", sa.BigInteger()),
)


def upgrade() -> None:
    """Create the table and fill it from the interrogations in the audit trail."""
    op.create_table(
        TABLE,
        sa.Column("implant_id", sa.Integer(), nullable=False),
        sa.Column("audit_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("interrogations", sa.Integer(), nullable=False),
        sa.Column("doses_known", sa.Integer(), nullable=False),
        sa.Column("first_dose_ng_per_day", sa.BigInteger(), nullable=True),
        sa.Column("last_dose_ng_per_day", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("implant_id", name=op.f(f"pk_{TABLE}")),
        sa.ForeignKeyConstraint(["implant_id"], ["implants.id"], name=op.f(f"fk_{TABLE}_implant_id_implants")),
        sa.ForeignKeyConstraint(["audit_id"], ["audit_entries.id"], name=op.f(f"fk_{TABLE}_audit_id_audit_entries")),
        sa.CheckConstraint("interrogations >= 1", name=op.f(f"ck_{TABLE}_interrogations")),
        sa.CheckConstraint("doses_known >= 0 AND doses_known <= interrogations", name=op.f(f"ck_{TABLE}_doses_known")),
        sa.CheckConstraint(
            "first_dose_ng_per_day IS NULL OR first_dose_ng_per_day > 0",
            name=op.f(f"ck_{TABLE}_first_dose_ng_per_day"),
        ),
        sa.CheckConstraint(
            "last_dose_ng_per_day IS NULL OR last_dose_ng_per_day > 0", name=op.f(f"ck_{TABLE}_last_dose_ng_per_day")
        ),
    )
    _fill_from_the_audit()


def _fill_from_the_audit() -> None:
    """One row per implant interrogated for its patient, from its interrogations' audit entries in the order written."""
    bind = op.get_bind()
    reads = bind.execute(
        sa.select(_implants.c.id, _audit.c.id, _audit.c.at, _audit.c.new)
        .join(
            _implants,
            sa.and_(_implants.c.pump_serial == _audit.c.pump_serial, _implants.c.patient_id == _audit.c.patient_id),
        )
        .where(_audit.c.action == INTERROGATION_ACTION, _audit.c.new.is_not(None))
        .order_by(_audit.c.id)
    )
    rows: dict[int, dict[str, Any]] = {}
    for implant_id, audit_id, at, summary in reads:
        if not isinstance(summary, dict):
            continue
        row = rows.setdefault(
            implant_id,
            {
                "implant_id": implant_id,
                "interrogations": 0,
                "doses_known": 0,
                "first_dose_ng_per_day": None,
                "last_dose_ng_per_day": None,
            },
        )
        row.update(audit_id=audit_id, at=at, summary=summary, interrogations=row["interrogations"] + 1)
        dose = summary.get(DOSE_KEY)
        if type(dose) is int and 0 < dose < 2**63:
            row["doses_known"] += 1
            row["last_dose_ng_per_day"] = dose
            if row["first_dose_ng_per_day"] is None:
                row["first_dose_ng_per_day"] = dose
    if rows:
        op.bulk_insert(_last, list(rows.values()))


def downgrade() -> None:
    """Drop the table (the audit trail still holds every interrogation)."""
    op.drop_table(TABLE)

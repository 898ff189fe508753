"""Patients' diary tokens and the observations their therapy managers send; a pain score may come from the diary.

A physician or nurse issues a token for one patient; the table keeps its
SHA-256 (never the token), a hint, who issued and revoked it and when, and its
last use. Each observation keeps the diary entry's activity, side effects,
notes and the device's time, with its pain score as a row of `pain_scores`
whose source is the new `patient_diary`. The downgrade removes those scores
with the observations (the audit trail still holds each one received).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TOKENS = "patient_tokens"
OBSERVATIONS = "patient_observations"
# Written out here, as at this revision, so that it keeps meaning what it did when the models change.
SOURCES_BEFORE = "'clinic', 'patient_app', 'trial'"
SOURCES_AFTER = "'clinic', 'patient_app', 'patient_diary', 'trial'"
PATIENT_DIARY = "patient_diary"


def _pain_sources(sources: str) -> None:
    """Let a pain score's source be one of `sources` (SQLite rebuilds the table to change a CHECK)."""
    with op.batch_alter_table("pain_scores") as batch:
        batch.drop_constraint(op.f("ck_pain_scores_source"), type_="check")
        batch.create_check_constraint(op.f("ck_pain_scores_source"), f"source IN ({sources})")


def upgrade() -> None:
    """Create the tokens and observations tables; let a pain score come from the patient's diary."""
    _pain_sources(SOURCES_AFTER)
    op.create_table(
        TOKENS,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("hint", sa.String(8), nullable=False),
        sa.Column("issued_at", sa.DateTime(), nullable=False),
        sa.Column("issued_by_user_id", sa.Integer(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_by_user_id", sa.Integer(), nullable=True),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{TOKENS}")),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], name=op.f(f"fk_{TOKENS}_patient_id_patients")),
        sa.ForeignKeyConstraint(["issued_by_user_id"], ["users.id"], name=op.f(f"fk_{TOKENS}_issued_by_user_id_users")),
        sa.ForeignKeyConstraint(
            ["revoked_by_user_id"], ["users.id"], name=op.f(f"fk_{TOKENS}_revoked_by_user_id_users")
        ),
        sa.UniqueConstraint("token_sha256", name=op.f(f"uq_{TOKENS}_token_sha256")),
        sa.CheckConstraint("length(token_sha256) = 64", name=op.f(f"ck_{TOKENS}_token_sha256")),
        sa.CheckConstraint(
            "(revoked_at IS NULL AND revoked_by_user_id IS NULL) "
            "OR (revoked_at IS NOT NULL AND revoked_by_user_id IS NOT NULL)",
            name=op.f(f"ck_{TOKENS}_revoked"),
        ),
    )
    op.create_index(op.f(f"ix_{TOKENS}_patient_id"), TOKENS, ["patient_id"])
    op.create_table(
        OBSERVATIONS,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.String(100), nullable=False),
        sa.Column("pain_score_id", sa.Integer(), nullable=False),
        sa.Column("effective_local", sa.String(32), nullable=False),
        sa.Column("activity", sa.String(40), nullable=False),
        sa.Column("side_effects", sa.JSON(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("token_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{OBSERVATIONS}")),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], name=op.f(f"fk_{OBSERVATIONS}_patient_id_patients")),
        sa.ForeignKeyConstraint(
            ["pain_score_id"], ["pain_scores.id"], name=op.f(f"fk_{OBSERVATIONS}_pain_score_id_pain_scores")
        ),
        sa.ForeignKeyConstraint(["token_id"], [f"{TOKENS}.id"], name=op.f(f"fk_{OBSERVATIONS}_token_id_{TOKENS}")),
        sa.UniqueConstraint("patient_id", "source_id", name=op.f(f"uq_{OBSERVATIONS}_patient_id")),
        sa.UniqueConstraint("pain_score_id", name=op.f(f"uq_{OBSERVATIONS}_pain_score_id")),
    )
    op.create_index(op.f(f"ix_{OBSERVATIONS}_patient_id"), OBSERVATIONS, ["patient_id"])
    op.create_index(op.f(f"ix_{OBSERVATIONS}_token_id"), OBSERVATIONS, ["token_id"])


def downgrade() -> None:
    """Drop the observations (and their diary pain scores) and the tokens; pain scores as at revision 0002."""
    op.drop_index(op.f(f"ix_{OBSERVATIONS}_token_id"), table_name=OBSERVATIONS)
    op.drop_index(op.f(f"ix_{OBSERVATIONS}_patient_id"), table_name=OBSERVATIONS)
    op.drop_table(OBSERVATIONS)
    op.drop_index(op.f(f"ix_{TOKENS}_patient_id"), table_name=TOKENS)
    op.drop_table(TOKENS)
    pain_scores = sa.table("pain_scores", sa.column("source", sa.String()))
    op.execute(pain_scores.delete().where(pain_scores.c.source == PATIENT_DIARY))
    _pain_sources(SOURCES_BEFORE)

"""Issue 13: each party signs through its own link (``immersion_signatories``), incidents
(``immersion_incidents``), and on the convention: the structured schedule, the host's
declarations, the parties' addresses, the tutor's assessment, the two-step review; the
transition log accepts the ``signatory`` actor.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import shared.db.tables

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels = None
depends_on = None


def _new_columns() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("schedule_plan", sa.JSON(), nullable=True),
        sa.Column("host_declarations", sa.JSON(), nullable=True),
        sa.Column("beneficiary_email", sa.String(length=254), nullable=True),
        sa.Column("beneficiary_salaried", sa.Boolean(), nullable=True),
        sa.Column("host_representative_name", sa.String(length=200), nullable=True),
        sa.Column("host_representative_function", sa.String(length=200), nullable=True),
        sa.Column("host_representative_email", sa.String(length=254), nullable=True),
        sa.Column("legal_representative_name", sa.String(length=200), nullable=True),
        sa.Column("legal_representative_email", sa.String(length=254), nullable=True),
        sa.Column("employer_name", sa.String(length=200), nullable=True),
        sa.Column("employer_email", sa.String(length=254), nullable=True),
        sa.Column("support_email", sa.String(length=254), nullable=True),
        sa.Column("renewal_justification", sa.Text(), nullable=True),
        sa.Column("assessment_outcome", sa.String(length=32), nullable=True),
        sa.Column("assessed_by", sa.String(length=32), nullable=True),
        sa.Column("assessment_last_day", sa.Date(), nullable=True),
        sa.Column("assessment_missed_hours", sa.Float(), nullable=True),
        sa.Column("job_contract_type", sa.String(length=32), nullable=True),
        sa.Column("job_start_date", sa.Date(), nullable=True),
        sa.Column("assessment_link_nonce", sa.String(length=32), nullable=True),
        sa.Column("assessment_requested_at", shared.db.tables.UTCDateTime(), nullable=True),
        sa.Column("assessment_reminders", sa.Integer(), server_default="0", nullable=False),
        sa.Column("assessment_acknowledged_at", shared.db.tables.UTCDateTime(), nullable=True),
        sa.Column("pre_validated_at", shared.db.tables.UTCDateTime(), nullable=True),
        sa.Column("pre_validated_by", sa.String(length=255), nullable=True),
    ]


_ACTORS_BEFORE = "actor IN ('counsellor', 'agency', 'system')"
_ACTORS_AFTER = "actor IN ('counsellor', 'agency', 'system', 'signatory')"


def upgrade() -> None:
    with op.batch_alter_table("immersion_conventions") as batch:
        for column in _new_columns():
            batch.add_column(column)
    with op.batch_alter_table("immersion_transitions") as batch:
        batch.drop_constraint(op.f("ck_immersion_transitions_actor_known"), type_="check")
        batch.create_check_constraint(op.f("ck_immersion_transitions_actor_known"), _ACTORS_AFTER)
    op.create_table(
        "immersion_signatories",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("convention_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("link_nonce", sa.String(length=32), nullable=False),
        sa.Column("link_expires_at", shared.db.tables.UTCDateTime(), nullable=False),
        sa.Column("links_sent", sa.Integer(), nullable=False),
        sa.Column("signed_at", shared.db.tables.UTCDateTime(), nullable=True),
        sa.Column("signed_with", sa.String(length=32), nullable=True),
        sa.Column("error_report", sa.Text(), nullable=True),
        sa.Column("error_reported_at", shared.db.tables.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["convention_id"],
            ["immersion_conventions.id"],
            name=op.f("fk_immersion_signatories_convention_id_immersion_conventions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_immersion_signatories")),
        sa.UniqueConstraint(
            "convention_id", "role", name=op.f("uq_immersion_signatories_one_per_role")
        ),
    )
    op.create_index(
        op.f("ix_immersion_signatories_convention_id"),
        "immersion_signatories",
        ["convention_id"],
        unique=False,
    )
    op.create_table(
        "immersion_incidents",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("convention_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("reported_by", sa.String(length=32), nullable=False),
        sa.Column("reported_at", shared.db.tables.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('accident', 'incident')", name=op.f("ck_immersion_incidents_kind_known")
        ),
        sa.ForeignKeyConstraint(
            ["convention_id"],
            ["immersion_conventions.id"],
            name=op.f("fk_immersion_incidents_convention_id_immersion_conventions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_immersion_incidents")),
    )
    op.create_index(
        op.f("ix_immersion_incidents_convention_id"),
        "immersion_incidents",
        ["convention_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_immersion_incidents_convention_id"), table_name="immersion_incidents")
    op.drop_table("immersion_incidents")
    op.drop_index(
        op.f("ix_immersion_signatories_convention_id"), table_name="immersion_signatories"
    )
    op.drop_table("immersion_signatories")
    with op.batch_alter_table("immersion_transitions") as batch:
        batch.drop_constraint(op.f("ck_immersion_transitions_actor_known"), type_="check")
        batch.create_check_constraint(op.f("ck_immersion_transitions_actor_known"), _ACTORS_BEFORE)
    with op.batch_alter_table("immersion_conventions") as batch:
        for column in reversed(_new_columns()):
            batch.drop_column(column.name)

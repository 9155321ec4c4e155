"""Issue 13 item 6: the referral's priority publics kept with the known referral (the POEI's
higher cap may follow from them), more publics allowed on an enrolment, and the follow-up of the
missions given after a temporary-work POEC (``training_missions``).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import shared.db.tables

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels = None
depends_on = None

_PUBLICS_BEFORE = "targeted_public IS NULL OR targeted_public IN ('brsa', 'senior')"
_PUBLICS_AFTER = (
    "targeted_public IS NULL OR targeted_public IN ('brsa', 'senior', 'jeune', 'deld', 'qpv')"
)


def upgrade() -> None:
    with op.batch_alter_table("known_referrals") as batch:
        batch.add_column(sa.Column("priority_publics", sa.JSON(), nullable=True))
    with op.batch_alter_table("training_enrolments") as batch:
        batch.add_column(sa.Column("missions_expected", sa.Boolean(), nullable=True))
        batch.add_column(
            sa.Column("missions_given", sa.Integer(), server_default="0", nullable=False)
        )
        batch.add_column(sa.Column("first_mission_on", sa.Date(), nullable=True))
        batch.drop_constraint(op.f("ck_training_enrolments_public_known"), type_="check")
        batch.create_check_constraint(op.f("ck_training_enrolments_public_known"), _PUBLICS_AFTER)
    op.create_table(
        "training_missions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("enrolment_id", sa.Uuid(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("recorded_by", sa.String(length=255), nullable=False),
        sa.Column("recorded_at", shared.db.tables.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "end_date >= start_date", name=op.f("ck_training_missions_dates_ordered")
        ),
        sa.ForeignKeyConstraint(
            ["enrolment_id"],
            ["training_enrolments.id"],
            name=op.f("fk_training_missions_enrolment_id_training_enrolments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_missions")),
    )
    op.create_index(
        op.f("ix_training_missions_enrolment_id"),
        "training_missions",
        ["enrolment_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_training_missions_enrolment_id"), table_name="training_missions")
    op.drop_table("training_missions")
    with op.batch_alter_table("training_enrolments") as batch:
        batch.drop_constraint(op.f("ck_training_enrolments_public_known"), type_="check")
        batch.create_check_constraint(op.f("ck_training_enrolments_public_known"), _PUBLICS_BEFORE)
        batch.drop_column("first_mission_on")
        batch.drop_column("missions_given")
        batch.drop_column("missions_expected")
    with op.batch_alter_table("known_referrals") as batch:
        batch.drop_column("priority_publics")

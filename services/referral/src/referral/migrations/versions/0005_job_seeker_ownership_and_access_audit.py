"""Job-seeker shares ("prise en charge"), the personal-data access audit, one refused-answer audit
row per record (issue 10).

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


def upgrade() -> None:
    op.create_table(
        "job_seeker_shares",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("job_seeker_id", sa.Uuid(), nullable=False),
        sa.Column("organisation", sa.String(length=32), nullable=False),
        sa.Column("shared_by", sa.String(length=255), nullable=False),
        sa.Column("shared_by_organisation", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("created_at", shared.db.tables.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_seeker_id"],
            ["job_seekers.id"],
            name=op.f("fk_job_seeker_shares_job_seeker_id_job_seekers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_seeker_shares")),
        sa.UniqueConstraint(
            "job_seeker_id", "organisation", name="uq_job_seeker_shares_organisation"
        ),
    )
    op.create_index(
        op.f("ix_job_seeker_shares_job_seeker_id"), "job_seeker_shares", ["job_seeker_id"]
    )
    op.create_table(
        "personal_data_access",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("occurred_at", shared.db.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("organisation", sa.String(length=32), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("resource", sa.String(length=32), nullable=False),
        sa.Column("resource_id", sa.String(length=64), nullable=True),
        sa.Column("job_seeker_id", sa.Uuid(), nullable=True),
        sa.Column("view", sa.String(length=16), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_personal_data_access")),
    )
    op.create_index(
        "ix_personal_data_access_occurred", "personal_data_access", ["occurred_at", "id"]
    )
    op.create_index(
        "ix_personal_data_access_job_seeker",
        "personal_data_access",
        ["job_seeker_id", "occurred_at"],
    )
    # Rows audited more than once for one record (redeliveries) keep their first audit.
    op.execute(
        "DELETE FROM refused_responses WHERE id NOT IN (SELECT MIN(id) FROM refused_responses"
        ' GROUP BY topic, partition, "offset")'
    )
    with op.batch_alter_table("refused_responses") as batch_op:
        batch_op.create_unique_constraint(
            "uq_refused_responses_record", ["topic", "partition", "offset"]
        )


def downgrade() -> None:
    with op.batch_alter_table("refused_responses") as batch_op:
        batch_op.drop_constraint("uq_refused_responses_record", type_="unique")
    op.drop_index("ix_personal_data_access_job_seeker", table_name="personal_data_access")
    op.drop_index("ix_personal_data_access_occurred", table_name="personal_data_access")
    op.drop_table("personal_data_access")
    op.drop_index(op.f("ix_job_seeker_shares_job_seeker_id"), table_name="job_seeker_shares")
    op.drop_table("job_seeker_shares")

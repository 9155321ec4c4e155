"""Followed referrals remember their job seeker (to reach them once they consented to contact)
and the agency's name and town (mails that name the agency); the directory keeps a job seeker's
phone for text messages later (issue 12).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("followed_referrals") as batch:
        batch.add_column(sa.Column("job_seeker_id", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("agency_name", sa.String(200), nullable=True))
        batch.add_column(sa.Column("agency_town", sa.String(100), nullable=True))
    with op.batch_alter_table("recipients") as batch:
        batch.add_column(sa.Column("phone", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("recipients") as batch:
        batch.drop_column("phone")
    with op.batch_alter_table("followed_referrals") as batch:
        batch.drop_column("agency_town")
        batch.drop_column("agency_name")
        batch.drop_column("job_seeker_id")

"""The territory (issue 16, items 4–7): agencies' commune, postcode, coordinates and contacts kept
by their network.

Revision ID: 0009
Revises: 0006 (the integrator re-chains it after the revisions merged meanwhile)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shared.db.tables import UTCDateTime

revision: str = "0009"
down_revision: str | None = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agencies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("commune", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("postcode", sa.String(length=5), nullable=True))
        batch_op.add_column(sa.Column("latitude", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("longitude", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("contact_name", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("phone", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("directory_updated_at", UTCDateTime(), nullable=True))
        batch_op.create_index(batch_op.f("ix_agencies_latitude"), ["latitude"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("agencies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agencies_latitude"))
        for column in (
            "directory_updated_at",
            "phone",
            "contact_name",
            "longitude",
            "latitude",
            "postcode",
            "commune",
        ):
            batch_op.drop_column(column)

"""The followed immersion's département, so that its reminder counts business days with that
territory's public holidays (Alsace-Moselle, the overseas départements).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("followed_immersions") as batch:
        batch.add_column(sa.Column("departement", sa.String(3), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("followed_immersions") as batch:
        batch.drop_column("departement")

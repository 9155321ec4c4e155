"""Regional conventions with their targets, and the indexes the steering indicators read
(issue 16, items 1 and 2).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shared.db.tables import UTCDateTime

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels = None
depends_on = None

_SCOPES = "scope IN ('national', 'regional')"
_AXES = (
    "axis IN ('referrals', 'placements', 'durable_placements', 'immersions', 'mrs_recruits',"
    " 'training_starts', 'priority_public_share')"
)
_REGION_MATCHES = (
    "(scope = 'regional' AND region IS NOT NULL) OR (scope = 'national' AND region IS NULL)"
)


def upgrade() -> None:
    op.create_table(
        "conventions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("region", sa.String(length=3), nullable=True),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("networks", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(_SCOPES, name=op.f("ck_conventions_scope_known")),
        sa.CheckConstraint(
            "period_end >= period_start", name=op.f("ck_conventions_period_ordered")
        ),
        sa.CheckConstraint(_REGION_MATCHES, name=op.f("ck_conventions_region_matches_scope")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conventions")),
    )
    op.create_index(op.f("ix_conventions_region"), "conventions", ["region"], unique=False)
    op.create_table(
        "convention_targets",
        sa.Column("convention_id", sa.Uuid(), nullable=False),
        sa.Column("axis", sa.String(length=32), nullable=False),
        sa.Column("target", sa.Float(), nullable=False),
        sa.CheckConstraint(_AXES, name=op.f("ck_convention_targets_axis_known")),
        sa.CheckConstraint("target >= 0", name=op.f("ck_convention_targets_target_not_negative")),
        sa.ForeignKeyConstraint(
            ["convention_id"],
            ["conventions.id"],
            name=op.f("fk_convention_targets_convention_id_conventions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("convention_id", "axis", name=op.f("pk_convention_targets")),
    )
    op.create_index("ix_referrals_region_created", "referrals", ["region", "created_at"])
    op.create_index("ix_referrals_network_created", "referrals", ["network_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_referrals_network_created", table_name="referrals")
    op.drop_index("ix_referrals_region_created", table_name="referrals")
    op.drop_table("convention_targets")
    op.drop_index(op.f("ix_conventions_region"), table_name="conventions")
    op.drop_table("conventions")

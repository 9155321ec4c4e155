"""Agencies' requests for a PMSMP, an MRS or a POEI on a hard-to-fill offer (issue 16, item 5):
``offer_scheme_requests``, opened from ``coop.offer.scheme_requested.v1``.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import shared.db.tables

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "offer_scheme_requests",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("answer_id", sa.Integer(), nullable=False),
        sa.Column("offer_id", sa.Uuid(), nullable=False),
        sa.Column("scheme", sa.String(length=8), nullable=False),
        sa.Column("agency_id", sa.String(length=64), nullable=False),
        sa.Column("network_id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("rome_code", sa.String(length=5), nullable=False),
        sa.Column("departement", sa.String(length=3), nullable=False),
        sa.Column("region_code", sa.String(length=3), nullable=False),
        sa.Column("hard_to_fill_source", sa.String(length=16), nullable=False),
        sa.Column("structure_code", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_at", shared.db.tables.UTCDateTime(), nullable=False),
        sa.Column("decided_at", shared.db.tables.UTCDateTime(), nullable=True),
        sa.Column("created_at", shared.db.tables.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('open', 'taken', 'dismissed')",
            name=op.f("ck_offer_scheme_requests_status_known"),
        ),
        sa.CheckConstraint(
            "scheme IN ('pmsmp', 'mrs', 'poei')",
            name=op.f("ck_offer_scheme_requests_scheme_known"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offer_scheme_requests")),
        sa.UniqueConstraint("answer_id", name=op.f("uq_offer_scheme_requests_answer_id")),
    )
    op.create_index(
        "ix_offer_scheme_requests_created", "offer_scheme_requests", ["created_at", "id"]
    )
    op.create_index(
        op.f("ix_offer_scheme_requests_offer_id"), "offer_scheme_requests", ["offer_id"]
    )
    op.create_index(
        op.f("ix_offer_scheme_requests_structure_code"),
        "offer_scheme_requests",
        ["structure_code"],
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_offer_scheme_requests_structure_code"), table_name="offer_scheme_requests"
    )
    op.drop_index(op.f("ix_offer_scheme_requests_offer_id"), table_name="offer_scheme_requests")
    op.drop_index("ix_offer_scheme_requests_created", table_name="offer_scheme_requests")
    op.drop_table("offer_scheme_requests")

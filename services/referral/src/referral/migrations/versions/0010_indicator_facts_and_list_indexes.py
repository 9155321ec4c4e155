"""The indicators' maintained aggregates (issue 14, item 7: cells per sending day and month ×
structure × dimension, the first-answer delays, each referral's last contribution, the fold's
watermark) and the indexes the lists and the fold filter on.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shared.db.tables import UTCDateTime

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels = None
depends_on = None

#: The counts of a cell, as ``referral.domain.indicators.MEASURES`` named them at this revision.
_REASONS = (
    "did_not_come",
    "did_not_come_to_interview",
    "hired_elsewhere",
    "training",
    "not_eligible",
    "not_mobile",
    "not_interested",
    "lacking_skills",
    "incompatible",
    "no_position",
    "duplicate",
    "other",
)
_SCHEMES = ("immersion", "mrs", "poei", "poec")
MEASURES = (
    "sent",
    "acknowledged",
    "accepted",
    "declined",
    *(f"declined_{r}" for r in _REASONS),
    "no_news",
    "placements",
    "durable",
    *(f"{s}_{n}" for s in _SCHEMES for n in ("referrals", "started", "completed", "recruited")),
)
_KEY = ("dimension", "grain", "period", "scope", "value")
_DELAY_KEY = ("dimension", "unit", "scope", "value", "minutes", "grain", "period")
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _cell_columns() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("dimension", sa.String(length=32), nullable=False),
        sa.Column("grain", sa.String(length=1), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("scope", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "indicator_cells",
        *_cell_columns(),
        *(
            sa.Column(m, sa.Integer(), nullable=False, server_default=sa.text("0"))
            for m in MEASURES
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_indicator_cells")),
        sa.UniqueConstraint(*_KEY, name="uq_indicator_cells_key"),
    )
    op.create_table(
        "indicator_delays",
        *_cell_columns(),
        sa.Column("unit", sa.String(length=1), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_indicator_delays")),
        sa.UniqueConstraint(*_DELAY_KEY, name="uq_indicator_delays_key"),
    )
    op.create_table(
        "indicator_marks",
        sa.Column("referral_id", sa.Uuid(), nullable=False),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("referral_id", name=op.f("pk_indicator_marks")),
    )
    op.create_table(
        "indicator_fold_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("folded_until", UTCDateTime(), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_indicator_fold_state")),
    )
    # The fold's watermark: the activity since the last fold.
    op.create_index("ix_referrals_updated", "referrals", ["updated_at"])
    op.create_index("ix_referral_transitions_recorded", "referral_transitions", ["recorded_at"])
    op.create_index("ix_referral_scheme_events_recorded", "referral_scheme_events", ["recorded_at"])
    # The lists: an agency's referrals (ops), newest first, without sorting them all.
    op.create_index("ix_referrals_agency_created", "referrals", ["agency_id", "created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_referrals_agency_created", table_name="referrals")
    op.drop_index("ix_referral_scheme_events_recorded", table_name="referral_scheme_events")
    op.drop_index("ix_referral_transitions_recorded", table_name="referral_transitions")
    op.drop_index("ix_referrals_updated", table_name="referrals")
    op.drop_table("indicator_fold_state")
    op.drop_table("indicator_marks")
    op.drop_table("indicator_delays")
    op.drop_table("indicator_cells")

"""The territory (issue 16, items 4–7): agencies' commune, postcode, coordinates and contacts kept
by their network; offers' place; hard-to-fill offers published to networks and the agencies'
answers.

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
    with op.batch_alter_table("job_offers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("commune", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("latitude", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("longitude", sa.Float(), nullable=True))
    op.create_table(
        "offer_publications",
        sa.Column("offer_id", sa.Uuid(), nullable=False),
        sa.Column("network_id", sa.String(length=64), nullable=False),
        sa.Column("agency_ids", sa.JSON(), nullable=False),
        sa.Column("published_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["offer_id"], ["job_offers.id"], name=op.f("fk_offer_publications_offer_id_job_offers")
        ),
        sa.PrimaryKeyConstraint("offer_id", "network_id", name=op.f("pk_offer_publications")),
    )
    op.create_table(
        "offer_answers",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("offer_id", sa.Uuid(), nullable=False),
        sa.Column("agency_id", sa.String(length=64), nullable=False),
        sa.Column("network_id", sa.String(length=64), nullable=False),
        sa.Column("answer", sa.String(length=32), nullable=False),
        sa.Column("candidates", sa.Integer(), nullable=True),
        sa.Column("rome_code", sa.String(length=5), nullable=False),
        sa.Column("departement", sa.String(length=3), nullable=False),
        sa.Column("region", sa.String(length=3), nullable=False),
        sa.Column("hard_to_fill_source", sa.String(length=16), nullable=False),
        sa.Column("answered_at", UTCDateTime(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=True),
        sa.CheckConstraint(
            "answer IN ('has_candidates', 'request_pmsmp', 'request_mrs', 'request_poei')",
            name=op.f("ck_offer_answers_answer_known"),
        ),
        sa.ForeignKeyConstraint(
            ["offer_id"], ["job_offers.id"], name=op.f("fk_offer_answers_offer_id_job_offers")
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_offer_answers_agency_id_agencies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offer_answers")),
        sa.UniqueConstraint("event_id", name=op.f("uq_offer_answers_event_id")),
    )
    with op.batch_alter_table("offer_answers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_offer_answers_offer_id"), ["offer_id"], unique=False)
        batch_op.create_index("ix_offer_answers_answered", ["answered_at", "id"], unique=False)


def downgrade() -> None:
    op.drop_table("offer_answers")
    op.drop_table("offer_publications")
    with op.batch_alter_table("job_offers", schema=None) as batch_op:
        for column in ("longitude", "latitude", "commune"):
            batch_op.drop_column(column)
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

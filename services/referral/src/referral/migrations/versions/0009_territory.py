"""The territory (issue 16, items 4–7): agencies' commune, postcode, coordinates and contacts kept
by their network; offers' place; hard-to-fill offers published to networks and the agencies'
answers.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shared.db.tables import UTCDateTime

revision: str = "0009"
down_revision: str | None = "0008"
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

    op.create_table(
        "job_datings",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("ends_at", UTCDateTime(), nullable=False),
        sa.Column("place", sa.String(length=300), nullable=False),
        sa.Column("departement", sa.String(length=3), nullable=False),
        sa.Column("region", sa.String(length=3), nullable=False),
        sa.Column("rome_code", sa.String(length=5), nullable=False),
        sa.Column("slots", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("structure_code", sa.String(length=32), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('job_dating', 'open_day')", name=op.f("ck_job_datings_kind_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_datings")),
    )
    with op.batch_alter_table("job_datings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_job_datings_structure_starts", ["structure_code", "starts_at"], unique=False
        )
    op.create_table(
        "job_dating_agencies",
        sa.Column("job_dating_id", sa.Uuid(), nullable=False),
        sa.Column("agency_id", sa.String(length=64), nullable=False),
        sa.Column("offer_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_dating_id"],
            ["job_datings.id"],
            name=op.f("fk_job_dating_agencies_job_dating_id_job_datings"),
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_job_dating_agencies_agency_id_agencies")
        ),
        sa.ForeignKeyConstraint(
            ["offer_id"], ["job_offers.id"], name=op.f("fk_job_dating_agencies_offer_id_job_offers")
        ),
        sa.PrimaryKeyConstraint("job_dating_id", "agency_id", name=op.f("pk_job_dating_agencies")),
    )
    op.create_table(
        "job_dating_invitations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("job_dating_id", sa.Uuid(), nullable=False),
        sa.Column("job_seeker_id", sa.Uuid(), nullable=False),
        sa.Column("agency_id", sa.String(length=64), nullable=False),
        sa.Column("referral_id", sa.Uuid(), nullable=False),
        sa.Column("slot", sa.String(length=32), nullable=True),
        sa.Column("attendance", sa.String(length=16), nullable=True),
        sa.Column("attendance_recorded_at", UTCDateTime(), nullable=True),
        sa.Column("attendance_recorded_by", sa.String(length=255), nullable=True),
        sa.Column("invited_by", sa.String(length=255), nullable=False),
        sa.Column("invited_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "attendance IN ('came', 'did_not_come')",
            name=op.f("ck_job_dating_invitations_attendance_known"),
        ),
        sa.ForeignKeyConstraint(
            ["job_dating_id"],
            ["job_datings.id"],
            name=op.f("fk_job_dating_invitations_job_dating_id_job_datings"),
        ),
        sa.ForeignKeyConstraint(
            ["job_seeker_id"],
            ["job_seekers.id"],
            name=op.f("fk_job_dating_invitations_job_seeker_id_job_seekers"),
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
            name=op.f("fk_job_dating_invitations_agency_id_agencies"),
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referrals.id"],
            name=op.f("fk_job_dating_invitations_referral_id_referrals"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_dating_invitations")),
        sa.UniqueConstraint("referral_id", name=op.f("uq_job_dating_invitations_referral_id")),
        sa.UniqueConstraint(
            "job_dating_id", "job_seeker_id", name="uq_job_dating_invitations_seeker"
        ),
    )
    with op.batch_alter_table("job_dating_invitations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_job_dating_invitations_job_dating_id"), ["job_dating_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_job_dating_invitations_job_seeker_id"), ["job_seeker_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("job_dating_invitations")
    op.drop_table("job_dating_agencies")
    op.drop_table("job_datings")
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

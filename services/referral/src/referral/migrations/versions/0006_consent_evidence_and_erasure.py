"""Consent per referral with its evidence (channel, text version), the platform's contact
consent, erasure requests with each service's report, notices before archiving (issue 11).

Revision ID: 0006
Revises: 0004 (0005, the audit table of another branch, is not merged yet: the integrator sets
"0005" here when it is)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shared.db.tables import UTCDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels = None
depends_on = None

_SCOPES_BEFORE = "scope IN ('identity', 'rqth')"
_SCOPES = "scope IN ('identity', 'rqth', 'contact')"


def upgrade() -> None:
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("referral_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("channel", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("text_version", sa.String(length=32), nullable=True))
        batch_op.alter_column("agency_id", existing_type=sa.String(length=64), nullable=True)
        batch_op.drop_constraint(op.f("ck_consents_scope_known"), type_="check")
        batch_op.create_check_constraint("scope_known", _SCOPES)
        batch_op.create_index("ix_consents_referral_id", ["referral_id"], unique=False)
        batch_op.create_foreign_key(
            "fk_consents_referral_id_referrals", "referrals", ["referral_id"], ["id"]
        )
    op.create_table(
        "erasure_requests",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("job_seeker_id", sa.Uuid(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.String(length=255), nullable=False),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("networks", sa.JSON(), nullable=False),
        sa.Column("completed_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasure_requests")),
        sa.UniqueConstraint("job_seeker_id", name=op.f("uq_erasure_requests_job_seeker_id")),
    )
    op.create_table(
        "erasure_reports",
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("service", sa.String(length=32), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("completed_at", UTCDateTime(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["erasure_requests.id"],
            name=op.f("fk_erasure_reports_request_id_erasure_requests"),
        ),
        sa.PrimaryKeyConstraint("request_id", "service", name=op.f("pk_erasure_reports")),
    )
    op.create_table(
        "archive_notices",
        sa.Column("job_seeker_id", sa.Uuid(), nullable=False),
        sa.Column("structure_code", sa.String(length=32), nullable=True),
        sa.Column("inactive_since", UTCDateTime(), nullable=False),
        sa.Column("noticed_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_seeker_id"],
            ["job_seekers.id"],
            name=op.f("fk_archive_notices_job_seeker_id_job_seekers"),
        ),
        sa.PrimaryKeyConstraint("job_seeker_id", name=op.f("pk_archive_notices")),
    )


def downgrade() -> None:
    op.drop_table("archive_notices")
    op.drop_table("erasure_reports")
    op.drop_table("erasure_requests")
    op.execute("DELETE FROM consents WHERE scope = 'contact'")
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("fk_consents_referral_id_referrals"), type_="foreignkey")
        batch_op.drop_index("ix_consents_referral_id")
        batch_op.drop_constraint(op.f("ck_consents_scope_known"), type_="check")
        batch_op.create_check_constraint("scope_known", _SCOPES_BEFORE)
        batch_op.alter_column("agency_id", existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_column("text_version")
        batch_op.drop_column("channel")
        batch_op.drop_column("referral_id")

"""The referral as agencies and counsellors live it (issue 12): new states (postponed, pool,
prior_to_hire, hire_cancelled, transferred, obsolete, no_news) and actions; the facts they record
(come-back date, pool trades, action before hiring, transfer origin, staleness reminder, outcome
follow-up, the time since which an answer is awaited); the France Travail registration date DELD
is derived from; one open offer-less referral per job seeker, agency and ROME code (no longer per
job seeker and agency).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shared.db.tables import UTCDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels = None
depends_on = None

# Frozen copies of the value lists before and at this revision.
_STATUSES_BEFORE = (
    "'sent', 'acknowledged', 'accepted', 'interview_scheduled', 'placed', 'declined', "
    "'withdrawn', 'expired', 'closed'"
)
_STATUSES = (
    _STATUSES_BEFORE + ", 'postponed', 'pool', 'prior_to_hire', 'hire_cancelled', 'transferred', "
    "'obsolete', 'no_news'"
)
_ACTIONS_BEFORE = (
    "'send', 'acknowledge', 'accept', 'schedule_interview', 'decline', 'request_immersion', "
    "'start_placement', 'end_placement', 'withdraw', 'expire'"
)
_ACTIONS = (
    _ACTIONS_BEFORE + ", 'postpone', 'add_to_pool', 'start_prior_to_hire', 'cancel_hire', "
    "'transfer', 'make_obsolete', 'reopen', 'extend_placement', 'remind_stale', "
    "'close_no_news', 'ask_follow_up', 'record_follow_up'"
)
_OPEN_BEFORE = "status IN ('sent', 'acknowledged', 'accepted', 'interview_scheduled', 'placed')"
_OPEN = (
    "status IN ('sent', 'acknowledged', 'accepted', 'interview_scheduled', 'placed', "
    "'postponed', 'pool', 'prior_to_hire', 'transferred')"
)
_PRIOR_TO_HIRE = "prior_to_hire_action IN ('pmsmp', 'mrs', 'poei')"


def _open_indexes(batch_op: object, open_predicate: str, *, with_rome_code: bool) -> None:
    batch_op.create_index(  # type: ignore[attr-defined]
        "uq_referrals_open_per_offer",
        ["job_seeker_id", "agency_id", "offer_id"],
        unique=True,
        sqlite_where=sa.text(f"offer_id IS NOT NULL AND {open_predicate}"),
        postgresql_where=sa.text(f"offer_id IS NOT NULL AND {open_predicate}"),
    )
    batch_op.create_index(  # type: ignore[attr-defined]
        "uq_referrals_open_without_offer",
        ["job_seeker_id", "agency_id", *(["rome_code"] if with_rome_code else [])],
        unique=True,
        sqlite_where=sa.text(f"offer_id IS NULL AND {open_predicate}"),
        postgresql_where=sa.text(f"offer_id IS NULL AND {open_predicate}"),
    )


def upgrade() -> None:
    with op.batch_alter_table("job_seekers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ft_registration_date", sa.Date(), nullable=True))

    with op.batch_alter_table("referral_transitions", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_referral_transitions_action_known"), type_="check")
        batch_op.create_check_constraint("action_known", f"action IN ({_ACTIONS})")
        batch_op.drop_constraint(op.f("ck_referral_transitions_to_status_known"), type_="check")
        batch_op.create_check_constraint("to_status_known", f"to_status IN ({_STATUSES})")

    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.drop_index("uq_referrals_open_per_offer")
        batch_op.drop_index("uq_referrals_open_without_offer")
        batch_op.add_column(sa.Column("awaiting_answer_since", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("postponed_until", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("pool_rome_codes", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("prior_to_hire_action", sa.String(length=16), nullable=True))
        batch_op.add_column(
            sa.Column("transferred_from_agency_id", sa.String(length=64), nullable=True)
        )
        batch_op.add_column(sa.Column("last_news_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("stale_reminded_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("follow_up_asked_months", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("still_employed_months", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("follow_up_answered_at", UTCDateTime(), nullable=True))
        batch_op.drop_constraint(op.f("ck_referrals_status_known"), type_="check")
        batch_op.create_check_constraint("status_known", f"status IN ({_STATUSES})")
        batch_op.create_check_constraint("prior_to_hire_action_known", _PRIOR_TO_HIRE)
        _open_indexes(batch_op, _OPEN, with_rome_code=True)

    # The expiry's delay ran from the sending: so it does for the referrals already there.
    op.execute("UPDATE referrals SET awaiting_answer_since = created_at")
    # The last news of a referral already answered: its last change.
    op.execute("UPDATE referrals SET last_news_at = updated_at WHERE first_answer_at IS NOT NULL")


def downgrade() -> None:
    # The referrals in a state this revision introduced cannot be kept by the older schema.
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.drop_index("uq_referrals_open_per_offer")
        batch_op.drop_index("uq_referrals_open_without_offer")
        batch_op.drop_constraint(op.f("ck_referrals_prior_to_hire_action_known"), type_="check")
        batch_op.drop_constraint(op.f("ck_referrals_status_known"), type_="check")
        batch_op.create_check_constraint("status_known", f"status IN ({_STATUSES_BEFORE})")
        for column in (
            "follow_up_answered_at",
            "still_employed_months",
            "follow_up_asked_months",
            "stale_reminded_at",
            "last_news_at",
            "transferred_from_agency_id",
            "prior_to_hire_action",
            "pool_rome_codes",
            "postponed_until",
            "awaiting_answer_since",
        ):
            batch_op.drop_column(column)
        _open_indexes(batch_op, _OPEN_BEFORE, with_rome_code=False)

    with op.batch_alter_table("referral_transitions", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_referral_transitions_to_status_known"), type_="check")
        batch_op.create_check_constraint("to_status_known", f"to_status IN ({_STATUSES_BEFORE})")
        batch_op.drop_constraint(op.f("ck_referral_transitions_action_known"), type_="check")
        batch_op.create_check_constraint("action_known", f"action IN ({_ACTIONS_BEFORE})")

    with op.batch_alter_table("job_seekers", schema=None) as batch_op:
        batch_op.drop_column("ft_registration_date")

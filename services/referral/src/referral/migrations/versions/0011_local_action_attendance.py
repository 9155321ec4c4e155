"""A local action's attendance moves the referral (issue 16, item 4): the lifecycle's actions
``record_attendance``, ``local_action_interview`` and ``local_action_hire`` in the transition
log's check.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels = None
depends_on = None

# Frozen copies of the action list before and at this revision.
_ACTIONS_BEFORE = (
    "'send', 'acknowledge', 'accept', 'schedule_interview', 'decline', 'request_immersion', "
    "'start_placement', 'end_placement', 'withdraw', 'expire', 'postpone', 'add_to_pool', "
    "'start_prior_to_hire', 'cancel_hire', 'transfer', 'make_obsolete', 'reopen', "
    "'extend_placement', 'remind_stale', 'close_no_news', 'ask_follow_up', 'record_follow_up'"
)
_ACTIONS = _ACTIONS_BEFORE + ", 'record_attendance', 'local_action_interview', 'local_action_hire'"


def upgrade() -> None:
    with op.batch_alter_table("referral_transitions", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_referral_transitions_action_known"), type_="check")
        batch_op.create_check_constraint("action_known", f"action IN ({_ACTIONS})")


def downgrade() -> None:
    # The log rows of these actions cannot be kept by the older check.
    op.execute(
        "DELETE FROM referral_transitions WHERE action IN "
        "('record_attendance', 'local_action_interview', 'local_action_hire')"
    )
    with op.batch_alter_table("referral_transitions", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_referral_transitions_action_known"), type_="check")
        batch_op.create_check_constraint("action_known", f"action IN ({_ACTIONS_BEFORE})")

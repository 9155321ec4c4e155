"""What the events say of a referral or an immersion the service follows (for the reminders, and
to find the counsellor of later events). The use case :mod:`notifications.use_cases.following`
stores it; this module only decides."""

from __future__ import annotations

import enum

from shared.contracts import EventData
from shared.contracts.dispositifs import (
    ImmersionCancelled,
    ImmersionCompleted,
    ImmersionRejected,
    ImmersionValidated,
)
from shared.contracts.referral import (
    ReferralClosed,
    ReferralClosedNoNews,
    ReferralExpired,
    ReferralObsoleted,
    ReferralSent,
    ReferralStatusChanged,
    ReferralWithdrawn,
)


class FollowedReferralStatus(enum.StrEnum):
    """``followed_referrals.status``."""

    SENT = "sent"  # no answer yet
    ANSWERED = "answered"
    CLOSED = "closed"


class FollowedImmersionStatus(enum.StrEnum):
    """``followed_immersions.status``."""

    VALIDATED = "validated"
    CANCELLED = "cancelled"
    COMPLETED = "completed"


#: Statuses after which an agency owes no more answer (referral service's final statuses).
#: A declined referral may be re-opened (issue 12), as an answer: the agency has answered anyway.
FINAL_REFERRAL_STATUSES = frozenset(
    {"declined", "withdrawn", "expired", "closed", "hire_cancelled", "obsolete", "no_news"}
)

#: Event types whose state is followed (their consumers must be registered).
TRACKED = frozenset(
    model.event_type
    for model in (
        ReferralSent,
        ReferralStatusChanged,
        ReferralWithdrawn,
        ReferralExpired,
        ReferralClosed,
        ReferralObsoleted,
        ReferralClosedNoNews,
        ImmersionValidated,
        ImmersionRejected,
        ImmersionCancelled,
        ImmersionCompleted,
    )
)


def referral_status_after(data: EventData) -> FollowedReferralStatus | None:
    """What a referral event makes of a followed referral (None: the event does not move it)."""
    if isinstance(data, ReferralStatusChanged):
        if data.to_status in FINAL_REFERRAL_STATUSES:
            return FollowedReferralStatus.CLOSED
        return FollowedReferralStatus.ANSWERED
    if isinstance(
        data,
        ReferralWithdrawn
        | ReferralExpired
        | ReferralClosed
        | ReferralObsoleted
        | ReferralClosedNoNews,
    ):
        return FollowedReferralStatus.CLOSED
    return None


def referral_may_move(current: str) -> bool:
    """A closed referral stays closed (a late answer does not reopen it)."""
    return current != FollowedReferralStatus.CLOSED


def immersion_status_after(data: EventData) -> FollowedImmersionStatus | None:
    """What an immersion event makes of a followed immersion (None: the event does not end it;
    a validation is stored whole, see :func:`notifications.use_cases.following.follow`)."""
    if isinstance(data, ImmersionCompleted):
        return FollowedImmersionStatus.COMPLETED
    if isinstance(data, ImmersionRejected | ImmersionCancelled):
        return FollowedImmersionStatus.CANCELLED
    return None

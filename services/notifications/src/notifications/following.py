"""What the notifications service remembers of referrals and immersions, from their events, so
that reminders know what is pending and later events reach the right counsellor and tutor.

Handlers run in the consumer's transaction, before the messages of the same event are recorded.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from notifications import directory
from notifications.models import FollowedImmersion, FollowedReferral
from shared.contracts import EventData
from shared.contracts.dispositifs import (
    ImmersionCancelled,
    ImmersionCompleted,
    ImmersionRejected,
    ImmersionValidated,
)
from shared.contracts.referral import (
    ReferralClosed,
    ReferralExpired,
    ReferralSent,
    ReferralStatusChanged,
    ReferralWithdrawn,
)

#: Statuses after which an agency owes no more answer (referral service's final statuses).
_FINAL_REFERRAL_STATUSES = frozenset({"declined", "withdrawn", "expired", "closed"})

#: Event types whose state this module tracks (their consumers must be registered).
TRACKED = frozenset(
    model.event_type
    for model in (
        ReferralSent,
        ReferralStatusChanged,
        ReferralWithdrawn,
        ReferralExpired,
        ReferralClosed,
        ImmersionValidated,
        ImmersionRejected,
        ImmersionCancelled,
        ImmersionCompleted,
    )
)


async def follow(session: AsyncSession, data: EventData) -> None:
    now = datetime.now(UTC)
    if isinstance(data, ReferralSent):
        if await session.get(FollowedReferral, data.referral_id) is None:
            session.add(
                FollowedReferral(
                    referral_id=data.referral_id,
                    agency_id=data.agency_id,
                    network_id=data.network_id,
                    counsellor_id=data.counsellor_id,
                    rome_code=data.rome_code,
                    sent_at=data.sent_at,
                    status="sent",
                )
            )
    elif isinstance(data, ReferralStatusChanged):
        await _referral_status(
            session, data, "closed" if data.to_status in _FINAL_REFERRAL_STATUSES else "answered"
        )
    elif isinstance(data, ReferralWithdrawn | ReferralExpired | ReferralClosed):
        await _referral_status(session, data, "closed")
    elif isinstance(data, ImmersionValidated):
        immersion = await session.get(FollowedImmersion, data.convention_id)
        if immersion is None:
            immersion = FollowedImmersion(convention_id=data.convention_id)
            session.add(immersion)
        immersion.referral_id = data.referral_id
        immersion.job_seeker_id = data.job_seeker_id
        immersion.agency_id = data.agency_id
        immersion.objet = data.objet.value
        immersion.start_date = data.start_date
        immersion.end_date = data.end_date
        immersion.host_name = data.host_name
        immersion.tutor_name = data.tutor_name
        immersion.status = "validated"
        immersion.updated_at = now
        if data.tutor_name or data.tutor_email:
            await directory.upsert(
                session,
                "tutor",
                str(data.convention_id),
                display_name=data.tutor_name,
                email=data.tutor_email,
            )
    elif isinstance(data, ImmersionRejected | ImmersionCancelled | ImmersionCompleted):
        immersion = await session.get(FollowedImmersion, data.convention_id)
        if immersion is not None:
            immersion.status = "completed" if isinstance(data, ImmersionCompleted) else "cancelled"
            immersion.updated_at = now
    await session.flush()


async def _referral_status(session: AsyncSession, data: EventData, status: str) -> None:
    referral = await session.get(FollowedReferral, data.referral_id)  # type: ignore[attr-defined]
    if referral is not None and referral.status != "closed":
        referral.status = status

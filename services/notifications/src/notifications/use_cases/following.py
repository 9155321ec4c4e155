"""What the notifications service remembers of referrals and immersions, from their events, so
that reminders know what is pending and later events reach the right counsellor and tutor
(what each event means is decided in :mod:`notifications.domain.following`).

Runs in the consumer's transaction, before the messages of the same event are recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from notifications import access
from notifications.domain.following import (
    FollowedImmersionStatus,
    FollowedReferralStatus,
    immersion_status_after,
    referral_may_move,
    referral_status_after,
)
from notifications.models import FollowedImmersion, KnownReferral
from notifications.use_cases import recipients
from shared.auth.tokens import Principal
from shared.contracts import EventData
from shared.contracts.dispositifs import ImmersionValidated
from shared.contracts.referral import ReferralSent
from shared.db.projections import remember_referral


@dataclass(frozen=True, slots=True)
class Follow:
    """Learn what ``data`` (an event of ``referral.events`` or ``dispositifs.events``) says."""

    data: EventData


async def follow(command: Follow, principal: Principal, session: AsyncSession) -> None:
    access.ensure_platform(principal)
    data = command.data
    now = datetime.now(UTC)
    if isinstance(data, ReferralSent):
        await remember_referral(
            session,
            KnownReferral,
            data,
            counsellor_id=data.counsellor_id,
            job_seeker_id=data.job_seeker_id,
            agency_name=data.agency_name,
            agency_town=data.agency_town,
            status=FollowedReferralStatus.SENT.value,
        )
    elif (referral_status := referral_status_after(data)) is not None:
        referral = await session.get(KnownReferral, data.referral_id)  # type: ignore[attr-defined]
        if referral is not None and referral_may_move(referral.status):
            referral.status = referral_status.value
    elif isinstance(data, ImmersionValidated):
        await _validated(session, data, now)
    elif (immersion_status := immersion_status_after(data)) is not None:
        immersion = await session.get(FollowedImmersion, data.convention_id)  # type: ignore[attr-defined]
        if immersion is not None:
            immersion.status = immersion_status.value
            immersion.updated_at = now
    await session.flush()


async def _validated(session: AsyncSession, data: ImmersionValidated, now: datetime) -> None:
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
    immersion.departement = data.departement
    immersion.status = FollowedImmersionStatus.VALIDATED.value
    immersion.updated_at = now
    if data.tutor_name or data.tutor_email:
        await recipients.upsert(
            session,
            "tutor",
            str(data.convention_id),
            display_name=data.tutor_name,
            email=data.tutor_email,
        )

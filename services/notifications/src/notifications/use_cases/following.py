"""What the notifications service remembers of referrals and immersions, from their events, so
that reminders know what is pending and later events reach the right counsellor and tutor
(what each event means is decided in :mod:`notifications.domain.following`).

Runs in the consumer's transaction, before the messages of the same event are recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached

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
from notifications.use_cases.statements import insert_ignoring_conflicts
from shared.auth.tokens import Principal
from shared.contracts import EventData
from shared.contracts.dispositifs import ImmersionValidated
from shared.contracts.referral import ReferralSent


@dataclass(frozen=True, slots=True)
class Follow:
    """Learn what ``data`` (an event of ``referral.events`` or ``dispositifs.events``) says."""

    data: EventData


async def follow(command: Follow, principal: Principal, session: AsyncSession) -> None:
    access.ensure_platform(principal)
    data = command.data
    now = datetime.now(UTC)
    if isinstance(data, ReferralSent):
        await _remember(session, data)
    elif (referral_status := referral_status_after(data)) is not None:
        referral = await recipients.known_referral(session, data.referral_id)  # type: ignore[attr-defined]
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


async def _remember(session: AsyncSession, data: ReferralSent) -> None:
    """The referral's projection (the columns of :class:`shared.db.projections.
    KnownReferralColumns` and this service's own), unless it is known already (the same referral
    under another event id: nothing new to learn) — in one statement, ``INSERT … ON CONFLICT DO
    NOTHING``, rather than a read then an insert."""
    values = {
        "referral_id": data.referral_id,
        "agency_id": data.agency_id,
        "network_id": data.network_id,
        "rome_code": data.rome_code,
        "sent_at": data.sent_at,
        "counsellor_id": data.counsellor_id,
        "job_seeker_id": data.job_seeker_id,
        "agency_name": data.agency_name,
        "agency_town": data.agency_town,
        "status": FollowedReferralStatus.SENT.value,
        "reminded_at": None,
    }
    table = KnownReferral.__table__
    result = await session.execute(
        insert_ignoring_conflicts(session, table),  # type: ignore[arg-type]
        values,
    )
    if getattr(result, "rowcount", 0) == 1:
        # What was just written, in the session as if read: the messages of this event (and
        # the later events of the batch) find it without a query.
        known = KnownReferral(**values)
        make_transient_to_detached(known)
        session.add(known)
        recipients.remember_referral_read(session, known)


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

"""What the notifications service remembers of referrals and immersions, from their events, so
that reminders know what is pending and later events reach the right counsellor and tutor
(what each event means is decided in :mod:`notifications.domain.following`).

Runs in the consumer's transaction, before the messages of the same event are recorded.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table
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
from notifications.use_cases.statements import inserted_returning
from shared.auth.tokens import Principal
from shared.contracts import EventData
from shared.contracts.dispositifs import ImmersionValidated
from shared.contracts.referral import ReferralAgencyChanged, ReferralSent

_REFERRALS: Table = KnownReferral.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class Follow:
    """Learn what ``data`` (an event of ``referral.events`` or ``dispositifs.events``) says."""

    data: EventData


@dataclass(frozen=True, slots=True)
class FollowMany:
    """:class:`Follow` of each of ``events``, in order, together (a consumer batch of one event
    type; events of several types are followed one after the other)."""

    events: Sequence[EventData]


async def follow(command: Follow, principal: Principal, session: AsyncSession) -> None:
    access.ensure_platform(principal)
    await follow_many(FollowMany([command.data]), principal, session)


async def follow_many(command: FollowMany, principal: Principal, session: AsyncSession) -> None:
    """What :func:`follow` of each event in order does: the ``referral.sent`` of the list in one
    ``INSERT … ON CONFLICT DO NOTHING``, the followed referrals the others move read in one
    query, then the changes flushed together."""
    access.ensure_platform(principal)
    events = command.events
    if len({type(data) for data in events}) > 1:  # together only events of one type
        for data in events:
            await follow_many(FollowMany([data]), principal, session)
        return
    now = datetime.now(UTC)
    sent = [data for data in events if isinstance(data, ReferralSent)]
    if sent:
        await _remember(session, sent)
    moving = [
        data
        for data in events
        if isinstance(data, ReferralAgencyChanged) or referral_status_after(data) is not None
    ]
    known = (
        await recipients.known_referrals(session, [data.referral_id for data in moving])  # type: ignore[attr-defined]
        if moving
        else {}
    )
    for data in events:
        if isinstance(data, ReferralSent):
            continue
        if isinstance(data, ReferralAgencyChanged):
            _transferred(known[data.referral_id], data)
        elif (referral_status := referral_status_after(data)) is not None:
            referral = known[data.referral_id]  # type: ignore[attr-defined]
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


async def _remember(session: AsyncSession, events: list[ReferralSent]) -> None:
    """The referrals' projection (the columns of :class:`shared.db.projections.
    KnownReferralColumns` and this service's own), unless it is known already (the same referral
    under another event id: nothing new to learn; the first of the list wins) — in one statement,
    ``INSERT … ON CONFLICT DO NOTHING``, rather than a read then an insert."""
    rows: dict[uuid.UUID, dict[str, Any]] = {}
    for data in events:
        rows.setdefault(
            data.referral_id,
            {
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
            },
        )
    inserted = set(
        (
            await session.execute(
                inserted_returning(session, _REFERRALS, "referral_id"), list(rows.values())
            )
        ).scalars()
    )
    for referral_id in inserted:
        # What was just written, in the session as if read: the messages of these events (and
        # the later events of the batch) find it without a query.
        known = KnownReferral(**rows[referral_id])
        make_transient_to_detached(known)
        session.add(known)
        recipients.remember_referral_read(session, known)


def _transferred(referral: KnownReferral | None, data: ReferralAgencyChanged) -> None:
    """The referral follows to another agency of the network: later messages go to and name the
    new agency, and it is waiting for that agency's answer — the unanswered-referral reminder
    counts from the transfer and may be sent again, to the new agency."""
    if referral is None or not referral_may_move(referral.status):
        return
    referral.agency_id = data.agency_id
    referral.network_id = data.network_id
    referral.agency_name = data.agency_name
    referral.agency_town = data.agency_town
    referral.status = FollowedReferralStatus.SENT.value
    referral.sent_at = data.transferred_at
    referral.reminded_at = None


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

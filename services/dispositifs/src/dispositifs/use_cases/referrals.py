"""The referrals this service follows (``KnownReferral``, learnt from ``referral.events``) and what
their news does here: a placement closes the loop on the schemes of the referral, a decline for
lacking skills gets a pathway proposal, a withdrawal or an expiry makes pending conventions
obsolete. Driven by the consumers (``consumers.py``); the caller is the referral service."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from dispositifs.adapters import known_referrals
from dispositifs.domain.pathway import ProposalTrigger
from dispositifs.models import KnownReferral
from dispositifs.settings import DispositifsSettings
from dispositifs.use_cases import immersion_intake, outcomes, pathways
from shared.contracts.referral import ReferralSent, ReferralStatusChanged
from shared.contracts.vocabulary import DeclineReason

#: ``to_status`` of ``referral.status_changed`` meaning a placement started.
PLACED = "placed"
DECLINED = "declined"


async def learn_referral(session: AsyncSession, data: ReferralSent) -> None:
    """A referral was sent: it becomes known here, once (a referral known already is left as it
    is). The row is written with the others of the consumer's batch, in one statement
    (``adapters.known_referrals``)."""
    known_referrals.learn(
        session,
        {
            "referral_id": data.referral_id,
            "agency_id": data.agency_id,
            "network_id": data.network_id,
            "rome_code": data.rome_code,
            "sent_at": data.sent_at,
            "job_seeker_id": data.job_seeker_id,
            "departement": data.departement,
            "structure_code": data.structure_code,
            "recorded_at": datetime.now(UTC),
            "offer_id": data.offer_id,
            "status": "sent",
            "placed_on": None,
            "placement_contract_type": None,
            # RQTH is health data and never meant to reach this service: dropped if it came.
            "priority_publics": sorted(p for p in data.priority_publics if p != "rqth"),
        },
    )


async def follow_status(
    session: AsyncSession, data: ReferralStatusChanged, settings: DispositifsSettings
) -> None:
    """The referral's new status; a placement is credited to its schemes, a decline for lacking
    skills gets a pathway proposal. The status is written without reading the referral first
    (one ``UPDATE``; nothing when it is unknown here), except for the proposal, which needs it."""
    if data.to_status == DECLINED and data.decline_reason is DeclineReason.LACKING_SKILLS:
        known = await session.get(KnownReferral, data.referral_id)
        if known is not None:
            known.status = data.to_status
            await pathways.propose_for_referral(
                session, known, ProposalTrigger.DECLINED_LACKING_SKILLS
            )
        return
    if data.to_status != PLACED:
        await _set(session, data.referral_id, status=data.to_status)
        return
    placed_on = data.placement_start_date or data.occurred_at.date()
    await _set(
        session,
        data.referral_id,
        status=data.to_status,
        placed_on=placed_on,
        placement_contract_type=data.contract_type.value if data.contract_type else None,
    )
    await outcomes.record_placement(
        session,
        data.referral_id,
        placed_on=placed_on,
        contract_type=data.contract_type,
        settings=settings,
    )


async def _set(session: AsyncSession, referral_id: uuid.UUID, **values: object) -> None:
    """One ``UPDATE`` of a known referral (the session's copy, if loaded, follows)."""
    await session.execute(
        update(KnownReferral).where(KnownReferral.referral_id == referral_id).values(**values)
    )


@dataclass(frozen=True)
class ReferralEnded:
    """The referral was withdrawn or expired (``status``), ``why`` in French, by this event."""

    referral_id: uuid.UUID
    status: str
    why: str
    event_id: str


async def end_referral(
    session: AsyncSession, command: ReferralEnded, settings: DispositifsSettings
) -> None:
    await _set(session, command.referral_id, status=command.status)
    await immersion_intake.deprecate_for_referral(
        session, command.referral_id, command.why, settings, event_id=command.event_id
    )


async def close_referral(session: AsyncSession, referral_id: uuid.UUID) -> None:
    await _set(session, referral_id, status="closed")

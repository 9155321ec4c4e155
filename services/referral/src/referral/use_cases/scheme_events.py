"""Dispositifs events (immersion, MRS, POEI/POEC) about a referral: kept on its timeline for the
indicators; an immersion refused is told to the agency that asked for it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from referral.domain import Scheme
from referral.models import Referral, ReferralSchemeEvent
from referral.use_cases.common import publish_to_network
from shared.contracts.agency_feed import ImmersionRequestRejected
from shared.messaging.consumer import PermanentError


@dataclass(frozen=True, slots=True)
class SchemeFact:
    """A dispositifs event as the referral's timeline and indicators need it."""

    referral_id: uuid.UUID
    event_id: str
    event_type: str
    scheme: Scheme
    scheme_ref: str
    label: str
    hired: bool | None
    data: dict[str, Any]
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class ImmersionRefused:
    referral_id: uuid.UUID
    reason: str
    article: str | None
    rejected_at: datetime


async def record_scheme_event(session: AsyncSession, fact: SchemeFact) -> bool:
    """Keep a dispositifs event on its referral's timeline. False if it was already there."""
    if await session.get(Referral, fact.referral_id) is None:
        raise PermanentError(f"unknown referral {fact.referral_id}")
    already = await session.scalar(
        select(ReferralSchemeEvent.id).where(ReferralSchemeEvent.event_id == fact.event_id)
    )
    if already is not None:
        return False
    session.add(
        ReferralSchemeEvent(
            referral_id=fact.referral_id,
            event_id=fact.event_id,
            event_type=fact.event_type,
            scheme=fact.scheme.value,
            scheme_ref=fact.scheme_ref,
            label=fact.label,
            hired=fact.hired,
            data=fact.data,
            occurred_at=fact.occurred_at,
            recorded_at=datetime.now(UTC),
        )
    )
    return True


async def tell_network_immersion_rejected(session: AsyncSession, fact: ImmersionRefused) -> None:
    """The agency asked for the immersion: it learns on its feed why it was refused."""
    referral = await session.get(Referral, fact.referral_id)
    if referral is None:
        return
    await publish_to_network(
        session,
        ImmersionRequestRejected(
            referral_id=referral.id,
            agency_id=referral.agency_id,
            network_id=referral.network_id,
            reason=fact.reason,
            article=fact.article,
            rejected_at=fact.rejected_at,
        ),
        referral,
        fact.rejected_at,
    )

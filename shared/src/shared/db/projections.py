"""Projections a service keeps of another service's aggregates, declared once.

A service that follows ``referral.events`` keeps what it needs of each referral (dispositifs to
link immersions and trainings to it, notifications to route and remind): the columns below come
from ``coop.referral.sent.v1`` and mean the same in every service; each service adds its own.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import String, Uuid
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from shared.contracts.referral import ReferralSent
from shared.db.tables import UTCDateTime

K = TypeVar("K", bound="KnownReferralColumns")


class KnownReferralColumns:
    """Mixin of a service's ``KnownReferral`` model: the referral as ``referral.sent`` told it."""

    referral_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    agency_id: Mapped[str] = mapped_column(String(64))
    network_id: Mapped[str] = mapped_column(String(64))
    rome_code: Mapped[str] = mapped_column(String(5))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())


async def remember_referral(
    session: AsyncSession, model: type[K], sent: ReferralSent, **own: Any
) -> K | None:
    """Add the projection of a sent referral (with the service's ``own`` columns); None when it
    is known already (the same referral under another event id: nothing new to learn)."""
    if await session.get(model, sent.referral_id) is not None:
        return None
    build: Any = model  # a mapped subclass: its constructor takes the columns as keywords
    known: K = build(
        referral_id=sent.referral_id,
        agency_id=sent.agency_id,
        network_id=sent.network_id,
        rome_code=sent.rome_code,
        sent_at=sent.sent_at,
        **own,
    )
    session.add(known)
    return known

"""Expire the referrals left unanswered (issue 3: 30 days after sending by default, a setting).
Run periodically by :mod:`referral.jobs`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from referral.domain import TRANSITIONS, Action, Actor, ReferralStatus, transition
from referral.models import Referral
from referral.use_cases.common import (
    Logged,
    locked_referral,
    move,
    publish,
    publish_to_network,
    routing,
)
from shared.contracts.agency_feed import ReferralExpiredForAgency
from shared.contracts.referral import ReferralExpired

#: Who the transition log names for an expiry.
EXPIRY_ACTOR_ID = "referral-expiry"


async def expire_due_referrals(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    delay: timedelta,
    now: datetime | None = None,
    batch_size: int = 200,
) -> list[uuid.UUID]:
    """Expire the referrals left unanswered ``delay`` after they were sent. One short
    transaction per referral, re-checked under lock: safe for every replica to run at once, and
    a run cut short leaves nothing half-done."""
    now = now or datetime.now(UTC)
    expirable = sorted(s.value for s in TRANSITIONS[Action.EXPIRE].sources if s is not None)
    async with session_factory() as session:
        due = list(
            await session.scalars(
                select(Referral.id)
                .where(and_(Referral.status.in_(expirable), _awaited_since() <= now - delay))
                .order_by(_awaited_since())
                .limit(batch_size)
            )
        )
    expired: list[uuid.UUID] = []
    for referral_id in due:
        async with session_factory() as session, session.begin():
            if await _expire(session, referral_id, expirable, delay, now):
                expired.append(referral_id)
    return expired


async def _expire(
    session: AsyncSession,
    referral_id: uuid.UUID,
    expirable: list[str],
    delay: timedelta,
    now: datetime,
) -> bool:
    referral = await locked_referral(session, referral_id)
    if referral is None or referral.status not in expirable:
        return False  # answered (or expired by another replica) since the query
    if (referral.awaiting_answer_since or referral.created_at) > now - delay:
        return False  # transferred or re-opened since the query: its delay runs again
    current = ReferralStatus(referral.status)
    entry = Logged(
        Action.EXPIRE,
        Actor.SYSTEM,
        EXPIRY_ACTOR_ID,
        now,
        reason=f"sans réponse {_days(delay)} après l'envoi"
        + (
            " (ou le transfert, la réouverture)"
            if referral.awaiting_answer_since != referral.created_at
            else ""
        ),
    )
    move(
        session, referral, transition(current, Action.EXPIRE, Actor.SYSTEM), entry, current=current
    )
    await publish(session, ReferralExpired(**routing(referral), expired_at=now), referral, now)
    await publish_to_network(
        session,
        ReferralExpiredForAgency(
            referral_id=referral.id,
            agency_id=referral.agency_id,
            network_id=referral.network_id,
            expired_at=now,
        ),
        referral,
        now,
    )
    return True


def _since_sent(referral: Referral) -> bool:
    return referral.awaiting_answer_since in (None, referral.created_at)


def _awaited_since() -> Any:
    """Since when an answer is awaited: sent, transferred or re-opened (rows older than the
    column: sent)."""
    return func.coalesce(Referral.awaiting_answer_since, Referral.created_at)


def _days(delay: timedelta) -> str:
    days = delay.total_seconds() / 86400
    return f"{days:g} jours" if days >= 1 else f"{delay.total_seconds():g} secondes"

"""Time-driven steps of the lifecycle, run periodically by :mod:`referral.jobs`: expire the
referrals left unanswered (issue 3: 30 days after sending — or the transfer, the re-opening — by
default, a setting); remind the agency of accepted or interview-scheduled referrals without news,
then close them as ``no_news`` (issue 12)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from referral.domain import STALE_WATCHED, TRANSITIONS, Action, Actor, ReferralStatus, transition
from referral.models import Referral
from referral.use_cases.common import (
    Logged,
    locked_referral,
    move,
    publish,
    publish_to_network,
    routing,
)
from shared.contracts.agency_feed import (
    ReferralClosedNoNewsForAgency,
    ReferralExpiredForAgency,
    ReferralStaleReminder,
)
from shared.contracts.referral import ReferralClosedNoNews, ReferralExpired

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


# -- staleness: accepted or interview scheduled, then no news (issue 12, item 3) -----------------

#: Who the transition log names for a staleness reminder or closing.
STALENESS_ACTOR_ID = "referral-staleness"


def _last_news() -> Any:
    return func.coalesce(Referral.last_news_at, Referral.updated_at)


async def remind_or_close_stale_referrals(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    remind_after: timedelta,
    close_after: timedelta,
    now: datetime | None = None,
    batch_size: int = 200,
) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    """Accepted or interview-scheduled referrals without news from the agency for
    ``remind_after`` get a reminder on the agency's feed; still without news ``close_after``
    after it, they close as ``no_news``. Returns (reminded, closed). One short transaction per
    referral, re-checked under lock, like the expiry."""
    now = now or datetime.now(UTC)
    watched = sorted(s.value for s in STALE_WATCHED)
    async with session_factory() as session:
        to_close = list(
            await session.scalars(
                select(Referral.id)
                .where(
                    Referral.status.in_(watched),
                    Referral.stale_reminded_at.is_not(None),
                    Referral.stale_reminded_at >= _last_news(),
                    Referral.stale_reminded_at <= now - close_after,
                )
                .order_by(Referral.stale_reminded_at)
                .limit(batch_size)
            )
        )
        to_remind = list(
            await session.scalars(
                select(Referral.id)
                .where(
                    Referral.status.in_(watched),
                    or_(
                        Referral.stale_reminded_at.is_(None),
                        Referral.stale_reminded_at < _last_news(),
                    ),
                    _last_news() <= now - remind_after,
                )
                .order_by(_last_news())
                .limit(batch_size)
            )
        )
    closed: list[uuid.UUID] = []
    reminded: list[uuid.UUID] = []
    for referral_id in to_close:
        async with session_factory() as session, session.begin():
            if await _close_stale(session, referral_id, close_after, now):
                closed.append(referral_id)
    for referral_id in to_remind:
        async with session_factory() as session, session.begin():
            if await _remind_stale(session, referral_id, remind_after, close_after, now):
                reminded.append(referral_id)
    return reminded, closed


def _news_of(referral: Referral) -> datetime:
    return referral.last_news_at or referral.updated_at


async def _remind_stale(
    session: AsyncSession,
    referral_id: uuid.UUID,
    remind_after: timedelta,
    close_after: timedelta,
    now: datetime,
) -> bool:
    referral = await locked_referral(session, referral_id)
    if referral is None or ReferralStatus(referral.status) not in STALE_WATCHED:
        return False
    last_news = _news_of(referral)
    reminded = referral.stale_reminded_at
    if last_news > now - remind_after or (reminded is not None and reminded >= last_news):
        return False  # news since the query, or reminded by another replica
    current = ReferralStatus(referral.status)
    entry = Logged(
        Action.REMIND_STALE,
        Actor.SYSTEM,
        STALENESS_ACTOR_ID,
        now,
        reason=f"pas de nouvelles depuis {_days(now - last_news)}",
    )
    move(
        session,
        referral,
        transition(current, Action.REMIND_STALE, Actor.SYSTEM),
        entry,
        current=current,
    )
    referral.stale_reminded_at = now
    closes_at = now + close_after
    await publish_to_network(
        session,
        ReferralStaleReminder(
            referral_id=referral.id,
            agency_id=referral.agency_id,
            network_id=referral.network_id,
            status=current.value,
            last_news_at=last_news,
            closes_at=closes_at,
            message=(
                f"Orientation « {current.label} » sans nouvelles depuis le"
                f" {last_news:%d/%m/%Y} : dites où elle en est (entretien, prise de poste,"
                f" vivier, mise en attente, refus…) avant le {closes_at:%d/%m/%Y}, sinon elle"
                " sera clôturée sans nouvelles."
            ),
            reminded_at=now,
        ),
        referral,
        now,
    )
    return True


async def _close_stale(
    session: AsyncSession, referral_id: uuid.UUID, close_after: timedelta, now: datetime
) -> bool:
    referral = await locked_referral(session, referral_id)
    if referral is None or ReferralStatus(referral.status) not in STALE_WATCHED:
        return False
    reminded = referral.stale_reminded_at
    last_news = _news_of(referral)
    if reminded is None or reminded < last_news or reminded > now - close_after:
        return False  # news since the reminder, or closed by another replica
    current = ReferralStatus(referral.status)
    entry = Logged(
        Action.CLOSE_NO_NEWS,
        Actor.SYSTEM,
        STALENESS_ACTOR_ID,
        now,
        reason=f"pas de nouvelles {_days(now - reminded)} après la relance",
    )
    move(
        session,
        referral,
        transition(current, Action.CLOSE_NO_NEWS, Actor.SYSTEM),
        entry,
        current=current,
    )
    await publish(
        session,
        ReferralClosedNoNews(
            **routing(referral),
            from_status=current,
            last_news_at=last_news,
            reminded_at=reminded,
            closed_at=now,
        ),
        referral,
        now,
    )
    await publish_to_network(
        session,
        ReferralClosedNoNewsForAgency(
            referral_id=referral.id,
            agency_id=referral.agency_id,
            network_id=referral.network_id,
            closed_at=now,
        ),
        referral,
        now,
    )
    return True

"""The outcome follow-up of a placement (issue 12, item 7): at +1, +3 and +6 months after it
started, the agency's feed asks "toujours en poste ?"; the answer
(``coop.referral.follow_up_answered.v1``, applied by :mod:`referral.use_cases.agency_answers`)
records employment as measured — still employed at 6 months is durable employment measured, not
guessed from the contract's dates. Run periodically by :mod:`referral.jobs`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from referral.domain import (
    FOLLOW_UP_MONTHS,
    Action,
    Actor,
    ReferralStatus,
    follow_up_due,
    transition,
)
from referral.models import Referral
from referral.use_cases.common import Logged, locked_referral, move, publish_to_network
from shared.contracts.agency_feed import PlacementFollowUpRequested

#: Who the transition log names for a follow-up question.
FOLLOW_UP_ACTOR_ID = "referral-follow-up"


def follow_up_question(months: int) -> str:
    return (
        f"Le candidat est-il toujours en poste, {months} mois après sa prise de poste ?"
        f" Répondez par coop.referral.follow_up_answered.v1 (milestone_months = {months},"
        " still_employed = true ou false)."
    )


async def ask_due_follow_ups(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    now: datetime | None = None,
    batch_size: int = 200,
) -> list[tuple[uuid.UUID, int]]:
    """Ask the follow-ups due today of the placed referrals; (referral, milestone) asked."""
    now = now or datetime.now(UTC)
    today = now.date()
    last = FOLLOW_UP_MONTHS[-1]
    async with session_factory() as session:
        candidates = list(
            await session.execute(
                select(Referral.id, Referral.placement_start_date, Referral.follow_up_asked_months)
                .where(
                    Referral.status == ReferralStatus.PLACED.value,
                    Referral.placement_start_date.is_not(None),
                    # The first milestone is a month: none is due before 28 days.
                    Referral.placement_start_date <= today - timedelta(days=28),
                    or_(
                        Referral.follow_up_asked_months.is_(None),
                        Referral.follow_up_asked_months < last,
                    ),
                )
                .order_by(Referral.placement_start_date)
            )
        )
    due = [
        (row.id, months)
        for row in candidates
        if (months := follow_up_due(row.placement_start_date, today, row.follow_up_asked_months))
    ][:batch_size]
    asked: list[tuple[uuid.UUID, int]] = []
    for referral_id, months in due:
        async with session_factory() as session, session.begin():
            if await _ask(session, referral_id, now):
                asked.append((referral_id, months))
    return asked


async def _ask(session: AsyncSession, referral_id: uuid.UUID, now: datetime) -> bool:
    referral = await locked_referral(session, referral_id)
    if referral is None or referral.status != ReferralStatus.PLACED.value:
        return False
    start = referral.placement_start_date
    months = follow_up_due(start, now.date(), referral.follow_up_asked_months) if start else None
    if start is None or months is None:
        return False  # asked by another replica meanwhile
    current = ReferralStatus.PLACED
    move(
        session,
        referral,
        transition(current, Action.ASK_FOLLOW_UP, Actor.SYSTEM),
        Logged(
            Action.ASK_FOLLOW_UP,
            Actor.SYSTEM,
            FOLLOW_UP_ACTOR_ID,
            now,
            reason=f"suivi à {months} mois",
            details={"milestone_months": months},
        ),
        current=current,
    )
    referral.follow_up_asked_months = months
    await publish_to_network(
        session,
        PlacementFollowUpRequested(
            referral_id=referral.id,
            agency_id=referral.agency_id,
            network_id=referral.network_id,
            milestone_months=months,  # type: ignore[arg-type]
            placement_start_date=start,
            question=follow_up_question(months),
            asked_at=now,
        ),
        referral,
        now,
    )
    return True

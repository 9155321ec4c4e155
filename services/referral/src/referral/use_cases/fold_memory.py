"""The periodic indicator fold's memory of what it counted (docs/performance.md, "The fold's
overlap"): a referral's stamp, and the stamps the last fold of this process found."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from referral.models import Referral, ReferralSchemeEvent, ReferralTransition

#: What a referral's facts are read from, as a stamp: its row's ``updated_at`` and how many
#: transitions and dispositifs events it has. Every change the fold counts moves one of them
#: (the same activity that makes a referral touched).
Stamp = tuple[Any, int, int]


@dataclass
class FoldMemory:
    """The stamps of the referrals the last periodic fold of this process found (each counted
    in its marks as of that stamp): the next fold, whose overlap re-reads them, loads only those
    whose stamp moved since. Kept by the job between its runs; only this process's folds write
    it, after their chunk's transaction has committed."""

    stamps: dict[Any, Stamp] = field(default_factory=dict)


_TRANSITIONS_OF = (
    select(func.count())
    .where(ReferralTransition.referral_id == Referral.id)
    .correlate(Referral)
    .scalar_subquery()
)
_EVENTS_OF = (
    select(func.count())
    .where(ReferralSchemeEvent.referral_id == Referral.id)
    .correlate(Referral)
    .scalar_subquery()
)


async def stamps_of(session: AsyncSession, ids: list[Any]) -> dict[Any, Stamp]:
    rows = await session.execute(
        select(Referral.id, Referral.updated_at, _TRANSITIONS_OF, _EVENTS_OF).where(
            Referral.id.in_(ids)
        )
    )
    return {row[0]: (row[1], row[2], row[3]) for row in rows}

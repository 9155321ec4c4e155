"""Hired elsewhere (issue 12, item 2): a placement closes the job seeker's other referrals still
before a hire as ``obsolete``; ``referral.events`` tells the counsellor's side, each referral's
network learns it on its own feed (without being told who hired: the networks are competitors).
Called by :mod:`referral.use_cases.agency_answers` when a ``placement_started`` is applied, in
its transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from referral.domain import OPEN_STATUSES, Action, Actor, ReferralStatus, transition
from referral.models import Referral
from referral.use_cases.common import Logged, move, publish, publish_to_network, routing
from shared.contracts.agency_feed import ReferralObsoleteForAgency
from shared.contracts.referral import ReferralObsoleted

#: Who the transition log names for a referral made obsolete by a hire elsewhere.
OBSOLETE_ACTOR_ID = "referral-hired-elsewhere"
#: What the agency's staff read (the hiring agency is not named: networks are competitors).
OBSOLETE_REASON = "Le candidat a été embauché par ailleurs : cessez de traiter cette orientation."


async def obsolete_other_referrals(
    session: AsyncSession, placed: Referral, at: datetime
) -> list[Referral]:
    """Hired through ``placed``: the job seeker's other referrals still before a hire are
    closed as obsolete; ``referral.events`` and each one's network feed are told."""
    others = list(
        await session.scalars(
            select(Referral)
            .where(
                Referral.job_seeker_id == placed.job_seeker_id,
                Referral.id != placed.id,
                Referral.status.in_(
                    sorted(s.value for s in OPEN_STATUSES if s is not ReferralStatus.PLACED)
                ),
            )
            .order_by(Referral.created_at)
            .with_for_update()
        )
    )
    for other in others:
        current = ReferralStatus(other.status)
        entry = Logged(
            Action.MAKE_OBSOLETE,
            Actor.SYSTEM,
            OBSOLETE_ACTOR_ID,
            at,
            reason="candidat embauché par ailleurs",
        )
        move(
            session,
            other,
            transition(current, Action.MAKE_OBSOLETE, Actor.SYSTEM),
            entry,
            current=current,
        )
        await publish(
            session,
            ReferralObsoleted(
                **routing(other),
                from_status=current,
                job_seeker_id=other.job_seeker_id,
                placed_referral_id=placed.id,
                obsoleted_at=at,
            ),
            other,
            at,
        )
        await publish_to_network(
            session,
            ReferralObsoleteForAgency(
                referral_id=other.id,
                agency_id=other.agency_id,
                network_id=other.network_id,
                reason=OBSOLETE_REASON,
                obsoleted_at=at,
            ),
            other,
            at,
        )
    return others

"""The convention's local actions and axis 2 as indicators (issue 16, items 4 and 5): job datings
and open days (events held, job seekers invited, came, did not come, hired) and France Travail's
hard-to-fill offers pushed to the agencies (offers published to networks, offers answered, the
answers by kind). Read from their own facts (``job_dating_invitations`` with their referrals'
``placed_at``; ``offer_publications``, ``offer_answers``), never from a job seeker's record.

Who counts what: job datings are their organiser's (``access.counted_job_datings``: a counsellor
their organisation's, ops and steering all); offers are France Travail's public offers, counted
for every reader of the indicators. Counts of people are under statistical secrecy (the caller
applies :func:`referral.domain.secrecy.protect_local_actions`); counts of events, offers and
agencies' answers are not about people and are shown as they are."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from referral import access
from referral.models import (
    JobDating,
    JobDatingInvitation,
    JobOffer,
    OfferAnswer,
    OfferPublication,
    Referral,
)
from referral.use_cases.common import days_between
from referral.use_cases.indicators import IndicatorFilters
from shared.auth.tokens import Principal
from shared.domain.errors import Forbidden

#: The agencies' answers to a hard-to-fill offer (``offer_answers.answer``).
OFFER_ANSWERS = ("has_candidates", "request_pmsmp", "request_mrs", "request_poei")


async def measure_local_actions(
    session: AsyncSession, principal: Principal, filters: IndicatorFilters
) -> dict[str, Any]:
    """Raw counts (before secrecy) for the period and territory of ``filters``."""
    if not access.may_read_indicators(principal):
        raise Forbidden("Réservé aux conseillers, à ops et au pilotage de la convention.")
    dating_where = [
        access.counted_job_datings(principal),
        *days_between(JobDating.starts_at, filters.period_from, filters.period_to),
    ]
    for column, value in (
        (JobDating.region, filters.region),
        (JobDating.departement, filters.departement),
        (JobDating.rome_code, filters.rome_code),
    ):
        if value is not None:
            dating_where.append(column == value)
    came = JobDatingInvitation.attendance == "came"
    row = (
        await session.execute(
            select(
                func.count(distinct(JobDating.id)),
                func.count(JobDatingInvitation.id),
                func.sum(case((came, 1), else_=0)),
                func.sum(case((JobDatingInvitation.attendance == "did_not_come", 1), else_=0)),
                func.sum(case((Referral.placed_at.is_not(None), 1), else_=0)),
            )
            .select_from(JobDating)
            .outerjoin(JobDatingInvitation, JobDatingInvitation.job_dating_id == JobDating.id)
            .outerjoin(Referral, Referral.id == JobDatingInvitation.referral_id)
            .where(*dating_where)
        )
    ).one()
    events, invited, came_count, absent, hired = (int(v or 0) for v in row)

    offer_where: list[Any] = []
    for column, value in (
        (OfferAnswer.region, filters.region),
        (OfferAnswer.departement, filters.departement),
        (OfferAnswer.network_id, filters.network_id),
        (OfferAnswer.rome_code, filters.rome_code),
    ):
        if value is not None:
            offer_where.append(column == value)
    offer_where += days_between(OfferAnswer.answered_at, filters.period_from, filters.period_to)
    answers = dict(
        (
            await session.execute(
                select(OfferAnswer.answer, func.count())
                .where(*offer_where)
                .group_by(OfferAnswer.answer)
            )
        ).all()
    )
    answered = await session.scalar(
        select(func.count(distinct(OfferAnswer.offer_id))).where(*offer_where)
    )
    published_where: list[Any] = [
        *days_between(OfferPublication.published_at, filters.period_from, filters.period_to)
    ]
    if filters.network_id is not None:
        published_where.append(OfferPublication.network_id == filters.network_id)
    if filters.rome_code is not None:
        published_where.append(JobOffer.rome_code == filters.rome_code)
    if filters.departement is not None:
        published_where.append(JobOffer.departement == filters.departement)
    published = await session.scalar(
        select(func.count(distinct(OfferPublication.offer_id)))
        .select_from(OfferPublication)
        .join(JobOffer, JobOffer.id == OfferPublication.offer_id)
        .where(*published_where)
    )
    return {
        "job_datings": {
            "events": events,
            "invited": invited,
            "came": came_count,
            "did_not_come": absent,
            "hired": hired,
        },
        "hard_to_fill_offers": {
            "published": int(published or 0),
            "answered": int(answered or 0),
            "answers": {kind: int(answers.get(kind, 0)) for kind in OFFER_ANSWERS},
        },
    }

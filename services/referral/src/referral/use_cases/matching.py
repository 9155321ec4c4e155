"""Explained matching's reads (issue 16, item 7): the job seekers of the counsellor's
organisation (and those shared with it) who fit an offer, and the hard-to-fill offers near a job
seeker — scored and explained by :mod:`referral.domain.matching`.

Personal data: the answers carry job seeker ids and the reasons (trade, mobility, pathway), never
names or contact; the counsellor opens a record through its own audited route. Each answer is
itself recorded in the personal-data access audit (a list of the organisation's job seekers, or
one job seeker's read)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from referral import access
from referral.domain import OPEN_STATUSES
from referral.domain.matching import (
    MatchWeights,
    OfferRecord,
    SeekerRecord,
    offers_for_seeker,
    seekers_for_offer,
)
from referral.domain.suggestion import Point
from referral.models import JobOffer, JobSeeker, Referral, ReferralSchemeEvent
from referral.use_cases.audit import record_access
from referral.use_cases.common import not_found
from referral.use_cases.rome_ranges import in_rome_domain
from referral.use_cases.suggestions import departement_centre
from shared import referentials
from shared.auth.tokens import Principal
from shared.domain.errors import Forbidden

_SUCCESS = {"coop.immersion.completed.v1", "coop.training.completed.v1"}


def _offer_record(offer: JobOffer) -> OfferRecord:
    place = (
        Point(offer.latitude, offer.longitude)
        if offer.latitude is not None and offer.longitude is not None
        else None
    )
    return OfferRecord(
        id=str(offer.id),
        title=offer.title,
        rome_code=offer.rome_code,
        departement=offer.departement,
        region=offer.region,
        hard_to_fill_source=offer.hard_to_fill_source,
        place=place,
    )


async def _seeker_records(
    session: AsyncSession, seekers: list[tuple[uuid.UUID, str | None]]
) -> list[SeekerRecord]:
    ids = [seeker_id for seeker_id, _ in seekers]
    facts: dict[uuid.UUID, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    placed: set[uuid.UUID] = set()
    referral_trade: dict[uuid.UUID, tuple[uuid.UUID, str]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for row in await session.execute(
            select(
                Referral.id,
                Referral.job_seeker_id,
                Referral.rome_code,
                Referral.offer_id,
                Referral.status,
                Referral.accepted_at,
                Referral.placed_at,
            ).where(Referral.job_seeker_id.in_(chunk))
        ):
            seeker = facts[row.job_seeker_id]
            seeker["trades"].add(row.rome_code)
            referral_trade[row.id] = (row.job_seeker_id, row.rome_code)
            if row.offer_id is not None:
                seeker["offers"].add(str(row.offer_id))
            if row.accepted_at is not None:
                seeker["accepted"].add(row.rome_code)
            if row.placed_at is not None and row.status in {s.value for s in OPEN_STATUSES}:
                placed.add(row.job_seeker_id)
    referral_ids = list(referral_trade)
    for start in range(0, len(referral_ids), 500):
        for referral_id, event_type, data, hired in await session.execute(
            select(
                ReferralSchemeEvent.referral_id,
                ReferralSchemeEvent.event_type,
                ReferralSchemeEvent.data,
                ReferralSchemeEvent.hired,
            ).where(ReferralSchemeEvent.referral_id.in_(referral_ids[start : start + 500]))
        ):
            positive = (
                event_type in _SUCCESS
                or hired is True
                or (event_type == "coop.mrs.evaluated.v1" and bool((data or {}).get("positive")))
            )
            if positive:
                seeker_id, rome_code = referral_trade[referral_id]
                facts[seeker_id]["successes"].add(rome_code)
    return [
        SeekerRecord(
            id=str(seeker_id),
            departement=departement,
            region=referentials.region_of(departement),
            trades=frozenset(facts[seeker_id]["trades"]),
            scheme_successes=frozenset(facts[seeker_id]["successes"]),
            accepted_trades=frozenset(facts[seeker_id]["accepted"]),
            placed=seeker_id in placed,
            referred_offers=frozenset(facts[seeker_id]["offers"]),
        )
        for seeker_id, departement in seekers
    ]


async def matches_for_offer(
    session: AsyncSession,
    principal: Principal,
    offer_id: uuid.UUID,
    *,
    weights: MatchWeights,
    radius_km: float,
    limit: int,
) -> list[dict[str, Any]]:
    """The caller's organisation's job seekers who fit the offer: those in its région, or
    already referred for its trade's domain."""
    if not access.may_organise_job_dating(principal):  # a counsellor, of an organisation
        raise Forbidden("Seuls les conseillers rapprochent leurs demandeurs d'emploi d'une offre.")
    offer = await session.get(JobOffer, offer_id)
    if offer is None or not access.sees_offer(principal, offer):
        raise not_found(f"Offre {offer_id}")
    # Referred for the trade's domain: looked up per visible job seeker through the referrals'
    # job seeker index (a correlated EXISTS), never a scan of every referral of every
    # organisation; the domain is a range then the LIKE (:mod:`referral.use_cases.rome_ranges`).
    same_domain = (
        select(Referral.id)
        .where(
            Referral.job_seeker_id == JobSeeker.id,
            in_rome_domain(Referral.rome_code, offer.rome_code),
        )
        .exists()
    )
    in_region = [
        code for code, d in referentials.departements().items() if d.region_code == offer.region
    ]
    rows = list(
        await session.execute(
            select(JobSeeker.id, JobSeeker.departement).where(
                access.visible_job_seekers(principal),
                or_(JobSeeker.departement.in_(in_region), same_domain),
            )
        )
    )
    seekers = await _seeker_records(session, [(row.id, row.departement) for row in rows])
    result = seekers_for_offer(
        _offer_record(offer), seekers, weights=weights, radius_km=radius_km, limit=limit
    )
    await record_access(
        session,
        principal,
        action="list",
        resource="job_seeker",
        resource_id=f"match:{offer.id}",
        reason="rapprochement offre / demandeurs d'emploi",
    )
    return result


async def hard_to_fill_offers_for(
    session: AsyncSession,
    principal: Principal,
    job_seeker_id: uuid.UUID,
    *,
    weights: MatchWeights,
    radius_km: float,
    limit: int,
) -> list[dict[str, Any]]:
    """The hard-to-fill offers of the job seeker's région (and, placed by distance, around the
    centre of their département), best first."""
    job_seeker = await session.get(JobSeeker, job_seeker_id)
    if job_seeker is None or access.job_seeker_view(principal, job_seeker) is not (
        access.JobSeekerView.FULL
    ):
        raise not_found(f"Demandeur d'emploi {job_seeker_id}")
    (seeker,) = await _seeker_records(session, [(job_seeker.id, job_seeker.departement)])
    region = referentials.region_of(job_seeker.departement)
    centre = (
        await departement_centre(session, job_seeker.departement)
        if job_seeker.departement
        else None
    )
    if centre is not None:
        seeker = SeekerRecord(
            **{**{f: getattr(seeker, f) for f in seeker.__slots__}, "place": centre}
        )
    offers = list(
        await session.scalars(
            select(JobOffer)
            .where(
                access.visible_offers(principal),
                JobOffer.hard_to_fill.is_(True),
                JobOffer.region == region,
            )
            .order_by(JobOffer.created_at.desc())
            .limit(2000)
        )
    )
    records = {str(offer.id): offer for offer in offers}
    result = offers_for_seeker(
        seeker,
        [_offer_record(offer) for offer in offers],
        weights=weights,
        radius_km=radius_km,
        limit=limit,
    )
    for item in result:
        offer = records[item["offer_id"]]
        item.update(
            title=offer.title,
            rome_code=offer.rome_code,
            departement=offer.departement,
            hard_to_fill_source=offer.hard_to_fill_source,
        )
    await record_access(
        session,
        principal,
        action="read",
        resource="job_seeker",
        resource_id=job_seeker.id,
        job_seeker_id=job_seeker.id,
        view="full",
        reason="offres en tension à proximité",
    )
    return result

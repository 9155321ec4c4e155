"""Agency suggestion's reads (issue 16 moved them out of ``queries.py``): the candidates nearby
or knowing the trade, with their past results, ranked by :mod:`referral.domain.suggestion`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from referral import access
from referral.domain.suggestion import (
    AgencyRecord,
    Point,
    Prior,
    Weights,
    bounding_box,
    rank,
    rome_domain,
)
from referral.models import Agency, AgencySpecialisation, JobSeeker, Referral
from referral.use_cases.common import check_rome_code, invalid, region_of
from shared.auth.tokens import Principal


@dataclass(frozen=True, slots=True)
class SuggestAgencies:
    rome_code: str
    departement: str | None = None
    job_seeker_id: uuid.UUID | None = None
    limit: int = 10
    #: Where the job seeker is (or the offer): proximity by distance from there.
    origin: Point | None = None


async def suggest_agencies(
    session: AsyncSession,
    principal: Principal,
    query: SuggestAgencies,
    *,
    weights: Weights,
    prior: Prior,
    radius_km: float = 100.0,
) -> list[dict[str, Any]]:
    """Rank the active agencies nearby or that know the trade (scoring:
    :mod:`referral.domain.suggestion`). Proximity is by distance from ``query.origin``, else from
    the centre of the département's geolocated agencies, else by département and région."""
    check_rome_code(query.rome_code)
    departement = query.departement
    if departement is None and query.job_seeker_id is not None:
        job_seeker = await session.get(JobSeeker, query.job_seeker_id)
        if job_seeker is None or not access.sees_job_seeker(principal, job_seeker):
            raise invalid(
                "job_seeker_id",
                "demandeur d'emploi inconnu",
                f"Demandeur d'emploi {query.job_seeker_id} inconnu.",
                location="query",
            )
        departement = job_seeker.departement
    if departement is None:
        raise invalid(
            "departement",
            "Field required",
            "Département obligatoire (ou un demandeur d'emploi dont il est connu).",
            location="query",
        )
    region = region_of(departement)
    origin = query.origin or await departement_centre(session, departement)
    agencies = await _candidate_agencies(session, query.rome_code, region, origin, radius_km)
    return rank(
        agencies,
        rome_code=query.rome_code,
        departement=departement,
        region=region,
        weights=weights,
        prior=prior,
        limit=query.limit,
        origin=origin,
        radius_km=radius_km,
    )


async def departement_centre(session: AsyncSession, departement: str) -> Point | None:
    """The mean position of the département's active geolocated agencies (the directory's own
    figure: no commune referential is needed to place a job seeker known by département)."""
    row = (
        await session.execute(
            select(func.avg(Agency.latitude), func.avg(Agency.longitude)).where(
                Agency.departement == departement,
                Agency.active.is_(True),
                Agency.latitude.is_not(None),
                Agency.longitude.is_not(None),
            )
        )
    ).one()
    return None if row[0] is None else Point(float(row[0]), float(row[1]))


async def _candidate_agencies(
    session: AsyncSession, rome_code: str, region: str, origin: Point | None, radius_km: float
) -> list[AgencyRecord]:
    """Nearby agencies (the région, and within ``radius_km`` of the origin whatever the région),
    and agencies that know the trade wherever they are, with their past results in this
    service's own data (counted over every referral: figures, not rows)."""
    same_domain = select(AgencySpecialisation.agency_id).where(
        AgencySpecialisation.rome_code.startswith(rome_domain(rome_code))
    )
    nearby = [Agency.id.in_(same_domain)]
    if origin is None:
        nearby.append(Agency.region == region)
    else:
        # Geolocated agencies are near by distance only; the others by their région.
        south, north, west, east = bounding_box(origin, radius_km)
        nearby.append(Agency.latitude.between(south, north) & Agency.longitude.between(west, east))
        nearby.append((Agency.region == region) & Agency.latitude.is_(None))
    columns = (
        Agency.id,
        Agency.name,
        Agency.network_id,
        Agency.departement,
        Agency.region,
        Agency.latitude,
        Agency.longitude,
    )
    rows = list(
        await session.execute(select(*columns).where(Agency.active.is_(True), or_(*nearby)))
    )
    # The candidates' ids as bound values (one scan less per query) unless they are too many
    # for one statement's parameters; then the same condition as a subquery.
    candidates: Any = [row.id for row in rows]
    if len(candidates) > 5000:
        candidates = select(Agency.id).where(Agency.active.is_(True), or_(*nearby))
    codes: dict[str, set[str]] = {}
    for agency_id, code in await session.execute(
        select(AgencySpecialisation.agency_id, AgencySpecialisation.rome_code).where(
            AgencySpecialisation.agency_id.in_(candidates)
        )
    ):
        codes.setdefault(agency_id, set()).add(code)
    answered = (
        (Referral.accepted_at.is_not(None))
        | (Referral.declined_at.is_not(None))
        | (Referral.placed_at.is_not(None))
    )
    accepted = (Referral.accepted_at.is_not(None)) | (Referral.placed_at.is_not(None))
    stats = {
        row.agency_id: row
        for row in await session.execute(
            select(
                Referral.agency_id,
                func.sum(case((answered, 1), else_=0)).label("answered"),
                func.sum(case((accepted, 1), else_=0)).label("accepted"),
                func.sum(case((Referral.placed_at.is_not(None), 1), else_=0)).label("placed"),
            )
            .where(Referral.agency_id.in_(candidates))
            .group_by(Referral.agency_id)
        )
    }
    records = []
    for row in rows:
        stat = stats.get(row.id)
        records.append(
            AgencyRecord(
                id=row.id,
                name=row.name,
                network_id=row.network_id,
                departement=row.departement,
                region=row.region,
                rome_codes=frozenset(codes.get(row.id, ())),
                latitude=row.latitude,
                longitude=row.longitude,
                answered=int(stat.answered or 0) if stat else 0,
                accepted=int(stat.accepted or 0) if stat else 0,
                placed=int(stat.placed or 0) if stat else 0,
            )
        )
    return records

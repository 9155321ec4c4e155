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
    agencies = await _candidate_agencies(
        session,
        query.rome_code,
        region,
        origin,
        radius_km,
        weights=weights,
        prior=prior,
        limit=query.limit,
    )
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


#: Far candidates fetched at first, as a multiple of ``limit`` (more only when scores tie
#: within the rounding margin at the cut).
_FAR_FETCH = 2
#: How far the SQL score may be from :func:`referral.domain.suggestion` 's rounded one (four
#: parts and their sum rounded to 4 decimals: at most 5 × 0.00005), doubled.
_ROUNDING_MARGIN = 0.0005


async def _candidate_agencies(
    session: AsyncSession,
    rome_code: str,
    region: str,
    origin: Point | None,
    radius_km: float,
    *,
    weights: Weights,
    prior: Prior,
    limit: int,
) -> list[AgencyRecord]:
    """The candidates worth scoring, with their past results in this service's own data
    (counted over every referral: figures, not rows):

    - the **nearby** agencies, pre-filtered in SQL: geolocated ones inside the radius's bounding
      box around the origin (whatever their région, indexed latitude), the others of the région
      (all of the région when there is no origin) — scored in Python (distance);
    - among the agencies knowing the trade's domain **elsewhere** (their proximity is 0, so their
      score is computable in SQL), only the best ``limit`` by that score: any other is beaten by
      ``limit`` of them and cannot be shown. The ranking is the one over every agency
      (``test_suggestion_scores_only_its_candidates``)."""
    domain = rome_domain(rome_code)
    same_domain = select(AgencySpecialisation.agency_id).where(
        AgencySpecialisation.rome_code.startswith(domain)
    )
    unplaced = or_(Agency.latitude.is_(None), Agency.longitude.is_(None))
    if origin is None:
        nearby: Any = Agency.region == region
        elsewhere: Any = Agency.region != region
    else:
        # Geolocated agencies are near by distance only; the others by their région.
        south, north, west, east = bounding_box(origin, radius_km)
        in_box = Agency.latitude.between(south, north) & Agency.longitude.between(west, east)
        nearby = or_(in_box, (Agency.region == region) & unplaced)
        # Written without NOT over NULLs: an agency without coordinates is elsewhere by région.
        elsewhere = or_(~unplaced & ~in_box, unplaced & (Agency.region != region))
    columns = (
        Agency.id,
        Agency.name,
        Agency.network_id,
        Agency.departement,
        Agency.region,
        Agency.latitude,
        Agency.longitude,
    )
    rows = list(await session.execute(select(*columns).where(Agency.active.is_(True), nearby)))
    near_ids = [row.id for row in rows]
    # The candidates' ids as bound values (one scan less per query) unless they are too many
    # for one statement's parameters; then the same condition as a subquery.
    near: Any = near_ids
    if len(near_ids) > 5000:
        near = select(Agency.id).where(Agency.active.is_(True), nearby)
    answered = (
        (Referral.accepted_at.is_not(None))
        | (Referral.declined_at.is_not(None))
        | (Referral.placed_at.is_not(None))
    )
    accepted = (Referral.accepted_at.is_not(None)) | (Referral.placed_at.is_not(None))
    counts = (
        func.sum(case((answered, 1), else_=0)).label("answered"),
        func.sum(case((accepted, 1), else_=0)).label("accepted"),
        func.sum(case((Referral.placed_at.is_not(None), 1), else_=0)).label("placed"),
    )
    stats: dict[str, Any] = {
        row.agency_id: row
        for row in await session.execute(
            select(Referral.agency_id, *counts)
            .where(Referral.agency_id.in_(near))
            .group_by(Referral.agency_id)
        )
    }
    far_rows = await _best_far_agencies(
        session,
        columns,
        same_domain=same_domain,
        elsewhere=elsewhere,
        rome_code=rome_code,
        counts=counts,
        weights=weights,
        prior=prior,
        limit=limit,
    )
    for row in far_rows:
        stats[row.id] = row
    rows += far_rows
    codes: dict[str, set[str]] = {}
    far_ids = [row.id for row in far_rows]
    for agency_id, code in await session.execute(
        select(AgencySpecialisation.agency_id, AgencySpecialisation.rome_code).where(
            or_(
                AgencySpecialisation.agency_id.in_(near),
                AgencySpecialisation.agency_id.in_(far_ids),
            )
        )
    ):
        codes.setdefault(agency_id, set()).add(code)
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


async def _best_far_agencies(
    session: AsyncSession,
    columns: tuple[Any, ...],
    *,
    same_domain: Any,
    elsewhere: Any,
    rome_code: str,
    counts: tuple[Any, ...],
    weights: Weights,
    prior: Prior,
    limit: int,
) -> list[Any]:
    """The agencies knowing the trade's domain outside the nearby ones, best first by their
    score with a proximity of 0 (specialisation and smoothed past results, computed in SQL
    as :mod:`referral.domain.suggestion` does), enough of them to hold the ``limit`` best."""
    if limit <= 0:
        return []
    stats = (
        select(Referral.agency_id, *counts)
        .where(Referral.agency_id.in_(same_domain))
        .group_by(Referral.agency_id)
        .subquery()
    )
    exact = (
        select(AgencySpecialisation.agency_id)
        .where(
            AgencySpecialisation.agency_id == Agency.id,
            AgencySpecialisation.rome_code == rome_code,
        )
        .exists()
    )
    # Floats bound as floats (no integer division); no trial at all scores 0, as in Python.
    trials = func.nullif(func.coalesce(stats.c.answered, 0) + float(prior.strength), 0.0)
    acceptance = func.coalesce(
        (func.coalesce(stats.c.accepted, 0) + float(prior.acceptance * prior.strength)) / trials,
        0.0,
    )
    placement = func.coalesce(
        (func.coalesce(stats.c.placed, 0) + float(prior.placement * prior.strength)) / trials,
        0.0,
    )
    score = (
        case((exact, 1.0), else_=0.5) * weights.specialisation
        + acceptance * weights.acceptance
        + placement * weights.placement
    ).label("score")
    query = (
        select(*columns, stats.c.answered, stats.c.accepted, stats.c.placed, score)
        .outerjoin(stats, stats.c.agency_id == Agency.id)
        .where(Agency.active.is_(True), Agency.id.in_(same_domain), elsewhere)
        .order_by(score.desc(), Agency.id)
    )
    fetch = limit * _FAR_FETCH
    while True:
        rows = list(await session.execute(query.limit(fetch)))
        if len(rows) < fetch or rows[-1].score < rows[limit - 1].score - _ROUNDING_MARGIN:
            return rows
        fetch *= 2

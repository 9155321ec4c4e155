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
    total_score,
)
from referral.models import Agency, AgencySpecialisation, JobSeeker, Referral
from referral.use_cases.common import check_rome_code, invalid, region_of
from referral.use_cases.rome_ranges import in_rome_domain
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
        departement,
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


#: Far candidates fetched at first, as a multiple of ``limit``.
_FAR_FETCH = 2
#: How far the SQL score may be from :func:`referral.domain.suggestion` 's rounded one (four
#: parts and their sum rounded to 4 decimals: at most 5 × 0.00005), doubled.
_ROUNDING_MARGIN = 0.0005

_COLUMNS = (
    Agency.id,
    Agency.name,
    Agency.network_id,
    Agency.departement,
    Agency.region,
    Agency.latitude,
    Agency.longitude,
)


def _knowing_the_domain(rome_code: str) -> Any:
    """The agencies listing a code of the trade's ROME domain, as a subquery that the trade's
    index answers: a ROME code is a letter and four digits, so the domain H29 is the range
    H2900–H2999 (the same order in every collation), and ``startswith`` alone is a ``LIKE`` that
    neither SQLite (case-insensitive by default) nor PostgreSQL (outside the C collation) can
    look up in an index — a scan of every agency's trades, several times per suggestion."""
    return select(AgencySpecialisation.agency_id).where(
        in_rome_domain(AgencySpecialisation.rome_code, rome_code)
    )


def _results() -> tuple[Any, ...]:
    """An agency's past results over every referral (figures, not rows)."""
    answered = (
        (Referral.accepted_at.is_not(None))
        | (Referral.declined_at.is_not(None))
        | (Referral.placed_at.is_not(None))
    )
    accepted = (Referral.accepted_at.is_not(None)) | (Referral.placed_at.is_not(None))
    return (
        func.sum(case((answered, 1), else_=0)).label("answered"),
        func.sum(case((accepted, 1), else_=0)).label("accepted"),
        func.sum(case((Referral.placed_at.is_not(None), 1), else_=0)).label("placed"),
    )


def _results_of(agencies: Any) -> Any:
    return (
        select(Referral.agency_id, *_results())
        .where(Referral.agency_id.in_(agencies))
        .group_by(Referral.agency_id)
        .subquery()
    )


def _smoothed_parts(results: Any, weights: Weights, prior: Prior) -> Any:
    """Acceptance and placement parts in SQL, smoothed as :mod:`referral.domain.suggestion`
    does (floats bound as floats: no integer division; no trial at all scores 0)."""
    trials = func.nullif(func.coalesce(results.c.answered, 0) + float(prior.strength), 0.0)
    acceptance = func.coalesce(
        (func.coalesce(results.c.accepted, 0) + float(prior.acceptance * prior.strength)) / trials,
        0.0,
    )
    placement = func.coalesce(
        (func.coalesce(results.c.placed, 0) + float(prior.placement * prior.strength)) / trials,
        0.0,
    )
    return acceptance * weights.acceptance + placement * weights.placement


def _smoothed_no_history(weights: Weights, prior: Prior) -> float:
    """What :func:`_smoothed_parts` gives an agency without any answered referral."""
    if not prior.strength:
        return 0.0
    return prior.acceptance * weights.acceptance + prior.placement * weights.placement


def _record(row: Any, codes: dict[str, set[str]], stat: Any) -> AgencyRecord:
    return AgencyRecord(
        id=row.id,
        name=row.name,
        network_id=row.network_id,
        departement=row.departement,
        region=row.region,
        rome_codes=frozenset(codes.get(row.id, ())),
        latitude=row.latitude,
        longitude=row.longitude,
        answered=int(stat.answered or 0) if stat is not None else 0,
        accepted=int(stat.accepted or 0) if stat is not None else 0,
        placed=int(stat.placed or 0) if stat is not None else 0,
    )


async def _candidate_agencies(
    session: AsyncSession,
    rome_code: str,
    departement: str,
    region: str,
    origin: Point | None,
    radius_km: float,
    *,
    weights: Weights,
    prior: Prior,
    limit: int,
) -> list[AgencyRecord]:
    """The candidates worth scoring, pre-filtered in SQL, with their past results:

    1. the agencies knowing the trade's domain **nearby** — geolocated ones inside the radius's
       bounding box around the origin (whatever their région, indexed latitude), the others of
       the région (all of the région when there is no origin) — scored in Python (distance);
    2. among those knowing it **elsewhere** (proximity 0, so their score is computable in SQL),
       only the best ``limit`` by that score: any other is beaten by ``limit`` of them;
    3. the nearby agencies **without** the domain (specialisation 0) only when their best
       possible score (proximity 1 and their results, in SQL) reaches the ``limit``-th score of
       the first two: the others cannot be shown.

    The ranking is the one over every agency (``test_suggestion_scores_only_its_candidates``)."""
    same_domain = _knowing_the_domain(rome_code)
    unplaced = or_(Agency.latitude.is_(None), Agency.longitude.is_(None))
    if origin is None:
        nearby: Any = Agency.region == region
        elsewhere: Any = Agency.region != region
    else:
        south, north, west, east = bounding_box(origin, radius_km)
        in_box = Agency.latitude.between(south, north) & Agency.longitude.between(west, east)
        nearby = or_(in_box, (Agency.region == region) & unplaced)
        # Written without NOT over NULLs: an agency without coordinates is elsewhere by région.
        elsewhere = or_(~unplaced & ~in_box, unplaced & (Agency.region != region))
    knowing = Agency.active.is_(True) & nearby & Agency.id.in_(same_domain)
    rows = list(await session.execute(select(*_COLUMNS).where(knowing)))
    near_ids: Any = [row.id for row in rows]
    if len(near_ids) > 5000:  # too many bound values for one statement: the same condition
        near_ids = select(Agency.id).where(knowing)
    stats: dict[str, Any] = {
        row.agency_id: row
        for row in await session.execute(
            select(Referral.agency_id, *_results())
            .where(Referral.agency_id.in_(near_ids))
            .group_by(Referral.agency_id)
        )
    }
    far_rows = await _best_far_agencies(
        session,
        same_domain=same_domain,
        elsewhere=elsewhere,
        rome_code=rome_code,
        weights=weights,
        prior=prior,
        limit=limit,
    )
    stats.update((row.id, row) for row in far_rows)
    codes: dict[str, set[str]] = {}
    far_ids = [row.id for row in far_rows]
    for agency_id, code in await session.execute(
        select(AgencySpecialisation.agency_id, AgencySpecialisation.rome_code).where(
            or_(
                AgencySpecialisation.agency_id.in_(near_ids),
                AgencySpecialisation.agency_id.in_(far_ids),
            )
        )
    ):
        codes.setdefault(agency_id, set()).add(code)
    records = [_record(row, codes, stats.get(row.id)) for row in [*rows, *far_rows]]
    records += await _nearby_without_the_trade(
        session,
        nearby=nearby,
        same_domain=same_domain,
        cut=_cut(records, rome_code, departement, region, origin, radius_km, weights, prior, limit),
        weights=weights,
        prior=prior,
    )
    return records


def _cut(
    records: list[AgencyRecord],
    rome_code: str,
    departement: str,
    region: str,
    origin: Point | None,
    radius_km: float,
    weights: Weights,
    prior: Prior,
    limit: int,
) -> float | None:
    """The ``limit``-th best score among ``records`` (None: fewer than ``limit``)."""
    if len(records) < limit or limit <= 0:
        return None
    scores = sorted(
        (
            total_score(
                record,
                rome_code=rome_code,
                departement=departement,
                region=region,
                weights=weights,
                prior=prior,
                origin=origin,
                radius_km=radius_km,
            )
            for record in records
        ),
        reverse=True,
    )
    return scores[limit - 1]


async def _nearby_without_the_trade(
    session: AsyncSession,
    *,
    nearby: Any,
    same_domain: Any,
    cut: float | None,
    weights: Weights,
    prior: Prior,
) -> list[AgencyRecord]:
    """Nearby agencies without the trade's domain whose best possible score (proximity 1)
    reaches ``cut`` (all of them when ``cut`` is None)."""
    best_possible = weights.proximity + weights.acceptance + weights.placement
    if cut is not None and best_possible < cut - _ROUNDING_MARGIN:
        return []  # not even a perfect record would be shown: no statement at all
    others = Agency.active.is_(True) & nearby & Agency.id.not_in(same_domain)
    results = _results_of(select(Agency.id).where(others))
    bound = (weights.proximity + _smoothed_parts(results, weights, prior)).label("bound")
    query = select(*_COLUMNS, results.c.answered, results.c.accepted, results.c.placed)
    # An agency without any referral has the prior's best possible score: when even that cannot
    # be shown, only the agencies with results can — an inner join, driven by their referrals
    # rather than by every agency of the radius.
    no_history = weights.proximity + _smoothed_no_history(weights, prior)
    if cut is not None and no_history < cut - _ROUNDING_MARGIN:
        query = query.join(results, results.c.agency_id == Agency.id)
    else:
        query = query.outerjoin(results, results.c.agency_id == Agency.id)
    query = query.where(others)
    if cut is not None:
        query = query.where(bound >= cut - _ROUNDING_MARGIN)
    return [_record(row, {}, row) for row in await session.execute(query)]


async def _best_far_agencies(
    session: AsyncSession,
    *,
    same_domain: Any,
    elsewhere: Any,
    rome_code: str,
    weights: Weights,
    prior: Prior,
    limit: int,
) -> list[Any]:
    """The agencies knowing the trade's domain elsewhere, best first by their score with a
    proximity of 0 (specialisation and smoothed past results, computed in SQL as
    :mod:`referral.domain.suggestion` does), enough of them to hold the ``limit`` best: the top
    ``2 × limit``, and those just under the cut within the rounding margin (the SQL and the
    rounded Python scores may order near-equal scores differently; equal ones both by id)."""
    if limit <= 0:
        return []
    results = _results_of(same_domain)
    exact = (
        select(AgencySpecialisation.agency_id)
        .where(
            AgencySpecialisation.agency_id == Agency.id,
            AgencySpecialisation.rome_code == rome_code,
        )
        .exists()
    )
    score = (
        case((exact, 1.0), else_=0.5) * weights.specialisation
        + _smoothed_parts(results, weights, prior)
    ).label("score")
    query = (
        select(*_COLUMNS, results.c.answered, results.c.accepted, results.c.placed, score)
        .outerjoin(results, results.c.agency_id == Agency.id)
        .where(Agency.active.is_(True), Agency.id.in_(same_domain), elsewhere)
    )
    fetch = limit * _FAR_FETCH
    rows = list(await session.execute(query.order_by(score.desc(), Agency.id).limit(fetch)))
    if len(rows) < fetch:
        return rows
    cut, last = rows[limit - 1].score, rows[-1].score
    if last < cut - _ROUNDING_MARGIN:
        return rows
    # Unfetched rows scoring exactly the cut come after it by id, as in Python; those just under
    # it might not, once rounded: fetch them too.
    seen = {row.id for row in rows}
    band = await session.execute(
        query.where(score < cut, score >= cut - _ROUNDING_MARGIN).order_by(Agency.id)
    )
    return rows + [row for row in band if row.id not in seen]

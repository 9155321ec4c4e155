"""The reads of the referral service: lists with their filters and cursor, one row, a referral's
timeline, the agency suggestion's candidates (the indicators' facts: :mod:`.indicators`). Every
read of a referral,
job seeker, consent, offer or timeline goes through :mod:`referral.access`."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from referral import access
from referral.domain import (
    Action,
    LoggedSchemeEvent,
    LoggedTransition,
    PriorityPublic,
    ReferralStatus,
    TimelineEntry,
    build_timeline,
)
from referral.domain.suggestion import (
    AgencyRecord,
    Point,
    Prior,
    Weights,
    bounding_box,
    rank,
    rome_domain,
)
from referral.models import (
    Agency,
    AgencySpecialisation,
    Consent,
    JobOffer,
    JobSeeker,
    Network,
    Referral,
    ReferralSchemeEvent,
    ReferralTransition,
    RefusedResponse,
)
from referral.use_cases.audit import record_access
from referral.use_cases.common import (
    check_rome_code,
    invalid,
    not_found,
    region_of,
    sent_between,
)
from shared.auth.tokens import Principal
from shared.contracts.vocabulary import DeclineReason
from shared.http.pagination import KeysetPage, decode_id_cursor, encode_cursor, fetch_page

# -- referrals -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReferralFilters:
    status: Sequence[ReferralStatus] | None = None
    agency_id: str | None = None
    network_id: str | None = None
    departement: str | None = None
    region: str | None = None
    rome_code: str | None = None
    priority_public: PriorityPublic | None = None
    job_seeker_id: uuid.UUID | None = None
    offer_id: uuid.UUID | None = None
    sent_from: date | None = None
    sent_to: date | None = None


async def list_referrals(
    session: AsyncSession,
    principal: Principal,
    filters: ReferralFilters,
    *,
    cursor: str | None,
    limit: int,
) -> KeysetPage[Any]:
    query = select(Referral).where(access.visible_referrals(principal))
    if filters.status:
        query = query.where(Referral.status.in_([s.value for s in filters.status]))
    for column, value in (
        (Referral.agency_id, filters.agency_id),
        (Referral.network_id, filters.network_id),
        (Referral.departement, filters.departement),
        (Referral.region, filters.region),
        (Referral.rome_code, filters.rome_code),
        (Referral.job_seeker_id, filters.job_seeker_id),
        (Referral.offer_id, filters.offer_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if filters.priority_public is not None:
        public = filters.priority_public.value
        query = query.where(getattr(Referral, f"public_{public}").is_(True))
    query = query.where(*sent_between(filters.sent_from, filters.sent_to))
    return await fetch_page(
        session, query, created=Referral.created_at, ident=Referral.id, cursor=cursor, limit=limit
    )


async def referral_with_timeline(
    session: AsyncSession, principal: Principal, referral_id: uuid.UUID
) -> tuple[Referral, list[TimelineEntry]]:
    referral = await session.scalar(
        select(Referral)
        .where(Referral.id == referral_id, access.visible_referrals(principal))
        .options(selectinload(Referral.transitions))
    )
    if referral is None:
        # A counsellor of another structure learns nothing, not even that it exists.
        raise not_found(f"Orientation {referral_id}")
    scheme_events = await session.scalars(
        select(ReferralSchemeEvent)
        .where(ReferralSchemeEvent.referral_id == referral_id)
        .order_by(ReferralSchemeEvent.id)
    )
    timeline = build_timeline(
        [_logged_transition(t) for t in referral.transitions],
        [_logged_scheme_event(e) for e in scheme_events],
    )
    return referral, timeline


def _logged_transition(t: ReferralTransition) -> LoggedTransition:
    reason_label = None
    if t.action == Action.DECLINE.value and t.reason:
        reason_label = DeclineReason(t.reason).label
    return LoggedTransition(
        occurred_at=t.occurred_at,
        label=Action(t.action).label,
        payload={
            "from_status": t.from_status,
            "to_status": t.to_status,
            "to_status_label": ReferralStatus(t.to_status).label,
            "action": t.action,
            "actor": t.actor,
            "actor_id": t.actor_id,
            "comment": t.comment,
            "reason": t.reason,
            "reason_label": reason_label,
            "details": t.details,
        },
    )


def _logged_scheme_event(e: ReferralSchemeEvent) -> LoggedSchemeEvent:
    return LoggedSchemeEvent(
        occurred_at=e.occurred_at,
        label=e.label,
        payload={"scheme": e.scheme, "event_type": e.event_type, "details": e.data},
    )


# -- job seekers and consents --------------------------------------------------------------------


async def list_job_seekers(
    session: AsyncSession,
    principal: Principal,
    *,
    ft_identifier: str | None,
    last_name: str | None,
    cursor: str | None,
    limit: int,
) -> KeysetPage[Any]:
    """The records the caller sees in full (their organisation's and those shared with it; all
    for ops), newest first; each one returned is recorded in the access audit."""
    query = select(JobSeeker).where(access.visible_job_seekers(principal))
    if ft_identifier:
        query = query.where(JobSeeker.ft_identifier == ft_identifier)
    if last_name:
        query = query.where(JobSeeker.last_name == last_name)
    page = await fetch_page(
        session, query, created=JobSeeker.created_at, ident=JobSeeker.id, cursor=cursor, limit=limit
    )
    for job_seeker in page.items:
        await record_access(
            session,
            principal,
            action="list",
            resource="job_seeker",
            resource_id=job_seeker.id,
            job_seeker_id=job_seeker.id,
            view=access.JobSeekerView.FULL,
        )
    return page


async def get_job_seeker(
    session: AsyncSession, principal: Principal, job_seeker_id: uuid.UUID
) -> tuple[JobSeeker, access.JobSeekerView]:
    """The record and how much of it the caller sees (full or masked); recorded in the audit."""
    job_seeker = await session.get(JobSeeker, job_seeker_id)
    view = access.job_seeker_view(principal, job_seeker) if job_seeker is not None else None
    if job_seeker is None or view is None:
        raise not_found(f"Demandeur d'emploi {job_seeker_id}")
    await record_access(
        session,
        principal,
        action="read",
        resource="job_seeker",
        resource_id=job_seeker.id,
        job_seeker_id=job_seeker.id,
        view=view,
    )
    return job_seeker, view


async def list_consents(
    session: AsyncSession, principal: Principal, job_seeker_id: uuid.UUID
) -> list[Consent]:
    """A job seeker's consents, for those who see the record in full; recorded in the audit."""
    job_seeker = await session.get(JobSeeker, job_seeker_id)
    if job_seeker is None or not access.sees_consents_of(principal, job_seeker):
        raise not_found(f"Demandeur d'emploi {job_seeker_id}")
    consents = await session.scalars(
        select(Consent)
        .where(Consent.job_seeker_id == job_seeker_id)
        .order_by(Consent.granted_at, Consent.id)
    )
    await record_access(
        session,
        principal,
        action="consent_read",
        resource="consent",
        job_seeker_id=job_seeker_id,
    )
    return [c for c in consents if access.sees_consent(principal, c)]


# -- replays of a creation ----------------------------------------------------------------------

_CREATED = re.compile(
    r"^/v1/(?P<kind>referrals|job-seekers|offers|agencies|networks)/(?P<id>[^/]+)"
    r"(?:/(?P<sub>consents|shares)/[^/]+)?$"
)


async def may_still_see(session: AsyncSession, principal: Principal, location: str | None) -> bool:
    """Whether the caller may still see what a stored creation answered (its ``Location``),
    re-checked through the access policy before an Idempotency-Key replay."""
    match = _CREATED.match(location or "")
    if match is None:
        return False
    kind, ident = match["kind"], match["id"]
    if kind in ("offers", "agencies", "networks"):
        return True  # no personal data: the route's role check is the policy
    try:
        row_id = uuid.UUID(ident)
    except ValueError:
        return False
    if kind == "referrals":
        referral = await session.get(Referral, row_id)
        return referral is not None and access.sees_referral(principal, referral)
    job_seeker = await session.get(JobSeeker, row_id)
    if job_seeker is None:
        return False
    if match["sub"] == "shares":
        return access.sees_shares_of(principal, job_seeker)
    return access.job_seeker_view(principal, job_seeker) is access.JobSeekerView.FULL


# -- offers --------------------------------------------------------------------------------------


async def list_offers(
    session: AsyncSession,
    principal: Principal,
    *,
    rome_code: str | None,
    departement: str | None,
    region: str | None,
    hard_to_fill: bool | None,
    cursor: str | None,
    limit: int,
) -> KeysetPage[Any]:
    query = select(JobOffer).where(access.visible_offers(principal))
    for column, value in (
        (JobOffer.rome_code, rome_code),
        (JobOffer.departement, departement),
        (JobOffer.region, region),
        (JobOffer.hard_to_fill, hard_to_fill),
    ):
        if value is not None:
            query = query.where(column == value)
    return await fetch_page(
        session, query, created=JobOffer.created_at, ident=JobOffer.id, cursor=cursor, limit=limit
    )


async def get_offer(session: AsyncSession, principal: Principal, offer_id: uuid.UUID) -> JobOffer:
    offer = await session.get(JobOffer, offer_id)
    if offer is None or not access.sees_offer(principal, offer):
        raise not_found(f"Offre {offer_id}")
    return offer


# -- agencies and the suggestion -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AgencyFilters:
    departement: str | None = None
    region: str | None = None
    rome_code: str | None = None
    network_id: str | None = None
    active: bool | None = None


async def list_agencies(
    session: AsyncSession, filters: AgencyFilters, *, cursor: str | None, limit: int
) -> KeysetPage[Any]:
    query = select(Agency).order_by(Agency.id)
    for column, value in (
        (Agency.departement, filters.departement),
        (Agency.region, filters.region),
        (Agency.network_id, filters.network_id),
        (Agency.active, filters.active),
    ):
        if value is not None:
            query = query.where(column == value)
    if filters.rome_code:
        query = query.where(
            Agency.id.in_(
                select(AgencySpecialisation.agency_id).where(
                    AgencySpecialisation.rome_code == filters.rome_code
                )
            )
        )
    if cursor:
        query = query.where(Agency.id > decode_id_cursor(cursor, str))
    rows = list(await session.scalars(query.limit(limit + 1)))
    next_cursor = encode_cursor([rows[limit - 1].id]) if len(rows) > limit else None
    return KeysetPage(rows[:limit], next_cursor)


async def get_agency(session: AsyncSession, agency_id: str) -> Agency:
    agency = await session.get(Agency, agency_id)
    if agency is None:
        raise not_found(f"Agence {agency_id}")
    return agency


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


# -- networks (ops) ------------------------------------------------------------------------------


async def list_networks(session: AsyncSession) -> list[Network]:
    return list(await session.scalars(select(Network).order_by(Network.id)))


async def refused_responses(
    session: AsyncSession, network_id: str, *, cursor: str | None, limit: int
) -> KeysetPage[Any]:
    """The audit log of a network's refused answers, newest first."""
    query = (
        select(RefusedResponse)
        .where(RefusedResponse.network_id == network_id)
        .order_by(RefusedResponse.id.desc())
    )
    if cursor:
        query = query.where(RefusedResponse.id < decode_id_cursor(cursor, int))
    rows = list(await session.scalars(query.limit(limit + 1)))
    if len(rows) <= limit:
        return KeysetPage(rows, None)
    return KeysetPage(rows[:limit], encode_cursor([rows[limit - 1].id]))

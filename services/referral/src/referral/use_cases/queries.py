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

from sqlalchemy import select
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
    transition_label,
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
    not_found,
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
        label=transition_label(t.action, t.details),
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

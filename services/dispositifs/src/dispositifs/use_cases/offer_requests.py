"""Agencies' requests for a scheme on a hard-to-fill offer (issue 16, item 5): the referral
service applies an agency's answer "we ask for a PMSMP / an MRS / a POEI for this offer" and
publishes ``coop.offer.scheme_requested.v1``; here it opens an :class:`OfferSchemeRequest` for the
counsellors of the offer's structure (ops when the offer has none, e.g. synchronised from France
Travail's API), who take it on — find candidates (the referral service's matching for the
offer), refer them, then start the scheme with each (an immersion, an MRS session, a POEI
enrolment: each needs a referral) — or dismiss it. Lifecycle:
:data:`dispositifs.domain.offer_request.OFFER_REQUEST_LIFECYCLE`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dispositifs.access import sees, visible_rows
from dispositifs.domain.immersion import Actor
from dispositifs.domain.offer_request import OFFER_REQUEST_LIFECYCLE, OfferRequestStatus
from dispositifs.models import OfferSchemeRequest
from shared.auth.tokens import Principal
from shared.contracts.territory import OfferSchemeRequested
from shared.domain.errors import NotFound


async def receive_offer_scheme_request(
    session: AsyncSession, data: OfferSchemeRequested
) -> OfferSchemeRequest:
    """Open the request, once per applied answer (the same answer again returns it)."""
    existing = await session.scalar(
        select(OfferSchemeRequest).where(OfferSchemeRequest.answer_id == data.answer_id)
    )
    if existing is not None:
        return existing
    now = datetime.now(UTC)
    row = OfferSchemeRequest(
        id=uuid.uuid4(),
        answer_id=data.answer_id,
        offer_id=data.offer_id,
        scheme=data.scheme.value,
        agency_id=data.agency_id,
        network_id=data.network_id,
        title=data.title,
        rome_code=data.rome_code,
        departement=data.departement,
        region_code=data.region,
        hard_to_fill_source=data.hard_to_fill_source,
        structure_code=data.structure_code,
        status=OFFER_REQUEST_LIFECYCLE.check("open", None, Actor.SYSTEM).target.value,
        requested_at=data.requested_at,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def offer_requests(
    session: AsyncSession,
    principal: Principal,
    *,
    status: OfferRequestStatus | None = None,
    offer_id: uuid.UUID | None = None,
    limit: int = 100,
) -> list[OfferSchemeRequest]:
    """The requests the caller sees (their structure's offers; ops all), newest first."""
    query = visible_rows(select(OfferSchemeRequest), OfferSchemeRequest, principal)
    if status is not None:
        query = query.where(OfferSchemeRequest.status == status.value)
    if offer_id is not None:
        query = query.where(OfferSchemeRequest.offer_id == offer_id)
    order = (OfferSchemeRequest.created_at.desc(), OfferSchemeRequest.id)
    return list(await session.scalars(query.order_by(*order).limit(limit)))


@dataclass(frozen=True, slots=True)
class DecideOfferRequest:
    request_id: uuid.UUID
    #: ``take`` or ``dismiss``
    action: str


async def decide_offer_request(
    session: AsyncSession, principal: Principal, command: DecideOfferRequest
) -> OfferSchemeRequest:
    row = await session.get(OfferSchemeRequest, command.request_id, with_for_update=True)
    if row is None or not sees(principal, row.structure_code):
        raise NotFound(f"Demande {command.request_id} introuvable.")
    step = OFFER_REQUEST_LIFECYCLE.check(
        command.action, OfferRequestStatus(row.status), Actor.COUNSELLOR
    )
    row.status = step.target.value
    row.decided_at = datetime.now(UTC)
    return row

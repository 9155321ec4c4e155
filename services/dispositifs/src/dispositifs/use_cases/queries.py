"""The reads of the dispositifs service: lists (keyset-paginated, newest first) and details, each
narrowed by ``access.py`` to the rows the caller sees."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from dispositifs.access import may_link_referral, sees, visible_rows
from dispositifs.domain.immersion import ImmersionStatus
from dispositifs.domain.pathway import ProposalStatus
from dispositifs.models import (
    ImmersionConvention,
    KnownReferral,
    MrsCandidate,
    MrsSession,
    PathwayProposal,
    PoecSession,
    TrainingEnrolment,
)
from shared.auth.tokens import Principal
from shared.contracts.vocabulary import TrainingKind
from shared.domain.errors import NotFound
from shared.http.pagination import KeysetPage, fetch_page


@dataclass(frozen=True)
class PageRequest:
    limit: int = 50
    cursor: str | None = None


async def _page(
    session: AsyncSession, query: Any, model: Any, page: PageRequest
) -> KeysetPage[Any]:
    return await fetch_page(
        session,
        query,
        created=model.created_at,
        ident=model.id,
        cursor=page.cursor,
        limit=page.limit,
    )


# -- immersions ------------------------------------------------------------------------------------


async def list_immersions(
    session: AsyncSession,
    principal: Principal,
    page: PageRequest,
    *,
    status: ImmersionStatus | None = None,
    referral_id: uuid.UUID | None = None,
) -> KeysetPage[Any]:
    query = visible_rows(select(ImmersionConvention), ImmersionConvention, principal)
    if status is not None:
        query = query.where(ImmersionConvention.status == status.value)
    if referral_id is not None:
        query = query.where(ImmersionConvention.referral_id == referral_id)
    return await _page(session, query, ImmersionConvention, page)


async def get_immersion(
    session: AsyncSession, principal: Principal, convention_id: uuid.UUID
) -> ImmersionConvention:
    """The convention with its transition log (``transitions``)."""
    convention = await session.scalar(
        select(ImmersionConvention)
        .where(ImmersionConvention.id == convention_id)
        .options(
            selectinload(ImmersionConvention.transitions),
            selectinload(ImmersionConvention.signatories),
            selectinload(ImmersionConvention.incidents),
        )
    )
    if convention is None or not sees(principal, convention.structure_code):
        raise NotFound(f"Convention {convention_id} introuvable.")
    return convention


# -- MRS -------------------------------------------------------------------------------------------


async def list_mrs_sessions(
    session: AsyncSession, principal: Principal, page: PageRequest
) -> KeysetPage[Any]:
    query = visible_rows(select(MrsSession), MrsSession, principal)
    return await _page(session, query, MrsSession, page)


async def get_mrs_session(
    session: AsyncSession, principal: Principal, session_id: uuid.UUID
) -> tuple[MrsSession, list[MrsCandidate]]:
    """The session and its candidates, in order of registration."""
    mrs = await session.get(MrsSession, session_id)
    if mrs is None or not sees(principal, mrs.structure_code):
        raise NotFound(f"Session MRS {session_id} introuvable.")
    candidates = await session.scalars(
        select(MrsCandidate)
        .where(MrsCandidate.session_id == mrs.id)
        .order_by(MrsCandidate.registered_at, MrsCandidate.id)
    )
    return mrs, list(candidates)


# -- POEI / POEC -----------------------------------------------------------------------------------


async def list_poec_sessions(
    session: AsyncSession, principal: Principal, page: PageRequest, *, rome_code: str | None = None
) -> KeysetPage[Any]:
    """Every POEC session (a branch's training offer, no personal data: see ``access.py``)."""
    query = select(PoecSession)
    if rome_code:
        query = query.where(PoecSession.rome_code == rome_code)
    return await _page(session, query, PoecSession, page)


async def list_enrolments(
    session: AsyncSession,
    principal: Principal,
    page: PageRequest,
    *,
    kind: TrainingKind | None = None,
    referral_id: uuid.UUID | None = None,
) -> KeysetPage[Any]:
    query = visible_rows(select(TrainingEnrolment), TrainingEnrolment, principal)
    if kind is not None:
        query = query.where(TrainingEnrolment.kind == kind.value)
    if referral_id is not None:
        query = query.where(TrainingEnrolment.referral_id == referral_id)
    return await _page(session, query, TrainingEnrolment, page)


async def get_enrolment(
    session: AsyncSession, principal: Principal, enrolment_id: uuid.UUID
) -> TrainingEnrolment:
    row = await session.get(TrainingEnrolment, enrolment_id)
    if row is None or not sees(principal, row.structure_code):
        raise NotFound(f"Inscription {enrolment_id} introuvable.")
    return row


# -- pathway proposals -----------------------------------------------------------------------------


async def list_proposals(
    session: AsyncSession,
    principal: Principal,
    page: PageRequest,
    *,
    status: ProposalStatus | None = None,
    referral_id: uuid.UUID | None = None,
) -> KeysetPage[Any]:
    query = visible_rows(select(PathwayProposal), PathwayProposal, principal)
    if status is not None:
        query = query.where(PathwayProposal.status == status.value)
    if referral_id is not None:
        query = query.where(PathwayProposal.referral_id == referral_id)
    return await _page(session, query, PathwayProposal, page)


# -- referrals -------------------------------------------------------------------------------------


async def get_known_referral(
    session: AsyncSession, principal: Principal, referral_id: uuid.UUID
) -> KnownReferral:
    known = await session.get(KnownReferral, referral_id)
    if not may_link_referral(principal, known):
        raise NotFound(f"Orientation {referral_id} introuvable.")
    assert known is not None
    return known

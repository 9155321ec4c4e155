"""The skills-gap pathway over HTTP: ask for a proposal, list them, accept or dismiss."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dispositifs.api.deps import (
    Counsellor,
    CounsellorOrOps,
    Runtime,
    create_idempotently,
    keyset,
    not_found,
    page,
    visible,
)
from dispositifs.domain.pathway import ProposalStatus, ProposalTrigger
from dispositifs.domain.violations import RulesBroken, Violation
from dispositifs.models import KnownReferral, PathwayProposal
from dispositifs.use_cases import pathways as use
from shared.auth.tokens import Role
from shared.http.idempotency import IdempotencyKey
from shared.http.pagination import Page

router = APIRouter(prefix="/v1/pathway-proposals", tags=["parcours (écart de compétences)"])


class ProposalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    referral_id: uuid.UUID


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: str | None = Field(default=None, max_length=2000)


class ProposalOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    referral_id: uuid.UUID
    job_seeker_id: uuid.UUID
    structure_code: str | None
    trigger: str
    scheme: str
    rule: str
    reason: str
    poec_session_id: uuid.UUID | None
    status: str
    decided_by: str | None
    decided_at: datetime | None
    comment: str | None
    created_at: datetime


def _out(row: PathwayProposal) -> dict[str, Any]:
    return ProposalOut.model_validate(row).model_dump(mode="json")


@router.post(
    "",
    status_code=201,
    response_model=ProposalOut,
    summary="Demander une proposition de parcours (formation demandée pour une orientation)",
)
async def ask_for_proposal(
    body: ProposalIn,
    principal: Counsellor,
    idempotency_key: IdempotencyKey,
    request: Request,
    runtime: Runtime,
) -> Response:
    async def create(session: AsyncSession) -> tuple[dict[str, Any], str]:
        known = await session.get(KnownReferral, body.referral_id)
        if known is None or not visible(principal, known.structure_code):
            raise RulesBroken(
                [Violation("pathway.referral", "referral_id", "orientation inconnue ici")]
            )
        proposal = await use.propose_for_referral(
            session, known, ProposalTrigger.TRAINING_REQUESTED
        )
        return _out(proposal), f"/v1/pathway-proposals/{proposal.id}"

    return await create_idempotently(runtime, principal, idempotency_key, request, body, create)


@router.get("", response_model=Page[ProposalOut], summary="Lister les propositions")
async def list_proposals(
    principal: CounsellorOrOps,
    runtime: Runtime,
    status: Annotated[ProposalStatus | None, Query()] = None,
    referral_id: Annotated[uuid.UUID | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query()] = None,
) -> dict[str, Any]:
    query = select(PathwayProposal)
    if principal.role is Role.COUNSELLOR:
        query = query.where(PathwayProposal.structure_code == principal.ft_structure)
    if status is not None:
        query = query.where(PathwayProposal.status == status.value)
    if referral_id is not None:
        query = query.where(PathwayProposal.referral_id == referral_id)
    async with runtime.session() as session:
        rows = list(await session.scalars(keyset(query, PathwayProposal, cursor).limit(limit + 1)))
    return page(rows, limit, _out)


async def _decide(
    proposal_id: uuid.UUID, accept: bool, body: DecisionIn, principal: Any, runtime: Any
) -> dict[str, Any]:
    async with runtime.database.transaction() as session:
        row = await session.get(PathwayProposal, proposal_id, with_for_update=True)
        if row is None or not visible(principal, row.structure_code):
            raise not_found("Proposition", proposal_id)
        await use.decide(row, accept, principal.subject, body.comment)
        return _out(row)


@router.post("/{proposal_id}/accept", response_model=ProposalOut, summary="Accepter")
async def accept(
    proposal_id: uuid.UUID, body: DecisionIn, principal: Counsellor, runtime: Runtime
) -> dict[str, Any]:
    return await _decide(proposal_id, True, body, principal, runtime)


@router.post("/{proposal_id}/dismiss", response_model=ProposalOut, summary="Écarter (motif)")
async def dismiss(
    proposal_id: uuid.UUID, body: DecisionIn, principal: Counsellor, runtime: Runtime
) -> dict[str, Any]:
    return await _decide(proposal_id, False, body, principal, runtime)

"""The skills-gap pathway over HTTP: ask for a proposal, list them, accept or dismiss."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from dispositifs.api.deps import (
    Counsellor,
    CounsellorOrOps,
    Cursor,
    Limit,
    Runtime,
)
from dispositifs.domain.pathway import ProposalStatus
from dispositifs.models import PathwayProposal
from dispositifs.use_cases import Session, queries
from dispositifs.use_cases import pathways as use
from shared.http.idempotency import IdempotencyKey, create_idempotently
from shared.http.pagination import Page
from shared.privacy import ScreenedText

router = APIRouter(prefix="/v1/pathway-proposals", tags=["parcours (écart de compétences)"])


class ProposalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    referral_id: uuid.UUID


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: ScreenedText | None = Field(default=None, max_length=2000)


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
    command = use.AskForProposal(body.referral_id)

    async def create(session: Session) -> tuple[dict[str, Any], str]:
        proposal = await use.ask_for_proposal(session, principal, command)
        return _out(proposal), f"/v1/pathway-proposals/{proposal.id}"

    return await create_idempotently(runtime, principal, idempotency_key, request, body, create)


@router.get("", response_model=Page[ProposalOut], summary="Lister les propositions")
async def list_proposals(
    principal: CounsellorOrOps,
    runtime: Runtime,
    status: Annotated[ProposalStatus | None, Query()] = None,
    referral_id: Annotated[uuid.UUID | None, Query()] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    async with runtime.session() as session:
        found = await queries.list_proposals(
            session,
            principal,
            queries.PageRequest(limit, cursor),
            status=status,
            referral_id=referral_id,
        )
    return found.map(_out)


async def _decide(
    proposal_id: uuid.UUID, accept: bool, body: DecisionIn, principal: Any, runtime: Any
) -> dict[str, Any]:
    command = use.DecideProposal(proposal_id, accept, body.comment)
    async with runtime.database.transaction() as session:
        row = await use.decide(session, principal, command)
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

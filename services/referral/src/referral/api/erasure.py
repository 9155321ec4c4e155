"""Erasure of a job seeker (ops, i.e. the DPO): the request and its progress per service."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from referral.api.deps import Ops, Runtime
from referral.use_cases.erasure import RequestErasure, erasure_progress, request_erasure

router = APIRouter(prefix="/v1", tags=["personal data"])


class ErasureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(
        min_length=3, max_length=1000, description="Pourquoi (demande de la personne, art. 17)."
    )


class ServiceReport(BaseModel):
    service: str
    status: str = Field(description="completed | waiting")
    completed_at: datetime | None
    report: list[dict[str, Any]]


class ErasureOut(BaseModel):
    id: uuid.UUID
    job_seeker_id: uuid.UUID
    reason: str
    requested_by: str
    requested_at: datetime
    networks_instructed: list[str]
    status: str = Field(description="in_progress | completed")
    completed_at: datetime | None
    waiting_for: list[str] = Field(description="Les services qui n'ont pas encore répondu.")
    services: list[ServiceReport]


@router.post(
    "/job-seekers/{job_seeker_id}/erasure",
    status_code=202,
    response_model=ErasureOut,
    summary="Demander l'effacement d'un demandeur d'emploi (DPO)",
)
async def create_erasure(
    job_seeker_id: uuid.UUID, body: ErasureIn, principal: Ops, runtime: Runtime, response: Response
) -> dict[str, Any]:
    async with runtime.database.transaction() as session:
        request = await request_erasure(
            session, RequestErasure(job_seeker_id, body.reason), principal
        )
        progress = await erasure_progress(session, request.id, principal)
    response.headers["Location"] = f"/v1/erasure-requests/{request.id}"
    return ErasureOut.model_validate(progress).model_dump(mode="json")


@router.get(
    "/erasure-requests/{erasure_id}",
    response_model=ErasureOut,
    summary="Où en est un effacement, service par service",
)
async def get_erasure(erasure_id: uuid.UUID, principal: Ops, runtime: Runtime) -> dict[str, Any]:
    async with runtime.session() as session:
        progress = await erasure_progress(session, erasure_id, principal)
    return ErasureOut.model_validate(progress).model_dump(mode="json")

"""Consent records of a job seeker (what may be shared with which agency)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from referral.api.deps import Counsellor, CounsellorOrOps, Runtime
from referral.domain import ConsentScope
from referral.domain.consent import ConsentChannel
from referral.models import Consent
from referral.use_cases import queries
from referral.use_cases.consents import (
    RecordConsent,
    WithdrawConsent,
    record_consent,
    withdraw_consent,
)
from shared.http.idempotency import IdempotencyKey, create_idempotently

router = APIRouter(prefix="/v1", tags=["job seekers"])


class ConsentIn(BaseModel):
    """The time and the person are the server's (the caller, now); the text version is the one
    the platform shows for the scope."""

    model_config = ConfigDict(extra="forbid")

    agency_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="L'agence destinataire (identité, RQTH); absent pour le contact.",
    )
    scope: ConsentScope = Field(
        description="identity: identité et coordonnées; rqth: RQTH; contact: contact par la "
        "plateforme."
    )
    channel: ConsentChannel = Field(description="in_person, phone ou written.")
    referral_id: uuid.UUID | None = Field(
        default=None,
        description="Pour une orientation déjà envoyée : l'identité lui est transmise aussitôt.",
    )


class ConsentOut(BaseModel):
    id: uuid.UUID
    job_seeker_id: uuid.UUID
    agency_id: str | None
    referral_id: uuid.UUID | None
    scope: str
    scope_label: str
    channel: str | None
    text_version: str | None
    granted_at: datetime
    recorded_by: str
    structure_code: str | None
    withdrawn_at: datetime | None
    withdrawn_by: str | None


def consent_out(consent: Consent) -> dict[str, Any]:
    return ConsentOut(
        id=consent.id,
        job_seeker_id=consent.job_seeker_id,
        agency_id=consent.agency_id,
        referral_id=consent.referral_id,
        scope=consent.scope,
        channel=consent.channel,
        text_version=consent.text_version,
        scope_label=ConsentScope(consent.scope).label,
        granted_at=consent.granted_at,
        recorded_by=consent.recorded_by,
        structure_code=consent.structure_code,
        withdrawn_at=consent.withdrawn_at,
        withdrawn_by=consent.withdrawn_by,
    ).model_dump(mode="json")


@router.post(
    "/job-seekers/{job_seeker_id}/consents",
    status_code=201,
    response_model=ConsentOut,
    summary="Enregistrer un consentement au partage avec une agence",
)
async def create_consent(
    job_seeker_id: uuid.UUID,
    body: ConsentIn,
    principal: Counsellor,
    idempotency_key: IdempotencyKey,
    request: Request,
    runtime: Runtime,
) -> Any:
    async def create(session: Any) -> tuple[dict[str, Any], str]:
        consent = await record_consent(
            session,
            RecordConsent(
                job_seeker_id, body.agency_id, body.scope, body.channel, body.referral_id
            ),
            principal,
        )
        return (
            consent_out(consent),
            f"/v1/job-seekers/{job_seeker_id}/consents/{consent.id}",
        )

    return await create_idempotently(runtime, principal, idempotency_key, request, body, create)


@router.get("/job-seekers/{job_seeker_id}/consents", response_model=list[ConsentOut])
async def list_consents(
    job_seeker_id: uuid.UUID, principal: CounsellorOrOps, runtime: Runtime
) -> list[dict[str, Any]]:
    async with runtime.database.transaction() as session:  # the read is audited
        consents = await queries.list_consents(session, principal, job_seeker_id)
        return [consent_out(c) for c in consents]


@router.post(
    "/job-seekers/{job_seeker_id}/consents/{consent_id}/withdraw",
    response_model=ConsentOut,
    summary="Retirer un consentement",
)
async def withdraw_consent_route(
    job_seeker_id: uuid.UUID, consent_id: uuid.UUID, principal: Counsellor, runtime: Runtime
) -> dict[str, Any]:
    async with runtime.database.transaction() as session:
        consent = await withdraw_consent(
            session, WithdrawConsent(job_seeker_id, consent_id), principal
        )
        return consent_out(consent)

"""Job seekers (France Travail side, minimal; never a NIR) and their consent records. A record is
shown in full or masked as :mod:`referral.access` decides (``masked``: initials and département
only); another organisation takes a job seeker in charge once the owner shares it."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, EmailStr, Field

from referral.access import JobSeekerView
from referral.api.deps import (
    Counsellor,
    CounsellorOrOps,
    Runtime,
    Settings,
)
from referral.api.referrals import DEPARTEMENT_PATTERN, FT_IDENTIFIER_PATTERN, JobSeekerIn
from referral.domain import PublicsRules
from referral.models import JobSeeker
from referral.use_cases import queries
from referral.use_cases.job_seekers import (
    RevokeShare,
    ShareJobSeeker,
    UpdateJobSeeker,
    publics_of,
    register_job_seeker,
    share_job_seeker,
)
from referral.use_cases.job_seekers import revoke_share as take_back_share
from referral.use_cases.job_seekers import update_job_seeker as change_job_seeker
from shared.auth.tokens import OrganisationKind
from shared.http.idempotency import IdempotencyKey, create_idempotently
from shared.http.pagination import Page
from shared.http.security import ProbeLimit, limit_probes
from shared.privacy import PhoneNumber

router = APIRouter(prefix="/v1", tags=["job seekers"])


class JobSeekerOut(BaseModel):
    id: uuid.UUID
    masked: bool = Field(
        description="Fiche d'une autre structure : initiales et département seulement."
    )
    ft_identifier: str | None
    first_name: str
    last_name: str
    email: str | None
    phone: str | None
    birth_date: date | None
    departement: str | None
    rqth: bool | None
    brsa: bool | None
    deld: bool | None
    qpv: bool | None
    priority_publics: list[str] = Field(description="Jeune et senior calculés à la date du jour.")
    structure_code: str | None
    shared_with: list[str] = Field(
        default_factory=list, description="Structures qui l'ont pris en charge (partage)."
    )
    created_at: datetime


class JobSeekerPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first_name: str | None = Field(default=None, min_length=1, max_length=100)
    last_name: str | None = Field(default=None, min_length=1, max_length=100)
    email: EmailStr | None = None
    phone: PhoneNumber | None = None
    birth_date: date | None = None
    departement: str | None = Field(default=None, pattern=DEPARTEMENT_PATTERN)
    rqth: bool | None = None
    brsa: bool | None = None
    deld: bool | None = None
    qpv: bool | None = None
    change_reason: str | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        description="Motif de la modification (obligatoire pour l'exploitation, journalisé).",
    )


class ShareIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    organisation_kind: OrganisationKind = Field(description="Type de structure prescriptrice.")
    organisation_code: str = Field(min_length=1, max_length=16, pattern=r"^[0-9A-Za-z_-]+$")
    reason: str = Field(min_length=1, max_length=400, description="Pourquoi (journalisé).")


class RevokeShareIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(
        default=None,
        min_length=1,
        max_length=400,
        description="Pourquoi (obligatoire pour l'exploitation, journalisé).",
    )


class ShareOut(BaseModel):
    id: uuid.UUID
    job_seeker_id: uuid.UUID
    organisation: str
    shared_by: str
    shared_by_organisation: str | None
    reason: str
    created_at: datetime


def job_seeker_out(
    job_seeker: JobSeeker, rules: PublicsRules, view: JobSeekerView = JobSeekerView.FULL
) -> dict[str, Any]:
    if view is JobSeekerView.MASKED:
        return JobSeekerOut(
            id=job_seeker.id,
            masked=True,
            ft_identifier=None,
            first_name=_initial(job_seeker.first_name),
            last_name=_initial(job_seeker.last_name),
            email=None,
            phone=None,
            birth_date=None,
            departement=job_seeker.departement,
            rqth=None,
            brsa=None,
            deld=None,
            qpv=None,
            priority_publics=[],
            structure_code=job_seeker.structure_code,
            created_at=job_seeker.created_at,
        ).model_dump(mode="json")
    publics = publics_of(job_seeker, datetime.now(UTC).date(), rules.senior_age, rules)
    return JobSeekerOut(
        id=job_seeker.id,
        masked=False,
        ft_identifier=job_seeker.ft_identifier,
        first_name=job_seeker.first_name,
        last_name=job_seeker.last_name,
        email=job_seeker.email,
        phone=job_seeker.phone,
        birth_date=job_seeker.birth_date,
        departement=job_seeker.departement,
        rqth=job_seeker.rqth,
        brsa=job_seeker.brsa,
        deld=job_seeker.deld,
        qpv=job_seeker.qpv,
        priority_publics=sorted(p.value for p in publics),
        structure_code=job_seeker.structure_code,
        shared_with=[share.organisation for share in job_seeker.shares],
        created_at=job_seeker.created_at,
    ).model_dump(mode="json")


def _initial(name: str) -> str:
    return f"{name.strip()[:1].upper()}." if name.strip() else ""


def share_out(share: Any) -> dict[str, Any]:
    return ShareOut.model_validate(share, from_attributes=True).model_dump(mode="json")


@router.post(
    "/job-seekers",
    status_code=201,
    response_model=JobSeekerOut,
    summary="Enregistrer un demandeur d'emploi",
    # A 409 tells whether an identifier is known: a login-like probe (issue 10, item 11).
    dependencies=[ProbeLimit],
)
async def create_job_seeker(
    body: JobSeekerIn,
    principal: Counsellor,
    idempotency_key: IdempotencyKey,
    request: Request,
    runtime: Runtime,
    settings: Settings,
) -> Any:
    async def create(session: Any) -> tuple[dict[str, Any], str]:
        job_seeker = await register_job_seeker(session, body.to_input(), principal)
        out = job_seeker_out(job_seeker, settings.publics_rules)
        return out, f"/v1/job-seekers/{job_seeker.id}"

    return await create_idempotently(runtime, principal, idempotency_key, request, body, create)


@router.get(
    "/job-seekers", response_model=Page[JobSeekerOut], summary="Rechercher des demandeurs d'emploi"
)
async def list_job_seekers(
    principal: CounsellorOrOps,
    request: Request,
    runtime: Runtime,
    settings: Settings,
    ft_identifier: Annotated[str | None, Query(pattern=FT_IDENTIFIER_PATTERN)] = None,
    last_name: Annotated[str | None, Query(min_length=1)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query()] = None,
) -> dict[str, object]:
    if ft_identifier is not None or last_name is not None:
        # A search tells whether someone is known: a login-like probe (issue 10, item 11).
        await limit_probes(request, principal)
    async with runtime.database.transaction() as session:
        page = await queries.list_job_seekers(
            session,
            principal,
            ft_identifier=ft_identifier,
            last_name=last_name,
            cursor=cursor,
            limit=limit,
        )
        return page.map(lambda row: job_seeker_out(row, settings.publics_rules))


@router.get("/job-seekers/{job_seeker_id}", response_model=JobSeekerOut)
async def get_job_seeker(
    job_seeker_id: uuid.UUID, principal: CounsellorOrOps, runtime: Runtime, settings: Settings
) -> dict[str, Any]:
    async with runtime.database.transaction() as session:
        job_seeker, view = await queries.get_job_seeker(session, principal, job_seeker_id)
        return job_seeker_out(job_seeker, settings.publics_rules, view)


@router.patch("/job-seekers/{job_seeker_id}", response_model=JobSeekerOut)
async def update_job_seeker(
    job_seeker_id: uuid.UUID,
    body: JobSeekerPatch,
    principal: CounsellorOrOps,
    runtime: Runtime,
    settings: Settings,
) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True, exclude={"change_reason"})
    command = UpdateJobSeeker(job_seeker_id, changes, reason=body.change_reason)
    async with runtime.database.transaction() as session:
        job_seeker = await change_job_seeker(session, command, principal)
        return job_seeker_out(job_seeker, settings.publics_rules)


@router.post(
    "/job-seekers/{job_seeker_id}/shares",
    status_code=201,
    response_model=ShareOut,
    summary="Partager un demandeur d'emploi avec une autre structure (prise en charge)",
)
async def create_share(
    job_seeker_id: uuid.UUID,
    body: ShareIn,
    principal: CounsellorOrOps,
    idempotency_key: IdempotencyKey,
    request: Request,
    runtime: Runtime,
) -> Any:
    command = ShareJobSeeker(
        job_seeker_id, body.organisation_kind, body.organisation_code, body.reason
    )

    async def create(session: Any) -> tuple[dict[str, Any], str]:
        share = await share_job_seeker(session, command, principal)
        return share_out(share), f"/v1/job-seekers/{job_seeker_id}/shares/{share.id}"

    return await create_idempotently(runtime, principal, idempotency_key, request, body, create)


@router.post(
    "/job-seekers/{job_seeker_id}/shares/{share_id}/revoke",
    response_model=ShareOut,
    summary="Retirer un partage (la structure ne voit plus la fiche qu'en masqué)",
)
async def revoke_share(
    job_seeker_id: uuid.UUID,
    share_id: uuid.UUID,
    principal: CounsellorOrOps,
    runtime: Runtime,
    body: RevokeShareIn | None = None,
) -> dict[str, Any]:
    command = RevokeShare(job_seeker_id, share_id, body.reason if body else None)
    async with runtime.database.transaction() as session:
        return share_out(await take_back_share(session, command, principal))

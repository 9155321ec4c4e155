"""Job seekers (France Travail side, minimal; never a NIR) and their consent records."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, EmailStr, Field

from referral.api.deps import (
    Counsellor,
    CounsellorOrOps,
    Runtime,
    Settings,
)
from referral.api.referrals import DEPARTEMENT_PATTERN, FT_IDENTIFIER_PATTERN, JobSeekerIn
from referral.models import JobSeeker
from referral.use_cases import queries
from referral.use_cases.job_seekers import (
    UpdateJobSeeker,
    publics_of,
    register_job_seeker,
)
from referral.use_cases.job_seekers import update_job_seeker as change_job_seeker
from shared.http.idempotency import IdempotencyKey, create_idempotently
from shared.http.pagination import Page
from shared.privacy import PhoneNumber

router = APIRouter(prefix="/v1", tags=["job seekers"])


class JobSeekerOut(BaseModel):
    id: uuid.UUID
    ft_identifier: str
    first_name: str
    last_name: str
    email: str | None
    phone: str | None
    birth_date: date | None
    departement: str | None
    rqth: bool
    brsa: bool
    deld: bool
    qpv: bool
    priority_publics: list[str] = Field(description="Jeune et senior calculés à la date du jour.")
    structure_code: str | None
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


def job_seeker_out(job_seeker: JobSeeker, senior_age: int) -> dict[str, Any]:
    publics = publics_of(job_seeker, datetime.now(UTC).date(), senior_age)
    return JobSeekerOut(
        id=job_seeker.id,
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
        created_at=job_seeker.created_at,
    ).model_dump(mode="json")


@router.post(
    "/job-seekers",
    status_code=201,
    response_model=JobSeekerOut,
    summary="Enregistrer un demandeur d'emploi",
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
        return job_seeker_out(job_seeker, settings.senior_age), f"/v1/job-seekers/{job_seeker.id}"

    return await create_idempotently(runtime, principal, idempotency_key, request, body, create)


@router.get(
    "/job-seekers", response_model=Page[JobSeekerOut], summary="Rechercher des demandeurs d'emploi"
)
async def list_job_seekers(
    principal: CounsellorOrOps,
    runtime: Runtime,
    settings: Settings,
    ft_identifier: Annotated[str | None, Query(pattern=FT_IDENTIFIER_PATTERN)] = None,
    last_name: Annotated[str | None, Query(min_length=1)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query()] = None,
) -> dict[str, object]:
    async with runtime.session() as session:
        page = await queries.list_job_seekers(
            session,
            principal,
            ft_identifier=ft_identifier,
            last_name=last_name,
            cursor=cursor,
            limit=limit,
        )
    return page.map(lambda row: job_seeker_out(row, settings.senior_age))


@router.get("/job-seekers/{job_seeker_id}", response_model=JobSeekerOut)
async def get_job_seeker(
    job_seeker_id: uuid.UUID, principal: CounsellorOrOps, runtime: Runtime, settings: Settings
) -> dict[str, Any]:
    async with runtime.session() as session:
        job_seeker = await queries.get_job_seeker(session, principal, job_seeker_id)
    return job_seeker_out(job_seeker, settings.senior_age)


@router.patch("/job-seekers/{job_seeker_id}", response_model=JobSeekerOut)
async def update_job_seeker(
    job_seeker_id: uuid.UUID,
    body: JobSeekerPatch,
    principal: Counsellor,
    runtime: Runtime,
    settings: Settings,
) -> dict[str, Any]:
    command = UpdateJobSeeker(job_seeker_id, body.model_dump(exclude_unset=True))
    async with runtime.database.transaction() as session:
        job_seeker = await change_job_seeker(session, command, principal)
        return job_seeker_out(job_seeker, settings.senior_age)

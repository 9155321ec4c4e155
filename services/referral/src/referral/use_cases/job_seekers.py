"""Job seekers (France Travail side, minimal; never a NIR) and their consents to share with an
agency: register, update, record and withdraw a consent."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from referral import access
from referral.domain import PriorityPublic, priority_publics
from referral.domain.errors import JobSeekerExists
from referral.models import JobSeeker
from referral.use_cases.common import not_found, region_of
from shared.auth.tokens import Principal


@dataclass(frozen=True, slots=True)
class JobSeekerInput:
    ft_identifier: str
    first_name: str
    last_name: str
    email: str | None = None
    departement: str | None = None
    phone: str | None = None
    birth_date: date | None = None
    rqth: bool | None = None
    brsa: bool | None = None
    deld: bool | None = None
    qpv: bool | None = None


@dataclass(frozen=True, slots=True)
class UpdateJobSeeker:
    job_seeker_id: uuid.UUID
    #: The fields the caller sent, with their new value.
    changes: Mapping[str, Any]


_JOB_SEEKER_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "departement",
    "phone",
    "birth_date",
    "rqth",
    "brsa",
    "deld",
    "qpv",
)
_FLAGS = {"rqth", "brsa", "deld", "qpv"}
#: Never erased by a null in an update.
_KEPT_ON_NULL = {"first_name", "last_name", *_FLAGS}


def publics_of(job_seeker: JobSeeker, on: date, senior_age: int) -> frozenset[PriorityPublic]:
    return priority_publics(
        birth_date=job_seeker.birth_date,
        on=on,
        rqth=job_seeker.rqth,
        brsa=job_seeker.brsa,
        deld=job_seeker.deld,
        qpv=job_seeker.qpv,
        senior_age=senior_age,
    )


async def upsert_job_seeker(
    session: AsyncSession,
    data: JobSeekerInput,
    counsellor: Principal,
    *,
    provided: Iterable[str] | None = None,
) -> tuple[JobSeeker, bool]:
    """Create the job seeker's record or update it by France Travail identifier; ``provided``
    limits the update to the fields the caller sent (an absent flag is not a "no")."""
    if data.departement is not None:
        region_of(data.departement, "job_seeker.departement")
    now = datetime.now(UTC)
    job_seeker = await session.scalar(
        select(JobSeeker).where(JobSeeker.ft_identifier == data.ft_identifier)
    )
    created = job_seeker is None
    if job_seeker is None:
        job_seeker = JobSeeker(
            id=uuid.uuid4(),
            ft_identifier=data.ft_identifier,
            structure_code=counsellor.ft_structure,
            created_at=now,
            rqth=False,
            brsa=False,
            deld=False,
            qpv=False,
        )
        session.add(job_seeker)
    elif not access.may_change_job_seeker(counsellor, job_seeker):
        raise not_found(f"Demandeur d'emploi {job_seeker.id}")
    fields = set(provided) if provided is not None else set(_JOB_SEEKER_FIELDS)
    for name in _JOB_SEEKER_FIELDS:
        value = getattr(data, name)
        if name in fields and not (value is None and name in _FLAGS):
            setattr(job_seeker, name, value)
    job_seeker.updated_at = now
    await session.flush()
    return job_seeker, created


async def register_job_seeker(
    session: AsyncSession, data: JobSeekerInput, counsellor: Principal
) -> JobSeeker:
    """A new record; a France Travail identifier already registered is a conflict."""
    existing = await session.scalar(
        select(JobSeeker.id).where(JobSeeker.ft_identifier == data.ft_identifier)
    )
    if existing is not None:
        raise JobSeekerExists(
            f"L'identifiant France Travail {data.ft_identifier} est déjà enregistré.",
            extra={"existing_job_seeker_id": str(existing)},
        )
    job_seeker, _ = await upsert_job_seeker(session, data, counsellor)
    return job_seeker


async def update_job_seeker(
    session: AsyncSession, command: UpdateJobSeeker, counsellor: Principal
) -> JobSeeker:
    job_seeker = await session.get(JobSeeker, command.job_seeker_id, with_for_update=True)
    if job_seeker is None or not access.may_change_job_seeker(counsellor, job_seeker):
        raise not_found(f"Demandeur d'emploi {command.job_seeker_id}")
    changes = command.changes
    if changes.get("departement") is not None:
        region_of(changes["departement"])
    for name, value in changes.items():
        if value is None and name in _KEPT_ON_NULL:
            continue
        setattr(job_seeker, name, value)
    job_seeker.updated_at = datetime.now(UTC)
    return job_seeker

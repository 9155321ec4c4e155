"""Archive of inactive records (issue 11, item 5; les emplois de l'inclusion's rule): a job seeker
with no open referral and no activity for ``inactive`` (2 years) gets a notice to the owning
structure (``job_seeker.archive_noticed``); ``notice`` (30 days) later, still inactive, the record
is anonymised through the erasure flow (every service, every network), the referrals keeping the
anonymised facts the indicators read. Activity after the notice cancels it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from referral.domain import OPEN_STATUSES
from referral.models import OUTBOX, ArchiveNotice, ErasureRequest, JobSeeker, Referral
from referral.use_cases.erasure import RequestErasure, request_erasure
from shared.auth.tokens import Principal, Role
from shared.contracts.erasure import JobSeekerArchiveNoticed

#: The platform itself, anonymising after the notice.
ARCHIVIST = Principal(subject="system:archive", role=Role.OPS)
ARCHIVE_REASON = "Archivage : fiche inactive depuis 2 ans, après préavis à la structure"


@dataclass(frozen=True, slots=True)
class ArchiveInactive:
    now: datetime
    inactive: timedelta
    notice: timedelta
    batch_size: int = 100


@dataclass(frozen=True, slots=True)
class ArchivePass:
    noticed: list[uuid.UUID]
    anonymised: list[uuid.UUID]
    cancelled: list[uuid.UUID]


async def _last_activity(session: AsyncSession, job_seeker: JobSeeker) -> datetime:
    latest = await session.scalar(
        select(func.max(Referral.updated_at)).where(Referral.job_seeker_id == job_seeker.id)
    )
    own = job_seeker.updated_at or job_seeker.created_at
    return max(own, latest) if latest is not None else own


async def archive_inactive(session: AsyncSession, command: ArchiveInactive) -> ArchivePass:
    """One pass in the caller's transaction."""
    cutoff = command.now - command.inactive
    has_open = (
        select(Referral.id)
        .where(
            Referral.job_seeker_id == JobSeeker.id,
            Referral.status.in_([s.value for s in OPEN_STATUSES]),
        )
        .exists()
    )
    erased = select(ErasureRequest.id).where(ErasureRequest.job_seeker_id == JobSeeker.id).exists()
    candidates = list(
        await session.scalars(
            select(JobSeeker)
            .where(
                func.coalesce(JobSeeker.updated_at, JobSeeker.created_at) < cutoff,
                ~has_open,
                ~erased,
            )
            .limit(command.batch_size)
        )
    )
    noticed, anonymised = [], []
    for job_seeker in candidates:
        inactive_since = await _last_activity(session, job_seeker)
        if inactive_since >= cutoff:
            continue
        notice = await session.get(ArchiveNotice, job_seeker.id)
        if notice is None:
            session.add(
                ArchiveNotice(
                    job_seeker_id=job_seeker.id,
                    structure_code=job_seeker.structure_code,
                    inactive_since=inactive_since,
                    noticed_at=command.now,
                )
            )
            await OUTBOX.stage(
                session,
                JobSeekerArchiveNoticed(
                    job_seeker_id=job_seeker.id,
                    structure_code=job_seeker.structure_code,
                    inactive_since=inactive_since,
                    archive_on=command.now + command.notice,
                ),
                subject=f"job-seekers/{job_seeker.id}",
                occurred_at=command.now,
            )
            noticed.append(job_seeker.id)
        elif notice.noticed_at <= command.now - command.notice:
            await request_erasure(session, RequestErasure(job_seeker.id, ARCHIVE_REASON), ARCHIVIST)
            anonymised.append(job_seeker.id)
    cancelled = await _cancel_resumed(session)
    return ArchivePass(noticed, anonymised, cancelled)


async def _cancel_resumed(session: AsyncSession) -> list[uuid.UUID]:
    """Notices whose record came back to life (an update or a referral after the notice)."""
    cancelled = []
    for notice in list(await session.scalars(select(ArchiveNotice))):
        job_seeker = await session.get(JobSeeker, notice.job_seeker_id)
        if job_seeker is None:
            continue
        if await _last_activity(session, job_seeker) > notice.noticed_at:
            await session.delete(notice)
            cancelled.append(notice.job_seeker_id)
    return cancelled

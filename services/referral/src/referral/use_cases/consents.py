"""Consents of a job seeker to share with an agency: record, withdraw, and what is currently
consented."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from referral import access
from referral.domain import ConsentScope
from referral.models import Agency, Consent, JobSeeker
from referral.use_cases.common import invalid, not_found
from shared.auth.tokens import Principal


@dataclass(frozen=True, slots=True)
class RecordConsent:
    job_seeker_id: uuid.UUID
    agency_id: str
    scope: ConsentScope
    granted_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class WithdrawConsent:
    job_seeker_id: uuid.UUID
    consent_id: uuid.UUID


async def record_consent(
    session: AsyncSession, command: RecordConsent, counsellor: Principal
) -> Consent:
    job_seeker = await session.get(JobSeeker, command.job_seeker_id)
    if job_seeker is None or not access.may_record_consent(counsellor, job_seeker):
        raise not_found(f"Demandeur d'emploi {command.job_seeker_id}")
    if await session.get(Agency, command.agency_id) is None:
        raise invalid("agency_id", "agence inconnue", f"Agence {command.agency_id} inconnue.")
    consent = Consent(
        id=uuid.uuid4(),
        job_seeker_id=command.job_seeker_id,
        agency_id=command.agency_id,
        scope=command.scope.value,
        granted_at=command.granted_at or datetime.now(UTC),
        recorded_by=counsellor.subject,
        structure_code=counsellor.ft_structure,
    )
    session.add(consent)
    await session.flush()
    return consent


async def withdraw_consent(
    session: AsyncSession, command: WithdrawConsent, who: Principal
) -> Consent:
    consent = await session.get(Consent, command.consent_id, with_for_update=True)
    if consent is None or consent.job_seeker_id != command.job_seeker_id:
        raise not_found(f"Consentement {command.consent_id}")
    job_seeker = await session.get(JobSeeker, consent.job_seeker_id)
    if job_seeker is None or not access.may_record_consent(who, job_seeker):
        raise not_found(f"Consentement {command.consent_id}")
    if consent.withdrawn_at is None:
        consent.withdrawn_at = datetime.now(UTC)
        consent.withdrawn_by = who.subject
    return consent


async def consented_scopes(
    session: AsyncSession, job_seeker_id: uuid.UUID, agency_id: str
) -> set[ConsentScope]:
    """What the job seeker currently agrees to share with the agency."""
    rows = await session.scalars(
        select(Consent.scope).where(
            Consent.job_seeker_id == job_seeker_id,
            Consent.agency_id == agency_id,
            Consent.withdrawn_at.is_(None),
        )
    )
    return {ConsentScope(scope) for scope in rows}

"""What the referral service does, as the business says it. Each use case works inside the
caller's transaction: the change, its transition log and its outbox events commit together."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from referral.domain import Action, Actor, ReferralStatus, TransitionNotAllowed, apply
from referral.models import PLATFORM, Agency, JobSeeker, Referral, ReferralTransition
from referral.referentials import rome_codes
from shared.auth.tokens import Principal
from shared.contracts.referral import ReferralSent
from shared.http.problems import FieldError, ProblemError
from shared.messaging.consumer import PermanentError
from shared.messaging.outbox import add_event


@dataclass(frozen=True, slots=True)
class JobSeekerInput:
    ft_identifier: str
    first_name: str
    last_name: str
    email: str | None
    departement: str | None


@dataclass(frozen=True, slots=True)
class SendReferral:
    job_seeker: JobSeekerInput
    agency_id: str
    rome_code: str
    message: str


async def send_referral(
    session: AsyncSession, command: SendReferral, counsellor: Principal, *, source: str
) -> Referral:
    if command.rome_code not in rome_codes():
        raise ProblemError(
            422,
            "Requête invalide",
            f"Code ROME {command.rome_code} inconnu du référentiel ROME 4.0.",
            problem="validation-error",
            errors=[FieldError("rome_code", "code ROME inconnu")],
        )
    agency = await session.get(Agency, command.agency_id)
    if agency is None:
        raise ProblemError(
            422,
            "Requête invalide",
            f"Agence {command.agency_id} inconnue.",
            problem="validation-error",
            errors=[FieldError("agency_id", "agence inconnue")],
        )
    now = datetime.now(UTC)
    job_seeker = await _upsert_job_seeker(session, command.job_seeker, now)
    status = apply(None, Action.SEND, Actor.COUNSELLOR)
    referral = Referral(
        id=uuid.uuid4(),
        job_seeker_id=job_seeker.id,
        agency_id=agency.id,
        network_id=agency.network_id,
        rome_code=command.rome_code,
        message=command.message,
        status=status.value,
        counsellor_id=counsellor.subject,
        structure_code=counsellor.ft_structure,
        created_at=now,
        updated_at=now,
    )
    session.add(referral)
    session.add(
        ReferralTransition(
            referral_id=referral.id,
            from_status=None,
            to_status=status.value,
            action=Action.SEND.value,
            actor=Actor.COUNSELLOR.value,
            actor_id=counsellor.subject,
            comment=command.message,
            occurred_at=now,
            recorded_at=now,
        )
    )
    await session.flush()
    await add_event(
        session,
        PLATFORM,
        ReferralSent(
            referral_id=referral.id,
            job_seeker_id=job_seeker.id,
            agency_id=agency.id,
            network_id=agency.network_id,
            rome_code=referral.rome_code,
            departement=agency.departement,
            counsellor_id=counsellor.subject,
            structure_code=counsellor.ft_structure,
            sent_at=now,
        ),
        source=source,
        subject=f"referrals/{referral.id}",
        occurred_at=now,
    )
    return referral


async def _upsert_job_seeker(
    session: AsyncSession, data: JobSeekerInput, now: datetime
) -> JobSeeker:
    job_seeker = await session.scalar(
        select(JobSeeker).where(JobSeeker.ft_identifier == data.ft_identifier)
    )
    if job_seeker is None:
        job_seeker = JobSeeker(id=uuid.uuid4(), ft_identifier=data.ft_identifier, created_at=now)
        session.add(job_seeker)
    job_seeker.first_name = data.first_name
    job_seeker.last_name = data.last_name
    job_seeker.email = data.email
    job_seeker.departement = data.departement
    await session.flush()
    return job_seeker


async def apply_agency_response(
    session: AsyncSession,
    *,
    referral_id: uuid.UUID,
    agency_id: str,
    action: Action,
    occurred_at: datetime,
    comment: str | None,
    event_id: str,
) -> Referral:
    """Apply an agency's answer, or raise :class:`PermanentError` (dead-letter) saying why."""
    referral = await session.scalar(
        select(Referral).where(Referral.id == referral_id).with_for_update()
    )
    if referral is None:
        raise PermanentError(f"unknown referral {referral_id}")
    if referral.agency_id != agency_id:
        raise PermanentError(f"referral {referral_id} is not addressed to agency {agency_id}")
    current = ReferralStatus(referral.status)
    try:
        target = apply(current, action, Actor.AGENCY)
    except TransitionNotAllowed as exc:
        raise PermanentError(str(exc)) from exc
    now = datetime.now(UTC)
    referral.status = target.value
    referral.updated_at = now
    session.add(
        ReferralTransition(
            referral_id=referral.id,
            from_status=current.value,
            to_status=target.value,
            action=action.value,
            actor=Actor.AGENCY.value,
            actor_id=agency_id,
            comment=comment,
            occurred_at=occurred_at,
            recorded_at=now,
            event_id=event_id,
        )
    )
    return referral

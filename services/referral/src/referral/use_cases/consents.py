"""Consents of a job seeker (issue 11): identity to one agency for one referral, RQTH to one agency
for one referral (only with identity, explicit each time), contact by the platform. Record one
(before sending, it waits for the next referral to that agency; after sending, for a referral,
it shares the identity then: ``candidate_identity_shared``), withdraw one (the agency is told to
delete what it holds: ``candidate_identity_withdrawn``). The evidence is the server's: its time,
the caller, the channel, the version of the text read."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from referral import access
from referral.domain import ConsentScope
from referral.domain.consent import AGENCY_SCOPES, ConsentChannel, text_version
from referral.models import OUTBOX, Agency, Consent, JobSeeker, Referral
from referral.use_cases.common import invalid, not_found, publish_to_network
from shared.auth.tokens import Principal
from shared.contracts.agency_feed import Candidate
from shared.contracts.erasure import CandidateIdentityShared, CandidateIdentityWithdrawn
from shared.contracts.job_seeker_contact import (
    JobSeekerContactConsented,
    JobSeekerContactWithdrawn,
)
from shared.contracts.referral import ReferralStatus


@dataclass(frozen=True, slots=True)
class RecordConsent:
    job_seeker_id: uuid.UUID
    agency_id: str | None
    scope: ConsentScope
    channel: ConsentChannel = ConsentChannel.IN_PERSON
    #: For a referral already sent (identity shared after sending).
    referral_id: uuid.UUID | None = None


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
    referral = await _referral_of(session, command, job_seeker)
    agency_id = referral.agency_id if referral is not None else command.agency_id
    if command.scope in AGENCY_SCOPES:
        if agency_id is None:
            raise invalid("agency_id", "Field required", "L'agence destinataire est obligatoire.")
        if await session.get(Agency, agency_id) is None:
            raise invalid("agency_id", "agence inconnue", f"Agence {agency_id} inconnue.")
    elif agency_id is not None or referral is not None:
        raise invalid(
            "agency_id",
            "sans objet pour ce consentement",
            "Le consentement à être contacté est donné à la plateforme, pas à une agence.",
        )
    now = datetime.now(UTC)
    consent = Consent(
        id=uuid.uuid4(),
        job_seeker_id=command.job_seeker_id,
        agency_id=agency_id,
        scope=command.scope.value,
        granted_at=now,
        recorded_by=counsellor.subject,
        structure_code=counsellor.organisation,
        referral_id=referral.id if referral is not None else None,
        channel=command.channel.value,
        text_version=text_version(command.scope),
    )
    session.add(consent)
    await session.flush()
    if referral is not None:
        await _share_after_sending(session, referral, job_seeker, command.scope, now)
    if command.scope is ConsentScope.CONTACT:
        # The notifications service may now reach them, at this address only (issue 12).
        await OUTBOX.stage(
            session,
            JobSeekerContactConsented(
                job_seeker_id=job_seeker.id,
                first_name=job_seeker.first_name,
                last_name=job_seeker.last_name,
                email=job_seeker.email,
                phone=job_seeker.phone,
                consented_at=now,
            ),
            subject=f"job_seekers/{job_seeker.id}",
            occurred_at=now,
        )
    return consent


async def _referral_of(
    session: AsyncSession, command: RecordConsent, job_seeker: JobSeeker
) -> Referral | None:
    if command.referral_id is None:
        return None
    referral = await session.get(Referral, command.referral_id, with_for_update=True)
    if referral is None or referral.job_seeker_id != job_seeker.id:
        raise invalid(
            "referral_id", "orientation inconnue", f"Orientation {command.referral_id} inconnue."
        )
    if command.agency_id is not None and command.agency_id != referral.agency_id:
        raise invalid(
            "agency_id",
            "pas l'agence de l'orientation",
            "L'orientation est adressée à une autre agence.",
        )
    if ReferralStatus(referral.status).is_ended:
        raise invalid(
            "referral_id",
            "orientation terminée",
            "L'orientation est terminée : plus rien ne lui est transmis.",
        )
    return referral


async def _share_after_sending(
    session: AsyncSession,
    referral: Referral,
    job_seeker: JobSeeker,
    scope: ConsentScope,
    now: datetime,
) -> None:
    """Identity (and RQTH with it) shared with the agency of a referral already sent."""
    if scope is ConsentScope.RQTH:
        if not referral.identity_shared:
            raise invalid(
                "scope",
                "RQTH sans identité",
                "La RQTH ne se transmet qu'avec l'identité : recueillez d'abord le consentement"
                " au partage de l'identité pour cette orientation.",
            )
        if not job_seeker.rqth:
            raise invalid(
                "scope", "pas de RQTH enregistrée", "Le demandeur d'emploi n'a pas de RQTH."
            )
        if referral.rqth_shared:
            return
        referral.rqth_shared = True
    elif referral.identity_shared:
        return
    else:
        referral.identity_shared = True
    referral.updated_at = now
    await publish_to_network(
        session,
        CandidateIdentityShared(
            referral_id=referral.id,
            agency_id=referral.agency_id,
            network_id=referral.network_id,
            candidate=candidate_of(job_seeker, with_rqth=referral.rqth_shared),
            shared_at=now,
        ),
        referral,
        now,
    )


def candidate_of(job_seeker: JobSeeker, *, with_rqth: bool) -> Candidate:
    return Candidate(
        ft_identifier=job_seeker.ft_identifier,
        first_name=job_seeker.first_name,
        last_name=job_seeker.last_name,
        email=job_seeker.email,
        phone=job_seeker.phone,
        rqth=job_seeker.rqth if with_rqth else None,
    )


async def withdraw_consent(
    session: AsyncSession, command: WithdrawConsent, who: Principal
) -> Consent:
    consent = await session.get(Consent, command.consent_id, with_for_update=True)
    if consent is None or consent.job_seeker_id != command.job_seeker_id:
        raise not_found(f"Consentement {command.consent_id}")
    job_seeker = await session.get(JobSeeker, consent.job_seeker_id)
    if job_seeker is None or not access.may_record_consent(who, job_seeker):
        raise not_found(f"Consentement {command.consent_id}")
    await withdraw(session, consent, who.subject)
    return consent


async def withdraw(session: AsyncSession, consent: Consent, by: str) -> None:
    """Withdraw (once) and tell the agency of the referral that took the consent."""
    if consent.withdrawn_at is None:
        now = datetime.now(UTC)
        consent.withdrawn_at = now
        consent.withdrawn_by = by
        if consent.referral_id is not None:
            await _tell_agency_withdrawn(session, consent, now)
        if consent.scope == ConsentScope.CONTACT:
            await OUTBOX.stage(
                session,
                JobSeekerContactWithdrawn(job_seeker_id=consent.job_seeker_id, withdrawn_at=now),
                subject=f"job_seekers/{consent.job_seeker_id}",
                occurred_at=now,
            )


async def _tell_agency_withdrawn(session: AsyncSession, consent: Consent, now: datetime) -> None:
    """The agency must delete what it holds: identity (and so RQTH), or RQTH alone."""
    referral = await session.get(Referral, consent.referral_id, with_for_update=True)
    if referral is None:
        return
    withdrawn: list[str] = []
    if consent.scope == ConsentScope.IDENTITY and referral.identity_shared:
        withdrawn = [ConsentScope.IDENTITY.value]
        if referral.rqth_shared:
            withdrawn.append(ConsentScope.RQTH.value)
        referral.identity_shared = False
        referral.rqth_shared = False
    elif consent.scope == ConsentScope.RQTH and referral.rqth_shared:
        withdrawn = [ConsentScope.RQTH.value]
        referral.rqth_shared = False
    if not withdrawn:
        return
    referral.updated_at = now
    await publish_to_network(
        session,
        CandidateIdentityWithdrawn(
            referral_id=referral.id,
            agency_id=referral.agency_id,
            network_id=referral.network_id,
            withdrawn=withdrawn,
            withdrawn_at=now,
        ),
        referral,
        now,
    )


async def consented_scopes(
    session: AsyncSession, job_seeker_id: uuid.UUID, agency_id: str
) -> set[ConsentScope]:
    """What the job seeker currently agrees to share with the agency for their next referral
    (consents not yet taken by a referral, not withdrawn)."""
    return set(await pending_consents(session, job_seeker_id, agency_id))


async def pending_consents(
    session: AsyncSession, job_seeker_id: uuid.UUID, agency_id: str
) -> dict[ConsentScope, Consent]:
    rows = await session.scalars(
        select(Consent)
        .where(
            Consent.job_seeker_id == job_seeker_id,
            Consent.agency_id == agency_id,
            Consent.referral_id.is_(None),
            Consent.withdrawn_at.is_(None),
        )
        .order_by(Consent.granted_at)
    )
    return {ConsentScope(c.scope): c for c in rows}


async def bind_consents(
    session: AsyncSession, referral: Referral, *, identity: bool, rqth: bool
) -> None:
    """The referral takes the consents it uses: they serve it alone (explicit each time)."""
    pending = await pending_consents(session, referral.job_seeker_id, referral.agency_id)
    take_consents(pending, referral, identity=identity, rqth=rqth)


def take_consents(
    pending: dict[ConsentScope, Consent], referral: Referral, *, identity: bool, rqth: bool
) -> None:
    """:func:`bind_consents` with the pending consents already loaded
    (:func:`pending_consents`)."""
    for scope, used in ((ConsentScope.IDENTITY, identity), (ConsentScope.RQTH, rqth)):
        if used and scope in pending:
            pending[scope].referral_id = referral.id

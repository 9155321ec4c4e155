"""Erasure of a job seeker (issue 11, GDPR art. 17): the DPO's request (ops, with a reason) erases
or pseudonymises what this service holds, publishes ``job_seeker.erasure_requested`` for the other
services, and sends an erasure instruction on the feed of every network that ever received the
person; each service answers with its report, and the request completes when all have.

Kept: the referral rows' anonymised facts (territory, trade, priority publics snapshot, dates,
outcome) that the indicators read, so past figures do not change, and the agents' identifiers on
them (``counsellor_id``, the transitions' ``actor_id``, the job datings' ``invited_by``…): they
name the professional who acted, not the person erased (accountability, GDPR art. 5(2)). The
same path anonymises a record after the 2-year archive (``use_cases/archive.py``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from referral.models import (
    OUTBOX,
    PLATFORM,
    ArchiveNotice,
    Consent,
    ErasureReport,
    ErasureRequest,
    JobSeeker,
    JobSeekerShare,
    Referral,
    ReferralSchemeEvent,
    ReferralTransition,
)
from referral.use_cases.common import not_found
from shared.auth.tokens import Principal, Role
from shared.contracts.erasure import (
    AgencyErasureInstruction,
    ErasureCompleted,
    JobSeekerErasureRequested,
)
from shared.contracts.topics import agency_feed
from shared.domain.errors import Conflict, Forbidden
from shared.privacy import raise_if_sensitive
from shared.privacy.erasure import Erased, erase_platform_copies

SERVICE = "referral"
#: The services whose report completes a request.
SERVICES = ("referral", "dispositifs", "notifications")
ERASED_NAME = "(effacé)"
ERASED_TEXT = "(effacé à la demande de la personne)"
#: A timeline label names the host (an individual entrepreneur possibly) and quotes reasons and
#: justifications: at erasure only the step's kind (scheme, event type, hire) stays.
SCHEME_EVENT_ERASED_LABEL = "Étape d'un dispositif (détail effacé)"


@dataclass(frozen=True, slots=True)
class RequestErasure:
    job_seeker_id: uuid.UUID
    reason: str


async def request_erasure(
    session: AsyncSession, command: RequestErasure, caller: Principal
) -> ErasureRequest:
    if caller.role is not Role.OPS:
        raise Forbidden("Seul le délégué à la protection des données (ops) demande un effacement.")
    raise_if_sensitive({"reason": command.reason})
    job_seeker = await session.get(JobSeeker, command.job_seeker_id, with_for_update=True)
    if job_seeker is None:
        raise not_found(f"Demandeur d'emploi {command.job_seeker_id}")
    existing = await session.scalar(
        select(ErasureRequest.id).where(ErasureRequest.job_seeker_id == job_seeker.id)
    )
    if existing is not None:
        raise Conflict(
            "L'effacement de ce demandeur d'emploi est déjà demandé.",
            code="erasure-already-requested",
            extra={"erasure_id": str(existing)},
        )
    referrals = list(
        await session.scalars(select(Referral).where(Referral.job_seeker_id == job_seeker.id))
    )
    now = datetime.now(UTC)
    report = await _erase_here(session, job_seeker, referrals)
    networks = sorted({r.network_id for r in referrals})
    request = ErasureRequest(
        id=uuid.uuid4(),
        job_seeker_id=job_seeker.id,
        reason=command.reason,
        requested_by=caller.subject,
        requested_at=now,
        networks=networks,
    )
    session.add(request)
    await session.flush()
    session.add(
        ErasureReport(
            request_id=request.id,
            service=SERVICE,
            report=[line.as_dict() for line in report],
            completed_at=now,
            received_at=now,
        )
    )
    referral_ids = [r.id for r in referrals]
    await OUTBOX.stage(
        session,
        JobSeekerErasureRequested(
            erasure_id=request.id,
            job_seeker_id=job_seeker.id,
            referral_ids=referral_ids,
            requested_at=now,
        ),
        subject=f"erasures/{request.id}",
        occurred_at=now,
    )
    for network_id in networks:
        await OUTBOX.stage(
            session,
            AgencyErasureInstruction(
                erasure_id=request.id,
                network_id=network_id,
                referral_ids=[r.id for r in referrals if r.network_id == network_id],
                requested_at=now,
            ),
            subject=f"erasures/{request.id}",
            topic=agency_feed(network_id).name,
            occurred_at=now,
        )
    await session.flush()
    return request


async def _erase_here(
    session: AsyncSession, job_seeker: JobSeeker, referrals: list[Referral]
) -> list[Erased]:
    ids = [r.id for r in referrals]
    personal = [
        job_seeker.ft_identifier,
        job_seeker.first_name,
        job_seeker.last_name,
        job_seeker.email or "",
        job_seeker.phone or "",
    ]
    identifiers = [str(job_seeker.id), *(str(i) for i in ids)]
    report = await erase_platform_copies(session, PLATFORM, identifiers, personal)
    consents = await session.execute(delete(Consent).where(Consent.job_seeker_id == job_seeker.id))
    report.append(Erased("consents", _count(consents)))
    notices = await session.execute(
        delete(ArchiveNotice).where(ArchiveNotice.job_seeker_id == job_seeker.id)
    )
    report.append(Erased("archive_notices", _count(notices)))
    # A share lets another organisation act on the record (with its author and free-text reason):
    # a pseudonymised record has nothing left to act on.
    shares = await session.execute(
        delete(JobSeekerShare).where(JobSeekerShare.job_seeker_id == job_seeker.id)
    )
    report.append(Erased("job_seeker_shares", _count(shares)))
    for referral in referrals:
        referral.message = ERASED_TEXT
        referral.identity_shared = False
        referral.rqth_shared = False
    report.append(Erased("referrals", len(referrals), "pseudonymised"))
    if ids:
        transitions = await session.execute(
            update(ReferralTransition)
            .where(ReferralTransition.referral_id.in_(ids))
            .values(comment=None, details=None, reason=None)
        )
        report.append(Erased("referral_transitions", _count(transitions), "erased"))
        scheme = await session.execute(
            update(ReferralSchemeEvent)
            .where(ReferralSchemeEvent.referral_id.in_(ids))
            .values(data={}, label=SCHEME_EVENT_ERASED_LABEL)
        )
        report.append(Erased("referral_scheme_events", _count(scheme), "erased"))
    _pseudonymise(job_seeker)
    report.append(Erased("job_seekers", 1, "pseudonymised"))
    return report


def _pseudonymise(job_seeker: JobSeeker) -> None:
    job_seeker.ft_identifier = "X" + uuid.uuid4().hex[:10].upper()
    job_seeker.first_name = ERASED_NAME
    job_seeker.last_name = ERASED_NAME
    job_seeker.email = None
    job_seeker.phone = None
    job_seeker.birth_date = None
    job_seeker.ft_registration_date = None
    job_seeker.rqth = job_seeker.brsa = job_seeker.deld = job_seeker.qpv = False
    job_seeker.updated_at = datetime.now(UTC)


def _count(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


# -- the other services' answers -----------------------------------------------------------------


async def record_erasure_report(session: AsyncSession, data: ErasureCompleted) -> None:
    request = await session.get(ErasureRequest, data.erasure_id, with_for_update=True)
    if request is None:
        raise not_found(f"Demande d'effacement {data.erasure_id}")
    now = datetime.now(UTC)
    report = await session.get(ErasureReport, (request.id, data.service))
    lines = [line.model_dump() for line in data.report]
    if report is None:
        session.add(
            ErasureReport(
                request_id=request.id,
                service=data.service,
                report=lines,
                completed_at=data.completed_at,
                received_at=now,
            )
        )
    else:
        report.report, report.completed_at, report.received_at = lines, data.completed_at, now
    await session.flush()
    done = set(
        await session.scalars(
            select(ErasureReport.service).where(ErasureReport.request_id == request.id)
        )
    )
    if request.completed_at is None and done >= set(SERVICES):
        request.completed_at = now


# -- reading a request ---------------------------------------------------------------------------


async def erasure_progress(
    session: AsyncSession, erasure_id: uuid.UUID, caller: Principal
) -> dict[str, Any]:
    if caller.role is not Role.OPS:
        raise Forbidden("Seul le délégué à la protection des données (ops) suit un effacement.")
    request = await session.get(ErasureRequest, erasure_id)
    if request is None:
        raise not_found(f"Demande d'effacement {erasure_id}")
    reports = {
        r.service: r
        for r in await session.scalars(
            select(ErasureReport).where(ErasureReport.request_id == request.id)
        )
    }
    waiting = [s for s in SERVICES if s not in reports]
    return {
        "id": request.id,
        "job_seeker_id": request.job_seeker_id,
        "reason": request.reason,
        "requested_by": request.requested_by,
        "requested_at": request.requested_at,
        "networks_instructed": request.networks,
        "status": "completed" if not waiting else "in_progress",
        "completed_at": request.completed_at,
        "waiting_for": waiting,
        "services": [
            {
                "service": service,
                "status": "completed" if service in reports else "waiting",
                "completed_at": reports[service].completed_at if service in reports else None,
                "report": reports[service].report if service in reports else [],
            }
            for service in SERVICES
        ],
    }

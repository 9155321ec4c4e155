"""Erasure of a job seeker in the dispositifs store (issue 11), on ``job_seeker.erasure_requested``:
the immersion conventions lose the beneficiary's names, birth date, situation, BRSA and the
assessment; their log and the pathway decisions lose their comments; MRS candidates lose their
detailed results; published events and stored responses that mention the person are deleted. The
facts the indicators count (statuses, dates, outcomes, territory, ids) stay. Answers
``dispositifs.erasure_completed`` with what it did."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from dispositifs.models import (
    OUTBOX,
    PLATFORM,
    ImmersionConvention,
    ImmersionIncident,
    ImmersionSignatory,
    ImmersionTransition,
    KnownReferral,
    MrsCandidate,
    PathwayProposal,
    TrainingEnrolment,
)
from shared.contracts.erasure import (
    DispositifsErasureCompleted,
    ErasureCounts,
    JobSeekerErasureRequested,
)
from shared.privacy.erasure import ERASED_MARK, Erased, erase_platform_copies

SERVICE = "dispositifs"


async def erase_job_seeker(session: AsyncSession, data: JobSeekerErasureRequested) -> None:
    referral_ids = list(data.referral_ids)
    conventions = list(
        await session.scalars(
            select(ImmersionConvention).where(
                or_(
                    ImmersionConvention.job_seeker_id == data.job_seeker_id,
                    ImmersionConvention.referral_id.in_(referral_ids),
                )
            )
        )
    )
    personal: list[str] = []
    for convention in conventions:
        for signatory in await session.scalars(
            select(ImmersionSignatory).where(
                ImmersionSignatory.convention_id == convention.id,
                ImmersionSignatory.role == "beneficiary",
            )
        ):
            personal += [signatory.name or "", signatory.email]
        personal += [
            convention.beneficiary_email or "",
            convention.legal_representative_name or "",
            convention.legal_representative_email or "",
            convention.beneficiary_first_name or "",
            convention.beneficiary_last_name or "",
            convention.beneficiary_birth_date.isoformat()
            if convention.beneficiary_birth_date
            else "",
        ]
    identifiers = [str(data.job_seeker_id), *(str(i) for i in referral_ids)]
    report = await erase_platform_copies(session, PLATFORM, identifiers, personal)
    for convention in conventions:
        convention.beneficiary_first_name = None
        convention.beneficiary_last_name = None
        convention.beneficiary_birth_date = None
        convention.beneficiary_professional_situation = None
        convention.beneficiary_brsa = None
        convention.beneficiary_email = None
        convention.legal_representative_name = None
        convention.legal_representative_email = None
        convention.assessment = None
    report.append(Erased("immersion_conventions", len(conventions), "erased"))
    convention_ids = [c.id for c in conventions]
    if convention_ids:
        logged = await session.execute(
            update(ImmersionTransition)
            .where(ImmersionTransition.convention_id.in_(convention_ids))
            .values(comment=None)
        )
        report.append(Erased("immersion_transitions", _count(logged), "erased"))
        # The beneficiary's signatory row (name, e-mail, error report); the others are the host,
        # the tutor and the prescriber: not the person erased.
        signatories = await session.execute(
            update(ImmersionSignatory)
            .where(
                ImmersionSignatory.convention_id.in_(convention_ids),
                ImmersionSignatory.role == "beneficiary",
            )
            .values(name=None, email=ERASED_MARK, error_report=None)
        )
        report.append(Erased("immersion_signatories", _count(signatories), "erased"))
        incidents = await session.execute(
            update(ImmersionIncident)
            .where(ImmersionIncident.convention_id.in_(convention_ids))
            .values(description=ERASED_MARK)
        )
        report.append(Erased("immersion_incidents", _count(incidents), "erased"))
    candidates = await session.execute(
        update(MrsCandidate)
        .where(MrsCandidate.job_seeker_id == data.job_seeker_id)
        .values(results=None)
    )
    report.append(Erased("mrs_candidates", _count(candidates), "erased"))
    proposals = await session.execute(
        update(PathwayProposal)
        .where(PathwayProposal.job_seeker_id == data.job_seeker_id)
        .values(comment=None)
    )
    report.append(Erased("pathway_proposals", _count(proposals), "erased"))
    # The referral's priority publics (BRSA, senior…) say something of the person: cleared.
    known = await session.execute(
        update(KnownReferral)
        .where(
            or_(
                KnownReferral.job_seeker_id == data.job_seeker_id,
                KnownReferral.referral_id.in_(referral_ids),
            )
        )
        .values(priority_publics=None)
    )
    report.append(Erased("known_referrals", _count(known), "erased"))
    enrolments = await session.scalar(
        select(func.count())
        .select_from(TrainingEnrolment)
        .where(TrainingEnrolment.job_seeker_id == data.job_seeker_id)
    )
    # Enrolments hold ids and facts only (no name): kept for the indicators.
    report.append(Erased("training_enrolments", int(enrolments or 0), "kept"))
    now = datetime.now(UTC)
    await OUTBOX.stage(
        session,
        DispositifsErasureCompleted(
            erasure_id=data.erasure_id,
            service=SERVICE,
            report=[ErasureCounts(table=r.table, rows=r.rows, action=r.action) for r in report],
            completed_at=now,
        ),
        subject=f"erasures/{data.erasure_id}",
        occurred_at=now,
    )


def _count(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)

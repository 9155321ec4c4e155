"""Erasure of a job seeker in the dispositifs store (issue 11), on ``job_seeker.erasure_requested``
(the DPO's request, or the referral service's archive of a record inactive for 2 years: the same
event): the immersion conventions lose the beneficiary's names, birth date, situation, BRSA and the
assessment; their log and the pathway decisions lose their comments; MRS candidates lose their
detailed results; enrolments lose their targeted public (BRSA, senior); published events and
stored responses that mention the person are deleted.

The convention then points to nobody: its third parties (tutor, host's representative, employer,
support referent, prescriber, the host's name and address, every signatory's name and e-mail) and
its free texts (schedule, place, objectives, evaluation method, tasks, justifications: what is
written there speaks of the person) have no purpose left and go too. The facts the indicators
count (statuses, dates, outcomes, territory, trade, SIRET, ids) stay. Agents' identifiers
(counsellor, validator, log actors, decisions) are kept: they name the agent who acted, not the
person erased. Answers ``dispositifs.erasure_completed`` with what it did."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import or_, select, update
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
        # Every party's name and e-mail: the anonymous convention keeps none of them, nor do
        # the copies of its events.
        for signatory in await session.scalars(
            select(ImmersionSignatory).where(ImmersionSignatory.convention_id == convention.id)
        ):
            personal += [signatory.name or "", signatory.email]
        personal += [value or "" for value in _third_parties(convention)]
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
        _forget_parties_and_texts(convention)
    report.append(Erased("immersion_conventions", len(conventions), "erased"))
    convention_ids = [c.id for c in conventions]
    if convention_ids:
        logged = await session.execute(
            update(ImmersionTransition)
            .where(ImmersionTransition.convention_id.in_(convention_ids))
            .values(comment=None)
        )
        report.append(Erased("immersion_transitions", _count(logged), "erased"))
        # Every signatory row (name, e-mail, error report): the beneficiary's first of all, and
        # the host's, the tutor's, the prescriber's, which an anonymous convention no longer needs.
        signatories = await session.execute(
            update(ImmersionSignatory)
            .where(ImmersionSignatory.convention_id.in_(convention_ids))
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
    # Enrolments keep their facts (kind, dates, hours, territory, outcome) for the indicators; the
    # targeted public (BRSA, senior) says something of the person and goes, as the priority
    # publics do.
    enrolments = await session.execute(
        update(TrainingEnrolment)
        .where(TrainingEnrolment.job_seeker_id == data.job_seeker_id)
        .values(targeted_public=None)
    )
    report.append(Erased("training_enrolments", _count(enrolments), "erased"))
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


def _third_parties(convention: ImmersionConvention) -> list[str | None]:
    return [
        convention.tutor_name,
        convention.tutor_email,
        convention.support_referent,
        convention.support_email,
        convention.host_representative_name,
        convention.host_representative_email,
        convention.employer_email,
    ]


def _forget_parties_and_texts(convention: ImmersionConvention) -> None:
    """The third parties and free texts of a convention that no longer points to anyone."""
    convention.tutor_name = convention.tutor_function = convention.tutor_email = None
    convention.support_referent = convention.support_email = None
    convention.prescriber_name = None
    convention.host_name = ERASED_MARK  # NOT NULL; the SIRET stays (the repeated-host rule)
    convention.host_address = None
    convention.host_representative_name = convention.host_representative_function = None
    convention.host_representative_email = None
    convention.employer_name = convention.employer_email = None
    convention.schedule = convention.place = None
    convention.objectives = convention.evaluation_method = convention.tasks = None
    convention.renewal_justification = None
    if convention.justification is not None:  # required by the rejected/cancelled statuses
        convention.justification = ERASED_MARK


def _count(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)

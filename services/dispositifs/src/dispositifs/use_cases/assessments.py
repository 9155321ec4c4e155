"""The tutor's assessment through their own link once the last day has come (issue 13), the
reminders to assess (a periodic job), and incidents or accidents reported from a party's link.
The caller is the link (:func:`dispositifs.use_cases.signatures.read_caller`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dispositifs.access import sees
from dispositifs.domain.immersion import (
    Actor,
    AssessmentOutcome,
    ImmersionStatus,
    check_assessment,
    check_assessment_time,
)
from dispositifs.domain.signing import LinkClaims, LinkPurpose, SignatoryRole, new_nonce
from dispositifs.models import ImmersionConvention, ImmersionIncident
from dispositifs.settings import DispositifsSettings
from dispositifs.use_cases.immersion_common import Who, event_fields, move, now, publish
from dispositifs.use_cases.signatures import ASSESSABLE, LinkView, link_url, view_of
from shared.auth.tokens import Principal
from shared.contracts.dispositifs import (
    ImmersionAssessmentRequested,
    ImmersionAssessmentShared,
    ImmersionCompleted,
    ImmersionIncidentReported,
    SigningLink,
)
from shared.contracts.vocabulary import ContractType
from shared.domain.errors import InvalidInput, NotFound, TransitionRefused, Violation, raise_if_any
from shared.privacy import raise_if_sensitive


@dataclass(frozen=True)
class AssessByLink:
    outcome: AssessmentOutcome
    objectives_reached: bool
    job_offered: bool
    last_day: date | None = None
    missed_hours: float | None = None
    job_contract_type: ContractType | None = None
    job_start_date: date | None = None
    comment: str | None = None
    today: date = field(default_factory=lambda: datetime.now(UTC).date())
    #: Every yes/no question was answered (a form may leave one out).
    answered: bool = True


@dataclass(frozen=True)
class ReportIncident:
    kind: str  # accident | incident
    occurred_on: date
    description: str


@dataclass(frozen=True)
class RequestAssessment:
    convention_id: uuid.UUID
    today: date


# -- the tutor's assessment ------------------------------------------------------------------------


async def _ask_assessment(
    session: AsyncSession,
    convention: ImmersionConvention,
    settings: DispositifsSettings,
    *,
    reminder: int,
    at: datetime,
) -> None:
    if convention.assessment_link_nonce is None or reminder == 0:
        convention.assessment_link_nonce = new_nonce()
    convention.assessment_requested_at = at
    convention.assessment_reminders = reminder
    expires = at + timedelta(days=settings.assessment_link_days)
    claims = LinkClaims(
        convention.id,
        SignatoryRole.TUTOR,
        LinkPurpose.ASSESS,
        convention.assessment_link_nonce,
        expires,
    )
    await publish(
        session,
        convention,
        ImmersionAssessmentRequested(
            **event_fields(convention, at),
            host_name=convention.host_name,
            end_date=convention.end_date,
            reminder=reminder,
            links=[
                SigningLink(
                    role=SignatoryRole.TUTOR.value,
                    role_label=SignatoryRole.TUTOR.label,
                    name=convention.tutor_name,
                    email=convention.tutor_email or "",
                    url=link_url(settings, claims),
                    expires_at=expires,
                )
            ],
        ),
    )


def _assessable(convention: ImmersionConvention, today: date) -> list[Violation]:
    found = check_assessment_time(convention.end_date, today)
    if not convention.tutor_email:
        found.append(
            Violation("pmsmp.assessment.tutor", "tutor.email", "le courriel du tuteur est requis")
        )
    return found


async def request_assessment(
    session: AsyncSession,
    principal: Principal,
    command: RequestAssessment,
    settings: DispositifsSettings,
) -> ImmersionConvention:
    """The counsellor (re)sends the tutor's assessment link, from the last day on."""
    convention = await session.get(ImmersionConvention, command.convention_id, with_for_update=True)
    if convention is None or not sees(principal, convention.structure_code):
        raise NotFound(f"Convention {command.convention_id} introuvable.")
    if ImmersionStatus(convention.status) not in ASSESSABLE or convention.assessment_outcome:
        raise TransitionRefused(
            f"La convention est « {ImmersionStatus(convention.status).label} » : pas de bilan à "
            "demander."
        )
    raise_if_any(_assessable(convention, command.today))
    await _ask_assessment(session, convention, settings, reminder=0, at=now())
    return convention


async def request_due_assessments(
    session: AsyncSession, settings: DispositifsSettings, *, today: date | None = None
) -> int:
    """Periodic job: conventions whose last day has come get the tutor's link; then reminders
    every ``assessment_reminder_days``, at most ``assessment_max_reminders``."""
    today = today or now().date()
    at = now()
    due = await session.scalars(
        select(ImmersionConvention)
        .where(
            ImmersionConvention.status.in_([s.value for s in ASSESSABLE]),
            ImmersionConvention.end_date <= today,
            ImmersionConvention.assessment_outcome.is_(None),
            ImmersionConvention.tutor_email.is_not(None),
        )
        .limit(500)
        .with_for_update(skip_locked=True)  # replicas run the job too: one takes each row
    )
    count = 0
    for convention in due:
        asked = convention.assessment_requested_at
        if asked is None:
            await _ask_assessment(session, convention, settings, reminder=0, at=at)
        elif convention.assessment_reminders < settings.assessment_max_reminders and (
            at - asked >= timedelta(days=settings.assessment_reminder_days)
        ):
            reminder = convention.assessment_reminders + 1
            await _ask_assessment(session, convention, settings, reminder=reminder, at=at)
        else:
            continue
        count += 1
    return count


async def assess(
    session: AsyncSession,
    caller: LinkClaims,
    command: AssessByLink,
    settings: DispositifsSettings,
) -> LinkView:
    """The tutor's assessment through their link, from the last day on: completed, partially
    completed or did not show; objectives reached; job offered. The convention is completed."""
    view = await view_of(session, caller, lock=True)
    convention = view.convention
    if not view.may_assess:
        raise TransitionRefused(
            "Le bilan de cette convention est déjà enregistré ou n'est pas attendu."
        )
    if not command.answered:
        raise InvalidInput("Répondez à chaque question du bilan.", code="assessment-incomplete")
    raise_if_sensitive({"comment": command.comment})
    raise_if_any(check_assessment_time(convention.end_date, command.today))
    raise_if_any(
        check_assessment(
            command.outcome,
            start=convention.start_date,
            end=convention.end_date,
            last_day=command.last_day,
            missed_hours=command.missed_hours,
            job_offered=command.job_offered,
            job_contract_type=command.job_contract_type.value
            if command.job_contract_type
            else None,
            job_start_date=command.job_start_date,
        )
    )
    at = now()
    tutor = Who(Actor.SIGNATORY, SignatoryRole.TUTOR.value)
    if ImmersionStatus(convention.status) is ImmersionStatus.VALIDATED:
        await move(
            session,
            convention,
            ImmersionStatus.IN_PROGRESS,
            Who(Actor.SYSTEM, "dispositifs"),
            comment="début constaté au bilan",
            at=at,
        )
    await move(
        session,
        convention,
        ImmersionStatus.COMPLETED,
        tutor,
        comment=f"bilan du tuteur : {command.outcome.label}",
        at=at,
    )
    convention.assessment_outcome = command.outcome.value
    convention.assessed_by = SignatoryRole.TUTOR.value
    convention.assessment_last_day = command.last_day
    convention.assessment_missed_hours = command.missed_hours
    convention.objectives_reached = command.objectives_reached
    convention.hired = command.job_offered
    convention.job_contract_type = (
        command.job_contract_type.value if command.job_contract_type else None
    )
    convention.job_start_date = command.job_start_date
    convention.assessment = command.comment
    convention.completed_at = at
    await publish(
        session,
        convention,
        ImmersionCompleted(
            **event_fields(convention, at),
            objectives_reached=command.objectives_reached,
            hired=command.job_offered,
            outcome=command.outcome.value,
            assessed_by=SignatoryRole.TUTOR.value,
            job_contract_type=command.job_contract_type,
            job_start_date=command.job_start_date,
        ),
    )
    await _share_with_beneficiary(session, view, settings, at=at)
    return view


async def _share_with_beneficiary(
    session: AsyncSession, view: LinkView, settings: DispositifsSettings, *, at: datetime
) -> None:
    """The beneficiary gets a new link of their own to read the assessment and acknowledge it
    (their signing link, already used, no longer opens the page)."""
    convention = view.convention
    mine = next((r for r in view.signatories if r.role == SignatoryRole.BENEFICIARY.value), None)
    if mine is None:
        return
    mine.link_nonce = new_nonce()
    mine.link_expires_at = at + timedelta(days=settings.assessment_link_days)
    mine.links_sent += 1
    claims = LinkClaims(
        convention.id,
        SignatoryRole.BENEFICIARY,
        LinkPurpose.ACKNOWLEDGE,
        mine.link_nonce,
        mine.link_expires_at,
    )
    await publish(
        session,
        convention,
        ImmersionAssessmentShared(
            **event_fields(convention, at),
            host_name=convention.host_name,
            links=[
                SigningLink(
                    role=mine.role,
                    role_label=SignatoryRole.BENEFICIARY.label,
                    name=mine.name,
                    email=mine.email,
                    url=link_url(settings, claims),
                    expires_at=mine.link_expires_at,
                )
            ],
        ),
    )


@dataclass(frozen=True)
class AcknowledgeAssessment:
    pass


async def acknowledge(
    session: AsyncSession, caller: LinkClaims, command: AcknowledgeAssessment
) -> LinkView:
    """The beneficiary acknowledges the tutor's assessment through their link."""
    view = await view_of(session, caller, lock=True)
    if not view.may_acknowledge:
        raise TransitionRefused(
            "Ce bilan n'est pas à lire, ou vous en avez déjà pris connaissance."
        )
    view.convention.assessment_acknowledged_at = now()
    return view


async def report_incident(
    session: AsyncSession, caller: LinkClaims, command: ReportIncident
) -> LinkView:
    """An incident or accident, reported from a party's link (tutor, beneficiary…) once the
    convention is validated: stored, and ``immersion.incident_reported`` tells the prescriber
    at once."""
    view = await view_of(session, caller, lock=True)
    convention = view.convention
    status = ImmersionStatus(convention.status)
    if status not in {*ASSESSABLE, ImmersionStatus.COMPLETED}:
        raise TransitionRefused("Un incident se signale pendant ou après l'immersion validée.")
    if command.kind not in {"accident", "incident"}:
        raise InvalidInput("Type d'événement inconnu (accident ou incident).", code="kind")
    if not (convention.start_date <= command.occurred_on <= now().date()):
        raise InvalidInput(
            "La date de l'événement est comprise entre le début de l'immersion et aujourd'hui.",
            code="occurred-on",
        )
    if len(command.description.strip()) < 3:
        raise InvalidInput("Décrivez ce qui s'est passé.", code="description")
    raise_if_sensitive({"description": command.description})
    at = now()
    incident = ImmersionIncident(
        id=uuid.uuid4(),
        convention_id=convention.id,
        kind=command.kind,
        occurred_on=command.occurred_on,
        description=command.description.strip()[:4000],
        reported_by=caller.role.value,
        reported_at=at,
    )
    session.add(incident)
    view.incidents.append(incident)
    await publish(
        session,
        convention,
        ImmersionIncidentReported(
            **event_fields(convention, at),
            incident_id=incident.id,
            kind=command.kind,
            occurred_on=command.occurred_on,
            reported_by=caller.role.value,
            counsellor_id=convention.counsellor_id,
        ),
    )
    return view

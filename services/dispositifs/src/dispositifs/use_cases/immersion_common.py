"""What every PMSMP use case shares: the convention's content columns, the rules checked against
the store (other conventions of the same beneficiary and host, the convention renewed), opening a
convention request, moving it along its lifecycle (with its transition log) and staging its
events. Each works inside the caller's transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dispositifs.access import may_renew
from dispositifs.domain.immersion import (
    DEAD_STATUSES,
    TRANSITIONS,
    Actor,
    ImmersionStatus,
    ImmersionTerms,
    PastConvention,
    RenewedConvention,
    add_months,
    check_host_declarations,
    check_mandatory_content,
    check_terms,
)
from dispositifs.domain.signing import ConventionParties, Party, SignatoryRole, signatories
from dispositifs.domain.working_time import WeeklySchedule
from dispositifs.models import OUTBOX, ImmersionConvention, ImmersionTransition
from dispositifs.settings import DispositifsSettings
from shared.contracts.dispositifs import (
    ImmersionCancelled,
    ImmersionConventionRequested,
    ImmersionRejected,
)
from shared.contracts.vocabulary import ImmersionObjet
from shared.db.transition_log import record_transition
from shared.domain.errors import RulesBroken, Violation, raise_if_any
from shared.domain.transitions import Transition
from shared.referentials import region_of

#: Convention columns a request or an edit may set, as the API names them.
CONTENT_COLUMNS: dict[str, str] = {
    "prescriber.kind": "prescriber_kind",
    "prescriber.name": "prescriber_name",
    "beneficiary.first_name": "beneficiary_first_name",
    "beneficiary.last_name": "beneficiary_last_name",
    "beneficiary.birth_date": "beneficiary_birth_date",
    "beneficiary.professional_situation": "beneficiary_professional_situation",
    "beneficiary.brsa": "beneficiary_brsa",
    "host.name": "host_name",
    "host.siret": "host_siret",
    "host.address": "host_address",
    "host.legal_form": "host_legal_form",
    "host.activity": "host_activity",
    "host.collective_agreement": "host_collective_agreement",
    "tutor.name": "tutor_name",
    "tutor.function": "tutor_function",
    "tutor.email": "tutor_email",
    "support.structure": "support_structure",
    "support.referent": "support_referent",
    "objet": "objet",
    "start_date": "start_date",
    "end_date": "end_date",
    "weekly_hours": "weekly_hours",
    "schedule": "schedule",
    "place": "place",
    "departement": "departement",
    "objectives": "objectives",
    "evaluation_method": "evaluation_method",
    "tasks": "tasks",
    # issue 13: the parties who sign by their own link, the schedule, the host's declarations
    "beneficiary.email": "beneficiary_email",
    "beneficiary.salaried": "beneficiary_salaried",
    "host_representative.name": "host_representative_name",
    "host_representative.function": "host_representative_function",
    "host_representative.email": "host_representative_email",
    "legal_representative.name": "legal_representative_name",
    "legal_representative.email": "legal_representative_email",
    "employer.name": "employer_name",
    "employer.email": "employer_email",
    "support.email": "support_email",
    "schedule_plan": "schedule_plan",
    "host_declarations": "host_declarations",
    "renewal_justification": "renewal_justification",
}


@dataclass(frozen=True)
class ImmersionRequest:
    """A convention request: ``content`` maps the keys of :data:`CONTENT_COLUMNS` to values."""

    content: dict[str, Any]
    referral_id: uuid.UUID | None = None
    job_seeker_id: uuid.UUID | None = None
    agency_id: str | None = None
    structure_code: str | None = None
    rome_code: str | None = None
    renewal_of: uuid.UUID | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Who:
    actor: Actor
    actor_id: str


def now() -> datetime:
    return datetime.now(UTC)


# -- rules against the store -----------------------------------------------------------------------


async def _others(session: AsyncSession, convention: ImmersionConvention) -> list[PastConvention]:
    """Live conventions of the same beneficiary at the same host, near enough in time to matter."""
    if convention.job_seeker_id is None:
        return []
    window = 2 * 12  # months either side; the rule itself looks at its configured window
    rows = await session.scalars(
        select(ImmersionConvention).where(
            ImmersionConvention.job_seeker_id == convention.job_seeker_id,
            ImmersionConvention.host_siret == convention.host_siret,
            ImmersionConvention.status.not_in([s.value for s in DEAD_STATUSES]),
            ImmersionConvention.id != convention.id,
            ImmersionConvention.start_date >= add_months(convention.start_date, -window),
            ImmersionConvention.start_date <= add_months(convention.start_date, window),
        )
    )
    return [
        PastConvention(
            c.start_date, c.end_date, c.objectives, c.objet, is_renewal=c.renewal_of_id is not None
        )
        for c in rows
    ]


async def _renewed(session: AsyncSession, convention: ImmersionConvention) -> RenewedConvention:
    original = await session.get(ImmersionConvention, convention.renewal_of_id)
    assert original is not None
    renewals = await session.scalars(
        select(ImmersionConvention.id).where(
            ImmersionConvention.renewal_of_id == original.id,
            ImmersionConvention.id != convention.id,
            ImmersionConvention.status.not_in([s.value for s in DEAD_STATUSES]),
        )
    )
    return RenewedConvention(
        status=ImmersionStatus(original.status),
        objet=original.objet,
        objectives_reached=original.objectives_reached,
        is_renewal=original.renewal_of_id is not None,
        already_renewed=renewals.first() is not None,
        objectives=original.objectives,
        end_date=original.end_date,
    )


def schedule_of(convention: ImmersionConvention) -> WeeklySchedule | None:
    return WeeklySchedule.from_json(convention.schedule_plan)


def apply_schedule(convention: ImmersionConvention) -> None:
    """Weekly hours follow the structured schedule when there is one."""
    schedule = schedule_of(convention)
    if schedule is not None:
        convention.weekly_hours = round(schedule.weekly_hours, 2)


def parties_of(convention: ImmersionConvention, settings: DispositifsSettings) -> ConventionParties:
    c = convention
    name = " ".join(x for x in (c.beneficiary_first_name, c.beneficiary_last_name) if x) or None
    R = SignatoryRole
    return ConventionParties(
        beneficiary=Party(R.BENEFICIARY, name, c.beneficiary_email),
        host_representative=Party(
            R.HOST_REPRESENTATIVE, c.host_representative_name, c.host_representative_email
        ),
        tutor=Party(R.TUTOR, c.tutor_name, c.tutor_email),
        birth_date=c.beneficiary_birth_date,
        start_date=c.start_date,
        legal_representative=Party(
            R.LEGAL_REPRESENTATIVE, c.legal_representative_name, c.legal_representative_email
        )
        if c.legal_representative_email or c.legal_representative_name
        else None,
        employer=Party(R.EMPLOYER, c.employer_name, c.employer_email)
        if c.employer_email or c.employer_name
        else None,
        salaried=bool(c.beneficiary_salaried),
        support_structure=Party(R.SUPPORT_STRUCTURE, c.support_structure, c.support_email)
        if c.support_structure or c.support_email
        else None,
        prescriber_name=c.prescriber_name,
        adult_age=settings.pmsmp_adult_age,
    )


async def check_convention(
    session: AsyncSession,
    convention: ImmersionConvention,
    settings: DispositifsSettings,
    *,
    complete: bool,
) -> list[Violation]:
    """The rules the convention breaks; ``complete`` adds D5135-2's mandatory content."""
    with session.no_autoflush:  # an edit in progress is checked before it may reach the store
        renewal = await _renewed(session, convention) if convention.renewal_of_id else None
        others = await _others(session, convention)
    terms = ImmersionTerms(
        objet=convention.objet,
        start_date=convention.start_date,
        end_date=convention.end_date,
        weekly_hours=convention.weekly_hours,
        tutor_name=convention.tutor_name,
        host_siret=convention.host_siret,
        objectives=convention.objectives,
        birth_date=convention.beneficiary_birth_date,
        prescriber_kind=convention.prescriber_kind,
        renewal_of=renewal,
        schedule=schedule_of(convention),
        renewal_justification=convention.renewal_justification,
    )
    found = check_terms(terms, others, settings.immersion_limits())
    if complete:
        found += [v for v in check_mandatory_content(convention.content()) if v not in found]
        found += check_host_declarations(convention.host_declarations)
        found += signatories(parties_of(convention, settings))[1]
    return found


# -- events ----------------------------------------------------------------------------------------


def event_fields(convention: ImmersionConvention, at: datetime) -> dict[str, Any]:
    return {
        "convention_id": convention.id,
        "referral_id": convention.referral_id,
        "job_seeker_id": convention.job_seeker_id,
        "agency_id": convention.agency_id,
        "structure_code": convention.structure_code,
        "occurred_at": at,
    }


async def publish(session: AsyncSession, convention: ImmersionConvention, data: Any) -> None:
    await OUTBOX.stage(
        session, data, subject=f"immersions/{convention.id}", occurred_at=data.occurred_at
    )


def ensure(
    current: ImmersionStatus | None,
    target: ImmersionStatus,
    who: Who,
    *,
    justification: str | None = None,
) -> Transition[ImmersionStatus]:
    """The lifecycle's row to ``target``, or :class:`TransitionRefused` (409)."""
    return TRANSITIONS.check(target.value, current, who.actor, justification=justification)


async def move(
    session: AsyncSession,
    convention: ImmersionConvention,
    target: ImmersionStatus,
    who: Who,
    *,
    comment: str | None = None,
    justification: str | None = None,
    event_id: str | None = None,
    at: datetime,
) -> None:
    current = ImmersionStatus(convention.status) if convention.status else None
    step = ensure(current, target, who, justification=justification)
    if justification is not None:
        convention.justification = justification
    record_transition(
        session,
        convention,
        step,
        current=current,
        log_model=ImmersionTransition,
        aggregate_fk="convention_id",
        actor=who.actor,
        actor_id=who.actor_id,
        occurred_at=at,
        comment=justification or comment,
        event_id=event_id,
    )


# -- request ---------------------------------------------------------------------------------------


def new_convention(request: ImmersionRequest, origin: Actor, at: datetime) -> ImmersionConvention:
    convention = ImmersionConvention(
        id=uuid.uuid4(),
        referral_id=request.referral_id,
        job_seeker_id=request.job_seeker_id,
        agency_id=request.agency_id,
        structure_code=request.structure_code,
        origin=origin.value,
        status=None,
        rome_code=request.rome_code,
        renewal_of_id=request.renewal_of,
        created_at=at,
        updated_at=at,
        **request.extra,
    )
    for key, column in CONTENT_COLUMNS.items():
        if key in request.content:
            setattr(convention, column, request.content[key])
    convention.region_code = region_of(convention.departement)
    apply_schedule(convention)
    return convention


async def open_convention(
    session: AsyncSession,
    request: ImmersionRequest,
    who: Who,
    settings: DispositifsSettings,
    *,
    event_id: str | None = None,
) -> ImmersionConvention:
    """A convention request, checked against every rule its terms allow to check.

    Raises :class:`RulesBroken` (nothing kept) when a rule refuses it.
    """
    at = now()
    convention = new_convention(request, who.actor, at)
    if who.actor is Actor.COUNSELLOR:
        convention.counsellor_id = who.actor_id
    if convention.renewal_of_id is not None:
        original = await session.get(ImmersionConvention, convention.renewal_of_id)
        if original is None or not may_renew(convention.structure_code, original.structure_code):
            raise RulesBroken(
                [Violation("pmsmp.renewal", "renewal_of", "convention à renouveler introuvable")]
            )
        # A renewal extends the same convention: same beneficiary, host and objet.
        convention.job_seeker_id = original.job_seeker_id
        convention.referral_id = convention.referral_id or original.referral_id
        convention.agency_id = convention.agency_id or original.agency_id
        convention.host_siret = original.host_siret
    raise_if_any(await check_convention(session, convention, settings, complete=False))
    session.add(convention)
    await move(session, convention, ImmersionStatus.REQUESTED, who, event_id=event_id, at=at)
    await session.flush()
    await publish(
        session,
        convention,
        ImmersionConventionRequested(
            **event_fields(convention, at),
            objet=ImmersionObjet(convention.objet),
            start_date=convention.start_date,
            end_date=convention.end_date,
            host_name=convention.host_name,
        ),
    )
    return convention


async def end_convention(
    session: AsyncSession,
    convention: ImmersionConvention,
    target: ImmersionStatus,
    who: Who,
    settings: DispositifsSettings,
    *,
    justification: str,
    event_id: str | None = None,
) -> ImmersionConvention:
    """Reject, cancel or deprecate, with the justification the national tool asks for."""
    at = now()
    await move(
        session, convention, target, who, justification=justification, event_id=event_id, at=at
    )
    fields = event_fields(convention, at)
    if target is ImmersionStatus.REJECTED:
        await publish(session, convention, ImmersionRejected(**fields, reason=justification))
    else:
        await publish(
            session,
            convention,
            ImmersionCancelled(
                **fields,
                justification=justification,
                deprecated=target is ImmersionStatus.DEPRECATED,
            ),
        )
    return convention

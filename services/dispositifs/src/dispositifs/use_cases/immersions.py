"""PMSMP conventions, as the business says it: request, complete, mark ready, sign, validate,
start, complete with an assessment, reject, cancel, deprecate. Each works inside the caller's
transaction: the change, its transition log and its outbox events commit together."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dispositifs.domain.immersion import (
    DEAD_STATUSES,
    EDITABLE_STATUSES,
    Actor,
    ImmersionStatus,
    ImmersionTerms,
    PastConvention,
    RenewedConvention,
    TransitionNotAllowed,
    add_months,
    check_mandatory_content,
    check_terms,
    check_transition,
)
from dispositifs.domain.violations import RulesBroken, Violation, raise_if_any
from dispositifs.models import PLATFORM, ImmersionConvention, ImmersionTransition, KnownReferral
from dispositifs.referentials import region_of
from dispositifs.settings import DispositifsSettings
from shared.contracts.dispositifs import (
    ImmersionCancelled,
    ImmersionCompleted,
    ImmersionConventionRequested,
    ImmersionRejected,
    ImmersionValidated,
    RuleBroken,
)
from shared.contracts.referral import ReferralImmersionRequested
from shared.contracts.vocabulary import ImmersionObjet
from shared.messaging.outbox import add_event


class NotAllowed(Exception):
    """The lifecycle refuses this change (HTTP 409)."""


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


def _now() -> datetime:
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
    )
    found = check_terms(terms, others, settings.immersion_limits())
    if complete:
        found += [v for v in check_mandatory_content(convention.content()) if v not in found]
    return found


# -- events ----------------------------------------------------------------------------------------


def _event_fields(convention: ImmersionConvention, at: datetime) -> dict[str, Any]:
    return {
        "convention_id": convention.id,
        "referral_id": convention.referral_id,
        "job_seeker_id": convention.job_seeker_id,
        "agency_id": convention.agency_id,
        "structure_code": convention.structure_code,
        "occurred_at": at,
    }


async def _publish(
    session: AsyncSession, settings: DispositifsSettings, convention: ImmersionConvention, data: Any
) -> None:
    await add_event(
        session,
        PLATFORM,
        data,
        source=settings.event_source,
        subject=f"immersions/{convention.id}",
        occurred_at=data.occurred_at,
    )


def _ensure(
    current: ImmersionStatus | None,
    target: ImmersionStatus,
    who: Who,
    *,
    justification: str | None = None,
) -> None:
    try:
        check_transition(current, target, who.actor, justification=justification)
    except TransitionNotAllowed as exc:
        raise NotAllowed(str(exc)) from exc


async def _move(
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
    _ensure(current, target, who, justification=justification)
    convention.status = target.value
    convention.updated_at = at
    if justification is not None:
        convention.justification = justification
    session.add(
        ImmersionTransition(
            convention_id=convention.id,
            from_status=current.value if current else None,
            to_status=target.value,
            actor=who.actor.value,
            actor_id=who.actor_id,
            comment=justification or comment,
            occurred_at=at,
            event_id=event_id,
        )
    )


# -- request ---------------------------------------------------------------------------------------


def _new_convention(request: ImmersionRequest, origin: Actor, at: datetime) -> ImmersionConvention:
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
    return convention


async def request_immersion(
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
    at = _now()
    convention = _new_convention(request, who.actor, at)
    if who.actor is Actor.COUNSELLOR:
        convention.counsellor_id = who.actor_id
    if convention.renewal_of_id is not None:
        original = await session.get(ImmersionConvention, convention.renewal_of_id)
        if original is None or (original.structure_code != convention.structure_code):
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
    await _move(session, convention, ImmersionStatus.REQUESTED, who, event_id=event_id, at=at)
    await session.flush()
    await _publish(
        session,
        settings,
        convention,
        ImmersionConventionRequested(
            **_event_fields(convention, at),
            objet=ImmersionObjet(convention.objet),
            start_date=convention.start_date,
            end_date=convention.end_date,
            host_name=convention.host_name,
        ),
    )
    return convention


def _request_from_agency(
    data: ReferralImmersionRequested, known: KnownReferral | None
) -> ImmersionRequest:
    return ImmersionRequest(
        content={
            "objet": data.objet.value,
            "start_date": data.start_date,
            "end_date": data.end_date,
            "weekly_hours": data.weekly_hours,
            "host.name": data.host_name,
            "host.siret": data.host_siret,
            "host.address": data.host_address,
            "tutor.name": data.tutor_name,
            "tutor.function": data.tutor_function,
            "tutor.email": data.tutor_email,
            "objectives": data.objectives,
            "tasks": data.tasks,
            "departement": known.departement if known else None,
        },
        referral_id=data.referral_id,
        job_seeker_id=data.job_seeker_id,
        agency_id=data.agency_id,
        structure_code=data.structure_code,
        rome_code=data.rome_code,
    )


async def receive_agency_request(
    session: AsyncSession,
    data: ReferralImmersionRequested,
    settings: DispositifsSettings,
    *,
    event_id: str,
) -> ImmersionConvention | None:
    """An agency's immersion request (checked by the referral service): a convention request, or
    a rejected one with ``immersion.rejected`` saying which rule and article — never dropped.
    None when the same request is already known (re-sent under another event id)."""
    duplicate = await session.scalar(
        select(ImmersionConvention.id).where(
            ImmersionConvention.referral_id == data.referral_id,
            ImmersionConvention.host_siret == data.host_siret,
            ImmersionConvention.start_date == data.start_date,
            ImmersionConvention.end_date == data.end_date,
            ImmersionConvention.objet == data.objet.value,
            ImmersionConvention.origin == Actor.AGENCY.value,
        )
    )
    if duplicate is not None:
        return None
    known = await session.get(KnownReferral, data.referral_id)
    request = _request_from_agency(data, known)
    agency = Who(Actor.AGENCY, data.agency_id)
    try:
        # Nothing is added to the session before every rule has passed.
        return await request_immersion(session, request, agency, settings, event_id=event_id)
    except RulesBroken as broken:
        return await _reject_request(session, request, broken, settings, event_id=event_id)


async def _reject_request(
    session: AsyncSession,
    request: ImmersionRequest,
    broken: RulesBroken,
    settings: DispositifsSettings,
    *,
    event_id: str,
) -> ImmersionConvention:
    at = _now()
    convention = _new_convention(request, Actor.AGENCY, at)
    convention.request_event_id = event_id
    reason = "; ".join(v.describe() for v in broken.violations)
    session.add(convention)
    await _move(
        session,
        convention,
        ImmersionStatus.REJECTED,
        Who(Actor.SYSTEM, settings.service_name),
        justification=reason,
        event_id=event_id,
        at=at,
    )
    await session.flush()
    await _publish(
        session,
        settings,
        convention,
        ImmersionRejected(
            **_event_fields(convention, at),
            reason=reason,
            article=", ".join(broken.articles) or None,
            violations=[
                RuleBroken(rule=v.rule, field=v.field, message=v.message, article=v.article)
                for v in broken.violations
            ],
        ),
    )
    return convention


# -- the counsellor completes and moves the convention ---------------------------------------------


async def update_content(
    session: AsyncSession,
    convention: ImmersionConvention,
    changes: dict[str, Any],
    who: Who,
    settings: DispositifsSettings,
) -> ImmersionConvention:
    if ImmersionStatus(convention.status) not in EDITABLE_STATUSES:
        raise NotAllowed(
            f"une convention « {ImmersionStatus(convention.status).label} » ne se modifie plus : "
            "rendez-la obsolète et demandez-en une nouvelle"
        )
    for key, value in changes.items():
        setattr(convention, CONTENT_COLUMNS[key], value)
    if convention.renewal_of_id is not None and "host.siret" in changes:
        raise RulesBroken(
            [Violation("pmsmp.renewal", "host.siret", "un renouvellement garde la même structure")]
        )
    convention.region_code = region_of(convention.departement)
    convention.updated_at = _now()
    raise_if_any(await check_convention(session, convention, settings, complete=False))
    return convention


async def mark_ready(
    session: AsyncSession, convention: ImmersionConvention, who: Who, settings: DispositifsSettings
) -> ImmersionConvention:
    """Every mandatory item filled in, every rule met: the convention can be signed."""
    _ensure(ImmersionStatus(convention.status), ImmersionStatus.READY_TO_SIGN, who)
    raise_if_any(await check_convention(session, convention, settings, complete=True))
    await _move(session, convention, ImmersionStatus.READY_TO_SIGN, who, at=_now())
    return convention


async def record_signature(
    session: AsyncSession, convention: ImmersionConvention, signatory: str, who: Who
) -> ImmersionConvention:
    """The beneficiary's or the host's signature, as recorded by the counsellor."""
    at = _now()
    column = {"beneficiary": "beneficiary_signed_at", "host": "host_signed_at"}[signatory]
    if getattr(convention, column) is not None:
        raise NotAllowed(f"la signature « {signatory} » est déjà enregistrée")
    if ImmersionStatus(convention.status) not in {
        ImmersionStatus.READY_TO_SIGN,
        ImmersionStatus.PARTIALLY_SIGNED,
    }:
        raise NotAllowed(
            f"une convention « {ImmersionStatus(convention.status).label} » ne se signe pas"
        )
    setattr(convention, column, at)
    both = convention.beneficiary_signed_at is not None and convention.host_signed_at is not None
    target = ImmersionStatus.SIGNED if both else ImmersionStatus.PARTIALLY_SIGNED
    await _move(session, convention, target, who, comment=f"signature : {signatory}", at=at)
    return convention


async def validate(
    session: AsyncSession, convention: ImmersionConvention, who: Who, settings: DispositifsSettings
) -> ImmersionConvention:
    """The prescriber's counsellor validates: the rules are checked again (another convention of
    the same beneficiary and host may have been validated meanwhile)."""
    _ensure(ImmersionStatus(convention.status), ImmersionStatus.VALIDATED, who)
    raise_if_any(await check_convention(session, convention, settings, complete=True))
    at = _now()
    await _move(session, convention, ImmersionStatus.VALIDATED, who, at=at)
    convention.validated_at = at
    convention.validated_by = who.actor_id
    await _publish(
        session,
        settings,
        convention,
        ImmersionValidated(
            **_event_fields(convention, at),
            objet=ImmersionObjet(convention.objet),
            start_date=convention.start_date,
            end_date=convention.end_date,
            host_name=convention.host_name,
            tutor_name=convention.tutor_name,
            tutor_email=convention.tutor_email,
        ),
    )
    return convention


async def start(
    session: AsyncSession, convention: ImmersionConvention, who: Who, *, today: date
) -> ImmersionConvention:
    if convention.start_date > today:
        raise NotAllowed(f"l'immersion commence le {convention.start_date:%d/%m/%Y}")
    await _move(session, convention, ImmersionStatus.IN_PROGRESS, who, at=_now())
    return convention


async def start_due_conventions(session: AsyncSession, settings: DispositifsSettings) -> int:
    """Validated conventions whose first day has come are in progress (a periodic job)."""
    today = datetime.now(UTC).date()
    due = await session.scalars(
        select(ImmersionConvention)
        .where(
            ImmersionConvention.status == ImmersionStatus.VALIDATED.value,
            ImmersionConvention.start_date <= today,
        )
        .limit(500)
    )
    count = 0
    for convention in due:
        await start(session, convention, Who(Actor.SYSTEM, settings.service_name), today=today)
        count += 1
    return count


async def complete(
    session: AsyncSession,
    convention: ImmersionConvention,
    who: Who,
    settings: DispositifsSettings,
    *,
    objectives_reached: bool,
    hired: bool,
    assessment: str | None,
) -> ImmersionConvention:
    at = _now()
    await _move(session, convention, ImmersionStatus.COMPLETED, who, comment=assessment, at=at)
    convention.objectives_reached = objectives_reached
    convention.hired = hired
    convention.assessment = assessment
    convention.completed_at = at
    await _publish(
        session,
        settings,
        convention,
        ImmersionCompleted(
            **_event_fields(convention, at), objectives_reached=objectives_reached, hired=hired
        ),
    )
    return convention


async def end(
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
    at = _now()
    await _move(
        session, convention, target, who, justification=justification, event_id=event_id, at=at
    )
    fields = _event_fields(convention, at)
    if target is ImmersionStatus.REJECTED:
        await _publish(
            session, settings, convention, ImmersionRejected(**fields, reason=justification)
        )
    else:
        await _publish(
            session,
            settings,
            convention,
            ImmersionCancelled(
                **fields,
                justification=justification,
                deprecated=target is ImmersionStatus.DEPRECATED,
            ),
        )
    return convention


async def deprecate_for_referral(
    session: AsyncSession,
    referral_id: uuid.UUID,
    justification: str,
    settings: DispositifsSettings,
    *,
    event_id: str,
) -> int:
    """The referral was withdrawn or expired: its conventions not yet validated are obsolete."""
    pending = await session.scalars(
        select(ImmersionConvention).where(
            ImmersionConvention.referral_id == referral_id,
            ImmersionConvention.status.in_(
                [
                    ImmersionStatus.REQUESTED.value,
                    ImmersionStatus.READY_TO_SIGN.value,
                    ImmersionStatus.PARTIALLY_SIGNED.value,
                    ImmersionStatus.SIGNED.value,
                ]
            ),
        )
    )
    count = 0
    for convention in list(pending):
        await end(
            session,
            convention,
            ImmersionStatus.DEPRECATED,
            Who(Actor.SYSTEM, settings.service_name),
            settings,
            justification=justification,
            event_id=event_id,
        )
        count += 1
    return count

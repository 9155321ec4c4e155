"""PMSMP conventions, as the counsellor says it: request, complete, mark ready, sign, validate,
start, complete with an assessment, reject, cancel, deprecate; and the periodic start of those
whose first day has come. Each use case takes its command, the caller and the session: it loads
the convention (locked), asks ``access.py`` whether the caller sees it, changes it, logs the
transition and stages its events in the caller's transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dispositifs.access import may_link_referral, sees
from dispositifs.domain.immersion import (
    EDITABLE_STATUSES,
    SIGNABLE_STATUSES,
    Actor,
    ImmersionStatus,
    PrescriberKind,
)
from dispositifs.models import ImmersionConvention, KnownReferral
from dispositifs.settings import DispositifsSettings
from dispositifs.use_cases.immersion_common import (
    CONTENT_COLUMNS,
    ImmersionRequest,
    Who,
    check_convention,
    end_convention,
    ensure,
    event_fields,
    move,
    now,
    open_convention,
    publish,
)
from shared.auth.tokens import OrganisationKind, Principal
from shared.contracts.dispositifs import ImmersionCompleted, ImmersionValidated
from shared.contracts.vocabulary import ImmersionObjet
from shared.domain.errors import (
    NotFound,
    RulesBroken,
    TransitionRefused,
    Violation,
    raise_if_any,
)
from shared.referentials import region_of

# -- commands --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestImmersion:
    """A counsellor's convention request: ``content`` maps the keys of ``CONTENT_COLUMNS`` to the
    values the client sent; the beneficiary comes from the referral, or ``job_seeker_id``."""

    content: dict[str, Any]
    referral_id: uuid.UUID | None = None
    job_seeker_id: uuid.UUID | None = None
    renewal_of: uuid.UUID | None = None
    rome_code: str | None = None


@dataclass(frozen=True)
class UpdateContent:
    convention_id: uuid.UUID
    changes: dict[str, Any]


@dataclass(frozen=True)
class MarkReady:
    convention_id: uuid.UUID


@dataclass(frozen=True)
class RecordSignature:
    convention_id: uuid.UUID
    signatory: Literal["beneficiary", "host"]


@dataclass(frozen=True)
class ValidateImmersion:
    convention_id: uuid.UUID


@dataclass(frozen=True)
class StartImmersion:
    convention_id: uuid.UUID
    today: date


@dataclass(frozen=True)
class CompleteImmersion:
    convention_id: uuid.UUID
    objectives_reached: bool
    hired: bool
    assessment: str | None = None


@dataclass(frozen=True)
class EndImmersion:
    """Reject, cancel or deprecate (``target``), with the justification."""

    convention_id: uuid.UUID
    target: ImmersionStatus
    justification: str


def _who(principal: Principal) -> Who:
    return Who(Actor.COUNSELLOR, principal.subject)


async def _load(
    session: AsyncSession, principal: Principal, convention_id: uuid.UUID
) -> ImmersionConvention:
    """The convention, locked, if the caller sees it."""
    convention = await session.scalar(
        select(ImmersionConvention).where(ImmersionConvention.id == convention_id).with_for_update()
    )
    if convention is None or not sees(principal, convention.structure_code):
        raise NotFound(f"Convention {convention_id} introuvable.")
    return convention


# -- request ---------------------------------------------------------------------------------------


async def request_immersion(
    session: AsyncSession,
    principal: Principal,
    command: RequestImmersion,
    settings: DispositifsSettings,
) -> ImmersionConvention:
    """A counsellor's convention request, for a referral of their structure or a job seeker;
    checked against every rule its terms allow to check (:class:`RulesBroken`, nothing kept)."""
    content = dict(command.content)
    # The counsellor's own organisation prescribes (France Travail, Cap emploi, mission locale).
    kind = principal.organisation_kind or OrganisationKind.FRANCE_TRAVAIL
    content.setdefault("prescriber.kind", PrescriberKind(kind.value).value)
    content.setdefault("prescriber.name", f"{kind.label} — {principal.organisation_code}")
    job_seeker_id, agency_id, rome_code = command.job_seeker_id, None, command.rome_code
    if command.referral_id is not None:
        known = await session.get(KnownReferral, command.referral_id)
        if not may_link_referral(principal, known):
            raise RulesBroken(
                [Violation("pmsmp.referral", "referral_id", "orientation inconnue ici")]
            )
        assert known is not None
        job_seeker_id, agency_id = known.job_seeker_id, known.agency_id
        rome_code = rome_code or known.rome_code
        content.setdefault("departement", known.departement)
    if job_seeker_id is None and command.renewal_of is None:
        raise RulesBroken(
            [
                Violation(
                    "pmsmp.beneficiary",
                    "job_seeker_id",
                    "le bénéficiaire est requis (orientation ou demandeur d'emploi)",
                )
            ]
        )
    return await open_convention(
        session,
        ImmersionRequest(
            content=content,
            referral_id=command.referral_id,
            job_seeker_id=job_seeker_id,
            agency_id=agency_id,
            structure_code=principal.organisation,
            rome_code=rome_code,
            renewal_of=command.renewal_of,
        ),
        _who(principal),
        settings,
    )


# -- the counsellor completes and moves the convention ---------------------------------------------


async def update_content(
    session: AsyncSession,
    principal: Principal,
    command: UpdateContent,
    settings: DispositifsSettings,
) -> ImmersionConvention:
    convention = await _load(session, principal, command.convention_id)
    if ImmersionStatus(convention.status) not in EDITABLE_STATUSES:
        raise TransitionRefused(
            f"une convention « {ImmersionStatus(convention.status).label} » ne se modifie plus : "
            "rendez-la obsolète et demandez-en une nouvelle"
        )
    for key, value in command.changes.items():
        setattr(convention, CONTENT_COLUMNS[key], value)
    if convention.renewal_of_id is not None and "host.siret" in command.changes:
        raise RulesBroken(
            [Violation("pmsmp.renewal", "host.siret", "un renouvellement garde la même structure")]
        )
    convention.region_code = region_of(convention.departement)
    convention.updated_at = now()
    raise_if_any(await check_convention(session, convention, settings, complete=False))
    return convention


async def mark_ready(
    session: AsyncSession, principal: Principal, command: MarkReady, settings: DispositifsSettings
) -> ImmersionConvention:
    """Every mandatory item filled in, every rule met: the convention can be signed."""
    convention = await _load(session, principal, command.convention_id)
    who = _who(principal)
    ensure(ImmersionStatus(convention.status), ImmersionStatus.READY_TO_SIGN, who)
    raise_if_any(await check_convention(session, convention, settings, complete=True))
    await move(session, convention, ImmersionStatus.READY_TO_SIGN, who, at=now())
    return convention


async def record_signature(
    session: AsyncSession, principal: Principal, command: RecordSignature
) -> ImmersionConvention:
    """The beneficiary's or the host's signature, as recorded by the counsellor."""
    convention = await _load(session, principal, command.convention_id)
    at = now()
    signatory = command.signatory
    column = {"beneficiary": "beneficiary_signed_at", "host": "host_signed_at"}[signatory]
    if getattr(convention, column) is not None:
        raise TransitionRefused(f"la signature « {signatory} » est déjà enregistrée")
    if ImmersionStatus(convention.status) not in SIGNABLE_STATUSES:
        raise TransitionRefused(
            f"une convention « {ImmersionStatus(convention.status).label} » ne se signe pas"
        )
    setattr(convention, column, at)
    both = convention.beneficiary_signed_at is not None and convention.host_signed_at is not None
    target = ImmersionStatus.SIGNED if both else ImmersionStatus.PARTIALLY_SIGNED
    await move(
        session, convention, target, _who(principal), comment=f"signature : {signatory}", at=at
    )
    return convention


async def validate(
    session: AsyncSession,
    principal: Principal,
    command: ValidateImmersion,
    settings: DispositifsSettings,
) -> ImmersionConvention:
    """The prescriber's counsellor validates: the rules are checked again (another convention of
    the same beneficiary and host may have been validated meanwhile)."""
    convention = await _load(session, principal, command.convention_id)
    who = _who(principal)
    ensure(ImmersionStatus(convention.status), ImmersionStatus.VALIDATED, who)
    raise_if_any(await check_convention(session, convention, settings, complete=True))
    at = now()
    await move(session, convention, ImmersionStatus.VALIDATED, who, at=at)
    convention.validated_at = at
    convention.validated_by = who.actor_id
    await publish(
        session,
        convention,
        ImmersionValidated(
            **event_fields(convention, at),
            objet=ImmersionObjet(convention.objet),
            start_date=convention.start_date,
            end_date=convention.end_date,
            host_name=convention.host_name,
            tutor_name=convention.tutor_name,
            tutor_email=convention.tutor_email,
        ),
    )
    return convention


async def _start(
    session: AsyncSession, convention: ImmersionConvention, who: Who, *, today: date
) -> ImmersionConvention:
    if convention.start_date > today:
        raise TransitionRefused(f"l'immersion commence le {convention.start_date:%d/%m/%Y}")
    await move(session, convention, ImmersionStatus.IN_PROGRESS, who, at=now())
    return convention


async def start(
    session: AsyncSession, principal: Principal, command: StartImmersion
) -> ImmersionConvention:
    convention = await _load(session, principal, command.convention_id)
    return await _start(session, convention, _who(principal), today=command.today)


async def start_due_conventions(session: AsyncSession, settings: DispositifsSettings) -> int:
    """Validated conventions whose first day has come are in progress (a periodic job: the caller
    is this service)."""
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
        await _start(session, convention, Who(Actor.SYSTEM, settings.service_name), today=today)
        count += 1
    return count


async def complete(
    session: AsyncSession,
    principal: Principal,
    command: CompleteImmersion,
    settings: DispositifsSettings,
) -> ImmersionConvention:
    convention = await _load(session, principal, command.convention_id)
    at = now()
    await move(
        session,
        convention,
        ImmersionStatus.COMPLETED,
        _who(principal),
        comment=command.assessment,
        at=at,
    )
    convention.objectives_reached = command.objectives_reached
    convention.hired = command.hired
    convention.assessment = command.assessment
    convention.completed_at = at
    await publish(
        session,
        convention,
        ImmersionCompleted(
            **event_fields(convention, at),
            objectives_reached=command.objectives_reached,
            hired=command.hired,
        ),
    )
    return convention


async def end(
    session: AsyncSession,
    principal: Principal,
    command: EndImmersion,
    settings: DispositifsSettings,
) -> ImmersionConvention:
    """Reject, cancel or deprecate, with the justification the national tool asks for."""
    convention = await _load(session, principal, command.convention_id)
    return await end_convention(
        session,
        convention,
        command.target,
        _who(principal),
        settings,
        justification=command.justification,
    )

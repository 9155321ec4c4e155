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
    apply_schedule,
    check_convention,
    end_convention,
    ensure,
    event_fields,
    move,
    now,
    open_convention,
    publish,
)
from dispositifs.use_cases.signatures import issue_signature_links
from shared.auth.tokens import OrganisationKind, Principal
from shared.contracts.dispositifs import ImmersionCompleted, ImmersionValidated
from shared.contracts.vocabulary import ImmersionObjet
from shared.domain.errors import (
    Forbidden,
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
class RenewImmersion:
    """A renewal prefilled from the original: same content, objet and objectives; new dates and
    the justification."""

    convention_id: uuid.UUID
    start_date: date
    end_date: date
    justification: str


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


#: What a renewal does not take from the original.
_NOT_RENEWED = {"start_date", "end_date", "renewal_justification"}


async def renew(
    session: AsyncSession,
    principal: Principal,
    command: RenewImmersion,
    settings: DispositifsSettings,
) -> ImmersionConvention:
    """D5135-3: the renewal of a convention, prefilled from it (objet and objectives kept),
    starting after its end, justified; every rule is checked (once only, objectives not reached,
    total within 60 days with the same host…)."""
    original = await _load(session, principal, command.convention_id)
    content = {
        key: getattr(original, column)
        for key, column in CONTENT_COLUMNS.items()
        if key not in _NOT_RENEWED
    }
    content.update(
        start_date=command.start_date,
        end_date=command.end_date,
        renewal_justification=command.justification,
    )
    return await open_convention(
        session,
        ImmersionRequest(
            content=content,
            referral_id=original.referral_id,
            job_seeker_id=original.job_seeker_id,
            agency_id=original.agency_id,
            structure_code=original.structure_code,
            rome_code=original.rome_code,
            renewal_of=original.id,
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
    """Complete or correct the content. After *requested* (ready to sign, partially signed,
    signed), every rule is checked again, every signature is reset and each party gets a new
    link (``signature_requested`` with reason ``modified`` tells them)."""
    convention = await _load(session, principal, command.convention_id)
    status = ImmersionStatus(convention.status)
    if status not in EDITABLE_STATUSES:
        raise TransitionRefused(
            f"une convention « {status.label} » ne se modifie plus : rendez-la obsolète et "
            "demandez-en une nouvelle"
        )
    for key, value in command.changes.items():
        setattr(convention, CONTENT_COLUMNS[key], value)
    if convention.renewal_of_id is not None and "host.siret" in command.changes:
        raise RulesBroken(
            [Violation("pmsmp.renewal", "host.siret", "un renouvellement garde la même structure")]
        )
    convention.region_code = region_of(convention.departement)
    apply_schedule(convention)
    convention.updated_at = now()
    after_ready = status is not ImmersionStatus.REQUESTED
    raise_if_any(await check_convention(session, convention, settings, complete=after_ready))
    if after_ready:
        at = now()
        # Two-step review: what was pre-validated is no longer what the parties will sign; the
        # corrected convention is pre-validated again before the validator decides.
        convention.pre_validated_at = None
        convention.pre_validated_by = None
        await move(
            session,
            convention,
            ImmersionStatus.READY_TO_SIGN,
            _who(principal),
            comment="convention modifiée : signatures remises à zéro, nouveaux liens envoyés",
            at=at,
        )
        await issue_signature_links(session, convention, settings, reason="modified", at=at)
    return convention


async def mark_ready(
    session: AsyncSession, principal: Principal, command: MarkReady, settings: DispositifsSettings
) -> ImmersionConvention:
    """Every mandatory item filled in, every rule met: the convention can be signed."""
    convention = await _load(session, principal, command.convention_id)
    who = _who(principal)
    ensure(ImmersionStatus(convention.status), ImmersionStatus.READY_TO_SIGN, who)
    raise_if_any(await check_convention(session, convention, settings, complete=True))
    at = now()
    await move(session, convention, ImmersionStatus.READY_TO_SIGN, who, at=at)
    # Each party gets its own link by mail (signature_requested).
    await issue_signature_links(session, convention, settings, reason="ready", at=at)
    return convention


async def record_signature(
    session: AsyncSession, principal: Principal, command: RecordSignature
) -> ImmersionConvention:
    """Refused: each party signs through its own link; the counsellor signs for no one."""
    await _load(session, principal, command.convention_id)
    raise Forbidden(
        "Le conseiller ne peut pas signer à la place d'une partie : chaque partie signe la "
        "convention par son propre lien, reçu par courriel (renvoyez-lui son lien au besoin).",
        code="sign-by-own-link",
    )


async def validate(
    session: AsyncSession,
    principal: Principal,
    command: ValidateImmersion,
    settings: DispositifsSettings,
) -> ImmersionConvention:
    """The prescriber's counsellor validates: the rules are checked again (another convention of
    the same beneficiary and host may have been validated meanwhile). Under the two-step review
    the first call is the pre-validation (any counsellor of the structure), the second the
    decision (a validator, ``Principal.pmsmp_validator``, other than the pre-validator)."""
    convention = await _load(session, principal, command.convention_id)
    who = _who(principal)
    ensure(ImmersionStatus(convention.status), ImmersionStatus.VALIDATED, who)
    raise_if_any(await check_convention(session, convention, settings, complete=True))
    at = now()
    if settings.two_step_review(convention.structure_code):
        # Two-step review (immersion-facile's agencies with counsellors and validators): any
        # counsellor of the structure pre-validates; the decision is the validator's — a
        # counsellor whose token carries ``pmsmp_validator`` — and never the pre-validator's.
        if convention.pre_validated_at is None:
            convention.pre_validated_at = at
            convention.pre_validated_by = who.actor_id
            convention.updated_at = at
            return convention
        if not principal.pmsmp_validator:
            raise Forbidden(
                "Validation en deux temps : la convention est pré-validée ; seul un valideur "
                "de la structure (conseiller habilité à valider les PMSMP) peut la valider.",
                code="validator-required",
            )
        if convention.pre_validated_by == who.actor_id:
            raise Forbidden(
                "Validation en deux temps : la convention pré-validée par vous doit être "
                "validée par un autre conseiller (le valideur).",
                code="two-step-review",
            )
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
            departement=convention.departement,
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
        # The job's lease keeps it to one replica at a time; the row locks keep two runs that
        # overlap anyway (a lease lost mid-run) from starting one convention twice.
        .with_for_update(skip_locked=True)
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
    today = now().date()
    if today < convention.end_date:
        raise TransitionRefused(
            "La convention ne peut être terminée qu'à partir de son dernier jour "
            f"({convention.end_date:%d/%m/%Y}) ; le tuteur en fait le bilan par son lien."
        )
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
    convention.assessed_by = "counsellor"
    convention.completed_at = at
    await publish(
        session,
        convention,
        ImmersionCompleted(
            **event_fields(convention, at),
            objectives_reached=command.objectives_reached,
            hired=command.hired,
            assessed_by="counsellor",
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

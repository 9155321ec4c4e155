"""What the referral service does, as the business says it. Each use case works inside the
caller's transaction: the change, its transition log and its outbox events commit together.

Use cases raise :class:`ProblemError` for bad input from people (HTTP answers it as problem+json)
and :class:`PermanentError` for events that can never apply (the consumer dead-letters them).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from stdnum.fr import siret as siret_number

from referral.domain import (
    ANSWER_ACTIONS,
    OPEN_STATUSES,
    TRANSITIONS,
    Action,
    Actor,
    ConsentScope,
    HardToFillSource,
    ReferralStatus,
    Scheme,
    TransitionNotAllowed,
    apply,
    priority_publics,
)
from referral.models import (
    PLATFORM,
    Agency,
    AgencySpecialisation,
    Consent,
    JobOffer,
    JobSeeker,
    Referral,
    ReferralSchemeEvent,
    ReferralTransition,
)
from referral.networks import FORBIDDEN, register_network
from referral.referentials import departements, rome_codes
from shared.auth.tokens import Principal
from shared.contracts import agency as answers
from shared.contracts.agency_feed import (
    Candidate,
    ImmersionRequestRejected,
    ReferralExpiredForAgency,
    ReferralReceived,
    ReferralWithdrawnFromAgency,
)
from shared.contracts.base import EventData
from shared.contracts.referral import (
    ReferralClosed,
    ReferralExpired,
    ReferralImmersionRequested,
    ReferralSent,
    ReferralStatusChanged,
    ReferralWithdrawn,
)
from shared.contracts.topics import agency_feed
from shared.contracts.vocabulary import ContractType
from shared.http.problems import FieldError, ProblemError
from shared.messaging.consumer import PermanentError
from shared.messaging.outbox import add_event

INVALID = "Requête invalide"


def invalid(field_name: str, message: str, detail: str, *, location: str = "body") -> ProblemError:
    """422 problem naming the field at fault."""
    return ProblemError(
        422,
        INVALID,
        detail,
        problem="validation-error",
        errors=[FieldError(field_name, message, location)],
    )


def not_found(what: str) -> ProblemError:
    return ProblemError(404, "Ressource introuvable", f"{what} introuvable.")


def check_rome_code(code: str, field_name: str = "rome_code") -> None:
    if code not in rome_codes():
        raise invalid(
            field_name, "code ROME inconnu", f"Code ROME {code} inconnu du référentiel ROME 4.0."
        )


def region_of(departement: str, field_name: str = "departement") -> str:
    try:
        return departements()[departement][1]
    except KeyError:
        raise invalid(
            field_name, "département inconnu", f"Département {departement} inconnu."
        ) from None


# -- agencies -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AgencyInput:
    id: str
    name: str
    network_id: str
    siret: str
    departement: str
    address: str | None = None
    email: str | None = None
    rome_codes: tuple[str, ...] = ()


def _check_siret(value: str) -> str:
    # Luhn, with La Poste's exception (SIREN 356000000: digit sum multiple of 5): python-stdnum.
    if not siret_number.is_valid(value):
        raise invalid("siret", "SIRET invalide", f"SIRET {value} invalide (14 chiffres, Luhn).")
    return siret_number.compact(value)


def _check_rome_list(codes: Iterable[str]) -> list[str]:
    unique = sorted(set(codes))
    for index, code in enumerate(codes):
        check_rome_code(code, f"rome_codes.{index}")
    return unique


async def create_agency(session: AsyncSession, data: AgencyInput) -> Agency:
    siret = _check_siret(data.siret)
    region = region_of(data.departement)
    codes = _check_rome_list(data.rome_codes)
    if await session.get(Agency, data.id) is not None:
        raise ProblemError(
            409, "Conflit", f"L'agence {data.id} existe déjà.", problem="agency-exists"
        )
    if await session.scalar(select(Agency.id).where(Agency.siret == siret)) is not None:
        raise invalid("siret", "SIRET déjà enregistré", f"Une agence a déjà le SIRET {siret}.")
    # An agency of a network not seen before onboards the network (its topics follow).
    await register_network(session, data.network_id)
    agency = Agency(
        id=data.id,
        name=data.name,
        network_id=data.network_id,
        siret=siret,
        address=data.address,
        departement=data.departement,
        region=region,
        email=data.email,
        active=True,
        specialisations=[AgencySpecialisation(rome_code=code) for code in codes],
    )
    session.add(agency)
    await session.flush()
    return agency


async def update_agency(session: AsyncSession, agency_id: str, changes: dict[str, Any]) -> Agency:
    agency = await session.get(Agency, agency_id, with_for_update=True)
    if agency is None:
        raise not_found(f"Agence {agency_id}")
    if "siret" in changes:
        siret = _check_siret(changes["siret"])
        other = await session.scalar(
            select(Agency.id).where(Agency.siret == siret, Agency.id != agency_id)
        )
        if other is not None:
            raise invalid("siret", "SIRET déjà enregistré", f"Une agence a déjà le SIRET {siret}.")
        agency.siret = siret
    if "departement" in changes:
        agency.region = region_of(changes["departement"])
        agency.departement = changes["departement"]
    if "rome_codes" in changes:
        codes = _check_rome_list(changes["rome_codes"])
        agency.specialisations = [AgencySpecialisation(rome_code=code) for code in codes]
    if "network_id" in changes:
        await register_network(session, changes["network_id"])
    for name in ("name", "network_id", "address", "email", "active"):
        if name in changes:
            setattr(agency, name, changes[name])
    await session.flush()
    return agency


# -- job seekers and consent ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JobSeekerInput:
    ft_identifier: str
    first_name: str
    last_name: str
    email: str | None = None
    departement: str | None = None
    phone: str | None = None
    birth_date: date | None = None
    rqth: bool | None = None
    brsa: bool | None = None
    deld: bool | None = None
    qpv: bool | None = None


_JOB_SEEKER_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "departement",
    "phone",
    "birth_date",
    "rqth",
    "brsa",
    "deld",
    "qpv",
)


async def upsert_job_seeker(
    session: AsyncSession,
    data: JobSeekerInput,
    counsellor: Principal,
    *,
    provided: Iterable[str] | None = None,
) -> tuple[JobSeeker, bool]:
    """Create the job seeker's record or update it by France Travail identifier; ``provided``
    limits the update to the fields the caller sent (an absent flag is not a "no")."""
    if data.departement is not None:
        region_of(data.departement, "job_seeker.departement")
    now = datetime.now(UTC)
    job_seeker = await session.scalar(
        select(JobSeeker).where(JobSeeker.ft_identifier == data.ft_identifier)
    )
    created = job_seeker is None
    if job_seeker is None:
        job_seeker = JobSeeker(
            id=uuid.uuid4(),
            ft_identifier=data.ft_identifier,
            structure_code=counsellor.ft_structure,
            created_at=now,
            rqth=False,
            brsa=False,
            deld=False,
            qpv=False,
        )
        session.add(job_seeker)
    fields = set(provided) if provided is not None else set(_JOB_SEEKER_FIELDS)
    for name in _JOB_SEEKER_FIELDS:
        value = getattr(data, name)
        if name in fields and not (value is None and name in {"rqth", "brsa", "deld", "qpv"}):
            setattr(job_seeker, name, value)
    job_seeker.updated_at = now
    await session.flush()
    return job_seeker, created


def publics_of(job_seeker: JobSeeker, on: date, senior_age: int) -> frozenset[Any]:
    return priority_publics(
        birth_date=job_seeker.birth_date,
        on=on,
        rqth=job_seeker.rqth,
        brsa=job_seeker.brsa,
        deld=job_seeker.deld,
        qpv=job_seeker.qpv,
        senior_age=senior_age,
    )


async def record_consent(
    session: AsyncSession,
    job_seeker_id: uuid.UUID,
    agency_id: str,
    scope: ConsentScope,
    counsellor: Principal,
    *,
    granted_at: datetime | None = None,
) -> Consent:
    if await session.get(JobSeeker, job_seeker_id) is None:
        raise not_found(f"Demandeur d'emploi {job_seeker_id}")
    if await session.get(Agency, agency_id) is None:
        raise invalid("agency_id", "agence inconnue", f"Agence {agency_id} inconnue.")
    consent = Consent(
        id=uuid.uuid4(),
        job_seeker_id=job_seeker_id,
        agency_id=agency_id,
        scope=scope.value,
        granted_at=granted_at or datetime.now(UTC),
        recorded_by=counsellor.subject,
        structure_code=counsellor.ft_structure,
    )
    session.add(consent)
    await session.flush()
    return consent


async def withdraw_consent(
    session: AsyncSession, job_seeker_id: uuid.UUID, consent_id: uuid.UUID, who: Principal
) -> Consent:
    consent = await session.get(Consent, consent_id, with_for_update=True)
    if consent is None or consent.job_seeker_id != job_seeker_id:
        raise not_found(f"Consentement {consent_id}")
    if consent.withdrawn_at is None:
        consent.withdrawn_at = datetime.now(UTC)
        consent.withdrawn_by = who.subject
    return consent


async def consented_scopes(
    session: AsyncSession, job_seeker_id: uuid.UUID, agency_id: str
) -> set[ConsentScope]:
    rows = await session.scalars(
        select(Consent.scope).where(
            Consent.job_seeker_id == job_seeker_id,
            Consent.agency_id == agency_id,
            Consent.withdrawn_at.is_(None),
        )
    )
    return {ConsentScope(scope) for scope in rows}


# -- offers -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OfferInput:
    title: str
    rome_code: str
    departement: str
    contract_type: ContractType
    posts: int = 1
    hard_to_fill: bool = False
    hard_to_fill_source: HardToFillSource | None = None
    ft_offer_id: str | None = None


async def create_offer(session: AsyncSession, data: OfferInput, counsellor: Principal) -> JobOffer:
    check_rome_code(data.rome_code)
    region = region_of(data.departement)
    if data.hard_to_fill and data.hard_to_fill_source is None:
        raise invalid(
            "hard_to_fill_source",
            "source obligatoire pour un métier en tension",
            "Un métier en tension se déclare avec sa source (BMO, liste régionale, offre).",
        )
    if not data.hard_to_fill and data.hard_to_fill_source is not None:
        raise invalid(
            "hard_to_fill_source",
            "source sans métier en tension",
            "Une source n'a de sens que pour une offre en tension (hard_to_fill).",
        )
    if data.ft_offer_id is not None:
        existing = await session.scalar(
            select(JobOffer.id).where(JobOffer.ft_offer_id == data.ft_offer_id)
        )
        if existing is not None:
            raise invalid(
                "ft_offer_id",
                "offre France Travail déjà enregistrée",
                f"L'offre France Travail {data.ft_offer_id} est déjà enregistrée ({existing}).",
            )
    offer = JobOffer(
        id=uuid.uuid4(),
        title=data.title,
        rome_code=data.rome_code,
        departement=data.departement,
        region=region,
        contract_type=data.contract_type.value,
        posts=data.posts,
        hard_to_fill=data.hard_to_fill,
        hard_to_fill_source=data.hard_to_fill_source.value if data.hard_to_fill_source else None,
        ft_offer_id=data.ft_offer_id,
        created_by=counsellor.subject,
        structure_code=counsellor.ft_structure,
        created_at=datetime.now(UTC),
    )
    session.add(offer)
    await session.flush()
    return offer


# -- referrals ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SendReferral:
    agency_id: str
    message: str
    job_seeker: JobSeekerInput | None = None
    job_seeker_id: uuid.UUID | None = None
    rome_code: str | None = None
    offer_id: uuid.UUID | None = None
    share_identity: bool = False
    share_rqth: bool = False
    #: Fields of ``job_seeker`` the caller actually sent (None: all).
    job_seeker_fields: frozenset[str] | None = None


OPEN_REFERRAL_EXISTS = "referral-already-open"


def open_referral_conflict(existing: uuid.UUID | None = None) -> ProblemError:
    """One open referral per job seeker, agency and offer (issue 3)."""
    return ProblemError(
        409,
        "Orientation déjà ouverte",
        "Une orientation de ce demandeur d'emploi vers cette agence"
        " (pour cette offre) est déjà en cours.",
        problem=OPEN_REFERRAL_EXISTS,
        errors=[FieldError("agency_id", "orientation déjà en cours vers cette agence")],
        extra={"existing_referral_id": str(existing)} if existing else None,
    )


async def send_referral(
    session: AsyncSession,
    command: SendReferral,
    counsellor: Principal,
    *,
    source: str,
    senior_age: int = 50,
    answer_within: timedelta | None = None,
) -> Referral:
    offer: JobOffer | None = None
    if command.offer_id is not None:
        offer = await session.get(JobOffer, command.offer_id)
        if offer is None:
            raise invalid("offer_id", "offre inconnue", f"Offre {command.offer_id} inconnue.")
    rome_code = command.rome_code or (offer.rome_code if offer else None)
    if rome_code is None:
        raise invalid("rome_code", "Field required", "Code ROME ou offre obligatoire.")
    check_rome_code(rome_code)
    if offer is not None and offer.rome_code != rome_code:
        raise invalid(
            "rome_code",
            "différent du code ROME de l'offre",
            f"L'offre {offer.id} porte le code ROME {offer.rome_code}, pas {rome_code}.",
        )
    agency = await session.get(Agency, command.agency_id)
    if agency is None:
        raise invalid("agency_id", "agence inconnue", f"Agence {command.agency_id} inconnue.")
    if not agency.active:
        raise invalid("agency_id", "agence inactive", f"Agence {agency.id} désactivée.")

    if command.job_seeker is not None:
        job_seeker, _ = await upsert_job_seeker(
            session, command.job_seeker, counsellor, provided=command.job_seeker_fields
        )
    elif command.job_seeker_id is not None:
        found = await session.get(JobSeeker, command.job_seeker_id)
        if found is None:
            raise invalid(
                "job_seeker_id",
                "demandeur d'emploi inconnu",
                f"Demandeur d'emploi {command.job_seeker_id} inconnu.",
            )
        job_seeker = found
    else:
        raise invalid("job_seeker", "Field required", "job_seeker ou job_seeker_id obligatoire.")

    # Personal data leaves only with the job seeker's recorded consent for this agency; RQTH is
    # health data (CNIL, RGPD art. 9): explicit consent, never by default.
    scopes = await consented_scopes(session, job_seeker.id, agency.id)
    if command.share_identity and ConsentScope.IDENTITY not in scopes:
        raise invalid(
            "share_identity",
            "consentement manquant",
            "Aucun consentement enregistré pour partager l'identité avec cette agence.",
        )
    if command.share_rqth:
        if not job_seeker.rqth:
            raise invalid(
                "share_rqth",
                "pas de RQTH enregistrée",
                "Le demandeur d'emploi n'a pas de RQTH enregistrée.",
            )
        if ConsentScope.RQTH not in scopes:
            raise invalid(
                "share_rqth",
                "consentement explicite manquant",
                "La RQTH ne se partage qu'avec le consentement explicite du demandeur d'emploi"
                " pour cette agence.",
            )

    existing = await session.scalar(
        select(Referral.id).where(
            Referral.job_seeker_id == job_seeker.id,
            Referral.agency_id == agency.id,
            Referral.offer_id.is_(None) if offer is None else Referral.offer_id == offer.id,
            Referral.status.in_([s.value for s in OPEN_STATUSES]),
        )
    )
    if existing is not None:
        raise open_referral_conflict(existing)

    now = datetime.now(UTC)
    publics = publics_of(job_seeker, now.date(), senior_age)
    departement = offer.departement if offer else agency.departement
    status = apply(None, Action.SEND, Actor.COUNSELLOR)
    referral = Referral(
        id=uuid.uuid4(),
        job_seeker_id=job_seeker.id,
        agency_id=agency.id,
        network_id=agency.network_id,
        offer_id=offer.id if offer else None,
        rome_code=rome_code,
        departement=departement,
        region=offer.region if offer else agency.region,
        message=command.message,
        status=status.value,
        counsellor_id=counsellor.subject,
        structure_code=counsellor.ft_structure,
        identity_shared=command.share_identity,
        rqth_shared=command.share_rqth,
        created_at=now,
        updated_at=now,
        **{f"public_{p.value}": True for p in publics},
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
    await _publish(
        session,
        ReferralSent(
            **_routing(referral),
            job_seeker_id=job_seeker.id,
            rome_code=referral.rome_code,
            departement=departement,
            offer_id=referral.offer_id,
            sent_at=now,
        ),
        referral,
        source,
        now,
    )
    # The agency's network learns of it on its own feed; identity and RQTH only as consented.
    candidate = None
    if referral.identity_shared:
        candidate = Candidate(
            ft_identifier=job_seeker.ft_identifier,
            first_name=job_seeker.first_name,
            last_name=job_seeker.last_name,
            email=job_seeker.email,
            phone=job_seeker.phone,
            rqth=job_seeker.rqth if referral.rqth_shared else None,
        )
    await _publish_to_network(
        session,
        ReferralReceived(
            referral_id=referral.id,
            agency_id=referral.agency_id,
            network_id=referral.network_id,
            rome_code=referral.rome_code,
            rome_label=rome_codes().get(referral.rome_code),
            offer_id=referral.offer_id,
            offer_title=offer.title if offer else None,
            message=referral.message,
            structure_code=referral.structure_code,
            identity_shared=referral.identity_shared,
            candidate=candidate,
            sent_at=now,
            answer_before=now + answer_within if answer_within else None,
        ),
        referral,
        source,
        now,
    )
    return referral


def _routing(referral: Referral) -> dict[str, Any]:
    return {
        "referral_id": referral.id,
        "agency_id": referral.agency_id,
        "network_id": referral.network_id,
        "counsellor_id": referral.counsellor_id,
        "structure_code": referral.structure_code,
    }


async def _publish(
    session: AsyncSession, event: EventData, referral: Referral, source: str, at: datetime
) -> None:
    await add_event(
        session, PLATFORM, event, source=source, subject=f"referrals/{referral.id}", occurred_at=at
    )


async def _publish_to_network(
    session: AsyncSession, event: EventData, referral: Referral, source: str, at: datetime
) -> None:
    """Stage an event on the feed of the network the referral is addressed to."""
    await add_event(
        session,
        PLATFORM,
        event,
        source=source,
        subject=f"referrals/{referral.id}",
        topic=agency_feed(referral.network_id).name,
        occurred_at=at,
    )


@dataclass(frozen=True, slots=True)
class _Logged:
    action: Action
    actor: Actor
    actor_id: str
    occurred_at: datetime
    comment: str | None = None
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    event_id: str | None = None


def _log(
    referral: Referral, current: ReferralStatus, target: ReferralStatus, entry: _Logged
) -> ReferralTransition:
    now = datetime.now(UTC)
    referral.status = target.value
    referral.updated_at = now
    if target.is_final:
        referral.finished_at = entry.occurred_at
    return ReferralTransition(
        referral_id=referral.id,
        from_status=current.value,
        to_status=target.value,
        action=entry.action.value,
        actor=entry.actor.value,
        actor_id=entry.actor_id,
        comment=entry.comment,
        reason=entry.reason,
        details=entry.details or None,
        occurred_at=entry.occurred_at,
        recorded_at=now,
        event_id=entry.event_id,
    )


async def _locked_referral(session: AsyncSession, referral_id: uuid.UUID) -> Referral | None:
    return await session.scalar(
        select(Referral).where(Referral.id == referral_id).with_for_update()
    )


async def withdraw_referral(
    session: AsyncSession,
    referral_id: uuid.UUID,
    reason: str,
    counsellor: Principal,
    *,
    source: str,
) -> Referral:
    referral = await _locked_referral(session, referral_id)
    if referral is None or referral.structure_code != counsellor.ft_structure:
        raise not_found(f"Orientation {referral_id}")
    current = ReferralStatus(referral.status)
    try:
        target = apply(current, Action.WITHDRAW, Actor.COUNSELLOR)
    except TransitionNotAllowed as exc:
        raise ProblemError(
            409,
            "Transition impossible",
            f"Une orientation « {current.label} » ne peut plus être retirée.",
            problem="transition-not-allowed",
            extra={"status": current.value},
        ) from exc
    now = datetime.now(UTC)
    session.add(
        _log(
            referral,
            current,
            target,
            _Logged(Action.WITHDRAW, Actor.COUNSELLOR, counsellor.subject, now, reason=reason),
        )
    )
    await _publish(
        session,
        ReferralWithdrawn(**_routing(referral), reason=reason, withdrawn_at=now),
        referral,
        source,
        now,
    )
    await _publish_to_network(
        session,
        ReferralWithdrawnFromAgency(
            referral_id=referral.id,
            agency_id=referral.agency_id,
            network_id=referral.network_id,
            reason=reason,
            withdrawn_at=now,
        ),
        referral,
        source,
        now,
    )
    return referral


#: Which action each agency answer asks for.
ANSWER_ACTION: dict[type[answers.AgencyResponse], Action] = {
    answers.ReferralAcknowledged: Action.ACKNOWLEDGE,
    answers.ReferralAccepted: Action.ACCEPT,
    answers.ReferralDeclined: Action.DECLINE,
    answers.InterviewScheduled: Action.SCHEDULE_INTERVIEW,
    answers.ImmersionRequested: Action.REQUEST_IMMERSION,
    answers.PlacementStarted: Action.START_PLACEMENT,
    answers.PlacementEnded: Action.END_PLACEMENT,
}

_COMMON_ANSWER_FIELDS = frozenset({"referral_id", "agency_id", "occurred_at", "comment"})


async def apply_agency_response(
    session: AsyncSession,
    response: answers.AgencyResponse,
    *,
    network_id: str | None,
    event_id: str,
    source: str,
) -> Referral:
    """Apply an agency's answer, or raise :class:`PermanentError` (dead-letter) saying why.

    ``network_id`` is the network whose response topic carried the answer: an answer is applied
    only to a referral addressed to that network, naming one of that network's agencies (the
    networks are competitors). Nothing is written before every check has passed, so a refused
    answer leaves no trace but the audit record of the dead letter."""
    action = ANSWER_ACTION[type(response)]
    facts = {"referral_id": str(response.referral_id), "agency_id": response.agency_id}
    if network_id is None:
        raise PermanentError(
            "answer not received on an agency network's response topic",
            details={**facts, "kind": FORBIDDEN},
        )
    referral = await _locked_referral(session, response.referral_id)
    if referral is None:
        raise PermanentError(
            f"unknown referral {response.referral_id}", details={**facts, "kind": "unknown"}
        )
    if referral.network_id != network_id:
        raise PermanentError(
            f"referral {response.referral_id} is not addressed to network {network_id}",
            details={**facts, "kind": FORBIDDEN},
        )
    agency = await session.get(Agency, response.agency_id)
    if agency is None or agency.network_id != network_id:
        raise PermanentError(
            f"agency {response.agency_id} does not belong to network {network_id}",
            details={**facts, "kind": FORBIDDEN},
        )
    if referral.agency_id != response.agency_id:
        raise PermanentError(
            f"referral {response.referral_id} is not addressed to agency {response.agency_id}",
            details={**facts, "kind": "wrong_agency"},
        )
    current = ReferralStatus(referral.status)
    try:
        target = apply(current, action, Actor.AGENCY)
    except TransitionNotAllowed as exc:
        raise PermanentError(str(exc), details={**facts, "kind": "not_allowed"}) from exc

    details = response.model_dump(mode="json", exclude=set(_COMMON_ANSWER_FIELDS))
    reason: str | None = None
    occurred_at = response.occurred_at
    if action in ANSWER_ACTIONS and referral.first_answer_at is None:
        referral.first_answer_at = occurred_at
    if isinstance(response, answers.ReferralAccepted):
        referral.accepted_at = occurred_at
    elif isinstance(response, answers.ReferralDeclined):
        reason = response.reason.value
        referral.declined_at = occurred_at
        referral.decline_reason = response.reason.value
    elif isinstance(response, answers.PlacementStarted):
        referral.placed_at = occurred_at
        referral.placement_contract_type = response.contract_type.value
        referral.placement_start_date = response.start_date
        referral.placement_expected_end_date = response.expected_end_date
        referral.placement_weekly_hours = response.weekly_hours
    elif isinstance(response, answers.PlacementEnded):
        reason = response.reason
        referral.placement_end_date = response.end_date

    session.add(
        _log(
            referral,
            current,
            target,
            _Logged(
                action,
                Actor.AGENCY,
                response.agency_id,
                occurred_at,
                comment=response.comment,
                reason=reason,
                details=details,
                event_id=event_id,
            ),
        )
    )
    event = _event_for(referral, response, current, target, details)
    await _publish(session, event, referral, source, occurred_at)
    return referral


def _event_for(
    referral: Referral,
    response: answers.AgencyResponse,
    current: ReferralStatus,
    target: ReferralStatus,
    details: dict[str, Any],
) -> EventData:
    """What ``referral.events`` learns of an applied answer."""
    routing = _routing(referral)
    if isinstance(response, answers.ImmersionRequested):
        # Checked above: the referral is addressed to this agency and still in progress.
        return ReferralImmersionRequested(
            **routing,
            job_seeker_id=referral.job_seeker_id,
            rome_code=referral.rome_code,
            objet=response.objet,
            start_date=response.start_date,
            end_date=response.end_date,
            weekly_hours=response.weekly_hours,
            host_name=response.host_name,
            host_siret=response.host_siret,
            host_address=response.host_address,
            tutor_name=response.tutor_name,
            tutor_function=response.tutor_function,
            tutor_email=response.tutor_email,
            objectives=response.objectives,
            tasks=response.tasks,
            requested_at=response.occurred_at,
        )
    if isinstance(response, answers.PlacementEnded):
        return ReferralClosed(
            **routing, closed_at=response.occurred_at, placement_end_date=response.end_date
        )
    return ReferralStatusChanged(
        **routing,
        from_status=current.value,
        to_status=target.value,
        action=ANSWER_ACTION[type(response)].value,
        decline_reason=response.reason if isinstance(response, answers.ReferralDeclined) else None,
        contract_type=(
            response.contract_type if isinstance(response, answers.PlacementStarted) else None
        ),
        placement_start_date=(
            response.start_date if isinstance(response, answers.PlacementStarted) else None
        ),
        placement_end_date=(
            response.expected_end_date if isinstance(response, answers.PlacementStarted) else None
        ),
        details=details,
        occurred_at=response.occurred_at,
    )


async def expire_due_referrals(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    delay: timedelta,
    source: str,
    now: datetime | None = None,
    batch_size: int = 200,
) -> list[uuid.UUID]:
    """Expire the referrals left unanswered ``delay`` after they were sent (issue 3: 30 days by
    default). One short transaction per referral, re-checked under lock: safe for every replica
    to run at once, and a run cut short leaves nothing half-done."""
    now = now or datetime.now(UTC)
    deadline = now - delay
    expirable = sorted(s.value for s in TRANSITIONS[Action.EXPIRE].sources if s is not None)
    async with session_factory() as session:
        due = list(
            await session.scalars(
                select(Referral.id)
                .where(and_(Referral.status.in_(expirable), Referral.created_at <= deadline))
                .order_by(Referral.created_at)
                .limit(batch_size)
            )
        )
    expired: list[uuid.UUID] = []
    for referral_id in due:
        async with session_factory() as session, session.begin():
            referral = await _locked_referral(session, referral_id)
            if referral is None or referral.status not in expirable:
                continue  # answered (or expired by another replica) since the query
            current = ReferralStatus(referral.status)
            target = apply(current, Action.EXPIRE, Actor.SYSTEM)
            session.add(
                _log(
                    referral,
                    current,
                    target,
                    _Logged(
                        Action.EXPIRE,
                        Actor.SYSTEM,
                        "referral-expiry",
                        now,
                        reason=f"sans réponse {_days(delay)} après l'envoi",
                    ),
                )
            )
            expired_event = ReferralExpired(**_routing(referral), expired_at=now)
            await _publish(session, expired_event, referral, source, now)
            await _publish_to_network(
                session,
                ReferralExpiredForAgency(
                    referral_id=referral.id,
                    agency_id=referral.agency_id,
                    network_id=referral.network_id,
                    expired_at=now,
                ),
                referral,
                source,
                now,
            )
            expired.append(referral_id)
    return expired


def _days(delay: timedelta) -> str:
    days = delay.total_seconds() / 86400
    return f"{days:g} jours" if days >= 1 else f"{delay.total_seconds():g} secondes"


# -- dispositifs events --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SchemeFact:
    """A dispositifs event as the referral's timeline and indicators need it."""

    referral_id: uuid.UUID
    event_id: str
    event_type: str
    scheme: Scheme
    scheme_ref: str
    label: str
    hired: bool | None
    data: dict[str, Any]
    occurred_at: datetime


async def record_scheme_event(session: AsyncSession, fact: SchemeFact) -> bool:
    """Keep a dispositifs event on its referral's timeline. False if it was already there."""
    if await session.get(Referral, fact.referral_id) is None:
        raise PermanentError(f"unknown referral {fact.referral_id}")
    already = await session.scalar(
        select(ReferralSchemeEvent.id).where(ReferralSchemeEvent.event_id == fact.event_id)
    )
    if already is not None:
        return False
    session.add(
        ReferralSchemeEvent(
            referral_id=fact.referral_id,
            event_id=fact.event_id,
            event_type=fact.event_type,
            scheme=fact.scheme.value,
            scheme_ref=fact.scheme_ref,
            label=fact.label,
            hired=fact.hired,
            data=fact.data,
            occurred_at=fact.occurred_at,
            recorded_at=datetime.now(UTC),
        )
    )
    return True


async def tell_network_immersion_rejected(
    session: AsyncSession,
    referral_id: uuid.UUID,
    *,
    reason: str,
    article: str | None,
    rejected_at: datetime,
    source: str,
) -> None:
    """The agency asked for the immersion: it learns on its feed why it was refused."""
    referral = await session.get(Referral, referral_id)
    if referral is None:
        return
    await _publish_to_network(
        session,
        ImmersionRequestRejected(
            referral_id=referral.id,
            agency_id=referral.agency_id,
            network_id=referral.network_id,
            reason=reason,
            article=article,
            rejected_at=rejected_at,
        ),
        referral,
        source,
        rejected_at,
    )

"""Referrals as counsellors make them: send one to an agency (the agency's network learns of it on
its own feed, with the job seeker's identity only as consented), withdraw one with a reason."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from referral import access
from referral.adapters import referral_rows
from referral.adapters.referral_rows import AddressedAgency, ReferralRows, addressed_agency
from referral.domain import (
    OPEN_STATUSES,
    Action,
    Actor,
    ConsentScope,
    PriorityPublic,
    PublicsRules,
    ReferralStatus,
    TransitionNotAllowed,
    transition,
)
from referral.domain.errors import ReferralAlreadyOpen, ReferralTransitionRefused
from referral.models import OUTBOX, JobOffer, JobSeeker, Referral
from referral.use_cases.audit import access_entry
from referral.use_cases.common import (
    Logged,
    agency_names_of,
    check_rome_code,
    first_transition,
    invalid,
    locked_referral,
    move,
    network_staged,
    not_found,
    publish_with_network,
    routing,
)
from referral.use_cases.consents import candidate_of, pending_consents, take_consents
from referral.use_cases.job_seekers import (
    JobSeekerInput,
    publics_of,
    upsert_job_seeker,
)
from shared import referentials
from shared.auth.tokens import Principal
from shared.contracts.agency_feed import ReferralReceived, ReferralWithdrawnFromAgency
from shared.contracts.referral import ReferralSent, ReferralWithdrawn
from shared.domain.errors import FieldIssue, Forbidden
from shared.messaging.outbox import Staged, mark_pending


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


@dataclass(frozen=True, slots=True)
class WithdrawReferral:
    referral_id: uuid.UUID
    reason: str


OPEN_REFERRAL_EXISTS = "referral-already-open"


def open_referral_conflict(existing: uuid.UUID | None = None) -> ReferralAlreadyOpen:
    """One open referral per job seeker, agency and offer or ROME code (issues 3 and 12)."""
    return ReferralAlreadyOpen(
        "Une orientation de ce demandeur d'emploi vers cette agence"
        " (pour cette offre, ou sans offre pour ce métier) est déjà en cours.",
        code=OPEN_REFERRAL_EXISTS,
        errors=[FieldIssue("agency_id", "orientation déjà en cours vers cette agence")],
        extra={"existing_referral_id": str(existing)} if existing else None,
    )


# -- send ----------------------------------------------------------------------------------------


async def send_referral(
    session: AsyncSession,
    command: SendReferral,
    counsellor: Principal,
    *,
    senior_age: int = 50,
    answer_within: timedelta | None = None,
    publics_rules: PublicsRules | None = None,
    rows: ReferralRows | None = None,
) -> Referral:
    """Check the offer, the trade, the agency, the job seeker and what may be shared; refuse a
    second open referral; record the referral and its first transition; tell
    ``referral.events`` and the agency's network.

    With ``rows`` (``POST /v1/referrals``), the referral's rows and its two outbox rows are left
    in ``rows``, unwritten: the caller writes them with :func:`write_sent`, in the same
    transaction, together with its own (the Idempotency-Key's row), in one hand-off. (When the
    referral takes consents, its rows are written first, which the consents' reference needs.)"""
    offer = await _offer_of(session, command)
    rome_code = _rome_code_of(command, offer)
    agency = await _open_agency(session, command.agency_id)
    # The referral's own rows are written at the end, through Core, in one go (no unit of work).
    deferred = rows is not None
    rows = rows if rows is not None else ReferralRows()
    job_seeker, created = await _job_seeker_of(session, command, counsellor, rows)
    # A job seeker created by this very request has no consent and no referral yet.
    pending = {} if created else await pending_consents(session, job_seeker.id, agency.id)
    _check_sharing(command, job_seeker, set(pending))
    if not created:
        await _refuse_second_open_referral(session, job_seeker.id, agency.id, offer, rome_code)

    now = datetime.now(UTC)
    publics = publics_of(job_seeker, now.date(), senior_age, publics_rules)
    referral = _new_referral(command, counsellor, job_seeker, agency, offer, rome_code, now)
    for public in PriorityPublic:  # the job seeker's priority publics when sent (indicators)
        setattr(referral, f"public_{public.value}", public in publics)
    rows.referrals.append(referral)
    rows.transitions.append(
        first_transition(
            session,
            referral,
            transition(None, Action.SEND, Actor.COUNSELLOR),
            Logged(Action.SEND, Actor.COUNSELLOR, counsellor.subject, now, comment=command.message),
        )
    )
    referral.updated_at = now
    # Identity on an agency's feed is an export of personal data: audited (issue 10, item 9).
    rows.audit.append(
        access_entry(
            counsellor,
            action="export" if referral.identity_shared else "refer",
            resource="referral",
            resource_id=referral.id,
            job_seeker_id=job_seeker.id,
            reason=(
                f"identité transmise à l'agence {agency.id}"
                + (" avec la RQTH" if referral.rqth_shared else "")
                if referral.identity_shared
                else f"orientation vers l'agence {agency.id}, sans identité"
            ),
        )
    )
    # One statement per table (the two audit rows in one), nothing read back; then the two
    # events.
    if pending or not deferred:
        await referral_rows.write(session, rows)
    if pending:
        # The referral takes the consents it uses: they serve it alone (explicit each time).
        # After the referral's INSERT, which their reference needs.
        take_consents(
            pending, referral, identity=referral.identity_shared, rqth=referral.rqth_shared
        )
        await session.flush()
    staged = _announced_sent(referral, job_seeker, agency, offer, now, answer_within)
    if deferred:
        _events, outbox = OUTBOX.rows(staged)
        rows.then.append((OUTBOX.tables.outbox.insert(), outbox))
        mark_pending(session)
    else:
        await OUTBOX.stage_all(session, staged)
    return referral


async def write_sent(
    session: AsyncSession, rows: ReferralRows, *then: tuple[Insert, dict[str, Any]]
) -> None:
    """Write what :func:`send_referral` left in ``rows``, then the statements ``then``, in one
    hand-off (:func:`referral.adapters.referral_rows.write`)."""
    rows.then.extend(then)
    await referral_rows.write(session, rows)


async def _offer_of(session: AsyncSession, command: SendReferral) -> JobOffer | None:
    if command.offer_id is None:
        return None
    offer = await session.get(JobOffer, command.offer_id)
    if offer is None:
        raise invalid("offer_id", "offre inconnue", f"Offre {command.offer_id} inconnue.")
    return offer


def _rome_code_of(command: SendReferral, offer: JobOffer | None) -> str:
    """The trade: the command's code, else the offer's; with an offer, the offer's."""
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
    return rome_code


async def _open_agency(session: AsyncSession, agency_id: str) -> AddressedAgency:
    # Its columns only (not its specialisations, not an ORM object): what the referral needs.
    agency = await addressed_agency(session, agency_id)
    if agency is None:
        raise invalid("agency_id", "agence inconnue", f"Agence {agency_id} inconnue.")
    if not agency.active:
        raise invalid("agency_id", "agence inactive", f"Agence {agency.id} désactivée.")
    return agency


async def _job_seeker_of(
    session: AsyncSession, command: SendReferral, counsellor: Principal, rows: ReferralRows
) -> tuple[JobSeeker, bool]:
    """The job seeker sent with the referral (created or updated), or the one it names; and
    whether this request created it (then kept in ``rows``, with its audit row)."""
    if command.job_seeker is not None:
        return await upsert_job_seeker(
            session,
            command.job_seeker,
            counsellor,
            provided=command.job_seeker_fields,
            rows=rows,
        )
    if command.job_seeker_id is not None:
        # Its shares decide who may refer it: loaded with it, in the same statement.
        found = await session.get(
            JobSeeker, command.job_seeker_id, options=[joinedload(JobSeeker.shares)]
        )
        if found is None or not access.sees_job_seeker(counsellor, found):
            raise invalid(
                "job_seeker_id",
                "demandeur d'emploi inconnu",
                f"Demandeur d'emploi {command.job_seeker_id} inconnu.",
            )
        if not access.may_refer_job_seeker(counsellor, found):
            raise Forbidden(
                "Ce demandeur d'emploi est suivi par une autre structure : vous ne pouvez"
                " l'orienter qu'après sa prise en charge (partage par cette structure).",
                code="job-seeker-of-another-organisation",
                errors=[FieldIssue("job_seeker_id", "suivi par une autre structure")],
            )
        return found, False
    raise invalid("job_seeker", "Field required", "job_seeker ou job_seeker_id obligatoire.")


def _check_sharing(command: SendReferral, job_seeker: JobSeeker, scopes: set[ConsentScope]) -> None:
    """Personal data leaves only with the job seeker's recorded consent for this agency and this
    referral; RQTH is health data (CNIL, RGPD art. 9): explicit consent each time, never by
    default, and only with the identity (never recorded as shared when nothing is sent)."""
    if command.share_rqth and not command.share_identity:
        raise invalid(
            "share_rqth",
            "RQTH sans identité",
            "La RQTH ne se transmet qu'avec l'identité du demandeur d'emploi : cochez aussi le"
            " partage de l'identité (avec son consentement) ou ne partagez pas la RQTH.",
        )
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
                " pour cette agence et cette orientation.",
            )


async def open_referral_like(
    session: AsyncSession,
    job_seeker_id: uuid.UUID,
    agency_id: str,
    offer_id: uuid.UUID | None,
    rome_code: str,
    *,
    besides: uuid.UUID | None = None,
) -> uuid.UUID | None:
    """The open referral of this job seeker to this agency for this offer — or, without an
    offer, for this ROME code — other than ``besides``, if there is one."""
    query = select(Referral.id).where(
        Referral.job_seeker_id == job_seeker_id,
        Referral.agency_id == agency_id,
        Referral.status.in_([s.value for s in OPEN_STATUSES]),
    )
    if offer_id is None:
        query = query.where(Referral.offer_id.is_(None), Referral.rome_code == rome_code)
    else:
        query = query.where(Referral.offer_id == offer_id)
    if besides is not None:
        query = query.where(Referral.id != besides)
    return await session.scalar(query.limit(1))


async def _refuse_second_open_referral(
    session: AsyncSession,
    job_seeker_id: uuid.UUID,
    agency_id: str,
    offer: JobOffer | None,
    rome_code: str,
) -> None:
    """One open referral per job seeker, agency and offer — or, without an offer, ROME code
    (the database's partial unique indexes catch two sent at the same moment)."""
    existing = await open_referral_like(
        session, job_seeker_id, agency_id, offer.id if offer else None, rome_code
    )
    if existing is not None:
        raise open_referral_conflict(existing)


def _new_referral(
    command: SendReferral,
    counsellor: Principal,
    job_seeker: JobSeeker,
    agency: AddressedAgency,
    offer: JobOffer | None,
    rome_code: str,
    now: datetime,
) -> Referral:
    return Referral(
        id=uuid.uuid4(),
        job_seeker_id=job_seeker.id,
        agency_id=agency.id,
        network_id=agency.network_id,
        offer_id=offer.id if offer else None,
        rome_code=rome_code,
        # The territory of the referral: the offer's, else the agency's.
        departement=offer.departement if offer else agency.departement,
        region=offer.region if offer else agency.region,
        message=command.message,
        counsellor_id=counsellor.subject,
        structure_code=counsellor.organisation,
        identity_shared=command.share_identity,
        rqth_shared=command.share_rqth,
        awaiting_answer_since=now,
        created_at=now,
        updated_at=now,
    )


def _announced_sent(
    referral: Referral,
    job_seeker: JobSeeker,
    agency: AddressedAgency,
    offer: JobOffer | None,
    now: datetime,
    answer_within: timedelta | None,
) -> list[Staged]:
    """The two events of a referral sent, to stage in that order (:func:`network_staged`)."""
    # The agency's network learns of it on its own feed; identity and RQTH only as consented.
    candidate = None
    if referral.identity_shared:
        candidate = candidate_of(job_seeker, with_rqth=referral.rqth_shared)
    return network_staged(
        ReferralSent(
            **routing(referral),
            job_seeker_id=job_seeker.id,
            rome_code=referral.rome_code,
            departement=referral.departement,
            offer_id=referral.offer_id,
            sent_at=now,
            priority_publics=sorted(
                p.value for p in referral.priority_publics if p is not PriorityPublic.RQTH
            ),
            # Not personal: the messages name the agency and its town (issue 12, item 10).
            **agency_names_of(agency),
        ),
        ReferralReceived(
            referral_id=referral.id,
            agency_id=referral.agency_id,
            network_id=referral.network_id,
            rome_code=referral.rome_code,
            rome_label=referentials.rome_label(referral.rome_code),
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
        now,
    )


# -- withdraw ------------------------------------------------------------------------------------


async def withdraw_referral(
    session: AsyncSession, command: WithdrawReferral, counsellor: Principal
) -> Referral:
    referral = await locked_referral(session, command.referral_id)
    if referral is None or not access.may_withdraw_referral(counsellor, referral):
        raise not_found(f"Orientation {command.referral_id}")
    current = ReferralStatus(referral.status)
    try:
        row = transition(current, Action.WITHDRAW, Actor.COUNSELLOR)
    except TransitionNotAllowed as exc:
        raise ReferralTransitionRefused(
            f"Une orientation « {current.label} » ne peut plus être retirée.",
            extra={"status": current.value},
        ) from exc
    now = datetime.now(UTC)
    reason = command.reason
    entry = Logged(Action.WITHDRAW, Actor.COUNSELLOR, counsellor.subject, now, reason=reason)
    move(session, referral, row, entry, current=current)
    await publish_with_network(
        session,
        ReferralWithdrawn(**routing(referral), reason=reason, withdrawn_at=now),
        ReferralWithdrawnFromAgency(
            referral_id=referral.id,
            agency_id=referral.agency_id,
            network_id=referral.network_id,
            reason=reason,
            withdrawn_at=now,
        ),
        referral,
        now,
    )
    return referral

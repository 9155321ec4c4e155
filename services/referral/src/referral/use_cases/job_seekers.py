"""Job seekers (France Travail side, minimal; never a NIR) and their consents to share with an
agency: register, update, share with another organisation ("prise en charge") and revoke that
share, record and withdraw a consent. A record belongs to the organisation that created it
(:mod:`referral.access`); every read and change is recorded in the personal-data access audit
(:mod:`.audit`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from referral import access
from referral.adapters import referral_rows
from referral.adapters.referral_rows import ReferralRows
from referral.domain import PriorityPublic, PublicsRules, priority_publics
from referral.domain.errors import JobSeekerExists, JobSeekerShared
from referral.models import JobSeeker, JobSeekerShare
from referral.use_cases.audit import access_entry, record_access
from referral.use_cases.common import invalid, not_found, region_of
from shared.auth.tokens import OrganisationKind, Principal, organisation_key
from shared.domain.errors import FieldIssue, Forbidden


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
    #: France Travail registration: DELD is derived from it (and wins over ``deld``).
    ft_registration_date: date | None = None


@dataclass(frozen=True, slots=True)
class UpdateJobSeeker:
    job_seeker_id: uuid.UUID
    #: The fields the caller sent, with their new value.
    changes: Mapping[str, Any]
    #: Why: required of ops (logged), optional for the owner's counsellors.
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class ShareJobSeeker:
    """ "Prendre en charge": the owner lets another prescribing organisation act on the record."""

    job_seeker_id: uuid.UUID
    organisation_kind: OrganisationKind
    organisation_code: str
    reason: str


@dataclass(frozen=True, slots=True)
class RevokeShare:
    """The owner takes back a share it granted: the organisation sees the record masked again."""

    job_seeker_id: uuid.UUID
    share_id: uuid.UUID
    #: Why: required of ops (logged), optional for the owner.
    reason: str | None = None


_JOB_SEEKER_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "departement",
    "phone",
    "birth_date",
    "ft_registration_date",
    "rqth",
    "brsa",
    "deld",
    "qpv",
)
_FLAGS = {"rqth", "brsa", "deld", "qpv"}
#: Never erased by a null in an update.
_KEPT_ON_NULL = {"first_name", "last_name", *_FLAGS}


def publics_of(
    job_seeker: JobSeeker, on: date, senior_age: int, rules: PublicsRules | None = None
) -> frozenset[PriorityPublic]:
    """Derived where the data allows (jeune, senior, and DELD from the registration date: the
    data wins over the counsellor's box), else as recorded (:func:`priority_publics`)."""
    return priority_publics(
        birth_date=job_seeker.birth_date,
        on=on,
        rqth=job_seeker.rqth,
        brsa=job_seeker.brsa,
        deld=job_seeker.deld,
        qpv=job_seeker.qpv,
        senior_age=senior_age,
        registered_on=job_seeker.ft_registration_date,
        rules=rules,
    )


async def upsert_job_seeker(
    session: AsyncSession,
    data: JobSeekerInput,
    counsellor: Principal,
    *,
    provided: Iterable[str] | None = None,
    rows: ReferralRows | None = None,
) -> tuple[JobSeeker, bool]:
    """Create the job seeker's record or update it by France Travail identifier; ``provided``
    limits the update to the fields the caller sent (an absent flag is not a "no").

    With ``rows`` (``POST /v1/referrals``), a record created is not added to the session but
    kept in ``rows`` with its audit row (an update's audit row too), written with the
    referral's rows (:mod:`referral.adapters.referral_rows`)."""
    if data.departement is not None:
        region_of(data.departement, "job_seeker.departement")
    now = datetime.now(UTC)
    if rows is None:
        job_seeker = await session.scalar(
            select(JobSeeker).where(JobSeeker.ft_identifier == data.ft_identifier)
        )
    else:
        job_seeker = await _registered(session, data.ft_identifier)
    created = job_seeker is None
    if job_seeker is None:
        job_seeker = JobSeeker(
            id=uuid.uuid4(),
            ft_identifier=data.ft_identifier,
            structure_code=counsellor.organisation,
            created_at=now,
            shares=[],
            rqth=False,
            brsa=False,
            deld=False,
            qpv=False,
        )
        if rows is None:
            session.add(job_seeker)
        else:
            rows.job_seekers.append(job_seeker)
    fields = set(provided) if provided is not None else set(_JOB_SEEKER_FIELDS)
    changes = {
        name: getattr(data, name)
        for name in _JOB_SEEKER_FIELDS
        if name in fields and not (getattr(data, name) is None and name in _FLAGS)
    }
    if not created and not access.may_change_job_seeker(counsellor, job_seeker):
        _refuse_overwrite(counsellor, job_seeker, changes)
        return job_seeker, False
    for name, value in changes.items():
        setattr(job_seeker, name, value)
    job_seeker.updated_at = now
    audit = {
        "action": "create" if created else "update",
        "resource": "job_seeker",
        "resource_id": job_seeker.id,
        "job_seeker_id": job_seeker.id,
    }
    if rows is not None:
        if not created:
            await session.flush()  # the update, through the ORM (the record is loaded)
        rows.audit.append(access_entry(counsellor, **audit))
        return job_seeker, created
    await session.flush()
    await record_access(session, counsellor, **audit)
    return job_seeker, created


async def _registered(session: AsyncSession, ft_identifier: str) -> JobSeeker | None:
    """The record of ``ft_identifier``, with its shares (who else may refer it): looked for
    through Core first, loaded as an object only when it exists (the POST's usual case, a new
    job seeker, is one Core ``SELECT``; a known one two statements, as the ORM's load and its
    shares' were)."""
    found = await referral_rows.job_seeker_id_of(session, ft_identifier)
    if found is None:
        return None
    return await session.get(JobSeeker, found, options=[joinedload(JobSeeker.shares)])


def _refuse_overwrite(
    counsellor: Principal, job_seeker: JobSeeker, changes: Mapping[str, Any]
) -> None:
    """Another organisation's record, sent inline with a referral: never written. Its
    counsellors may refer it once it is shared with them, provided the body changes nothing."""
    if not access.may_refer_job_seeker(counsellor, job_seeker):
        raise Forbidden(
            "Ce demandeur d'emploi est suivi par une autre structure : elle seule modifie sa fiche,"
            " et vous ne pouvez l'orienter qu'après sa prise en charge (partage par cette"
            " structure).",
            code="job-seeker-of-another-organisation",
            errors=[FieldIssue("job_seeker.ft_identifier", "suivi par une autre structure")],
        )
    differing = sorted(
        name for name, value in changes.items() if getattr(job_seeker, name) != value
    )
    if differing:
        raise Forbidden(
            "Seule la structure qui a enregistré ce demandeur d'emploi modifie sa fiche :"
            " orientez-le par « job_seeker_id », sans changer ses informations.",
            code="job-seeker-of-another-organisation",
            errors=[
                FieldIssue(f"job_seeker.{name}", "fiche d'une autre structure")
                for name in differing
            ],
        )


async def register_job_seeker(
    session: AsyncSession, data: JobSeekerInput, counsellor: Principal
) -> JobSeeker:
    """A new record; a France Travail identifier already registered is a conflict."""
    existing = await session.scalar(
        select(JobSeeker.id).where(JobSeeker.ft_identifier == data.ft_identifier)
    )
    if existing is not None:
        raise JobSeekerExists(
            f"L'identifiant France Travail {data.ft_identifier} est déjà enregistré.",
            extra={"existing_job_seeker_id": str(existing)},
        )
    job_seeker, _ = await upsert_job_seeker(session, data, counsellor)
    return job_seeker


async def update_job_seeker(
    session: AsyncSession, command: UpdateJobSeeker, who: Principal
) -> JobSeeker:
    """The owner's counsellors change the record; ops too, with a reason (logged); another
    organisation's counsellor gets 404 when they do not see it, 403 when they see it masked or
    shared."""
    job_seeker = await session.get(JobSeeker, command.job_seeker_id, with_for_update=True)
    if job_seeker is None or access.job_seeker_view(who, job_seeker) is None:
        raise not_found(f"Demandeur d'emploi {command.job_seeker_id}")
    if not (
        access.may_change_job_seeker(who, job_seeker)
        or access.may_correct_job_seeker(who, command.reason)
    ):
        if access.may_correct_job_seeker(who, "-"):
            raise invalid(
                "reason",
                "motif obligatoire",
                "L'exploitation ne modifie une fiche qu'avec un motif (journalisé).",
            )
        raise Forbidden(
            "Seule la structure qui a enregistré ce demandeur d'emploi modifie sa fiche.",
            code="job-seeker-of-another-organisation",
        )
    changes = command.changes
    if changes.get("departement") is not None:
        region_of(changes["departement"])
    for name, value in changes.items():
        if value is None and name in _KEPT_ON_NULL:
            continue
        setattr(job_seeker, name, value)
    job_seeker.updated_at = datetime.now(UTC)
    await record_access(
        session,
        who,
        action="update",
        resource="job_seeker",
        resource_id=job_seeker.id,
        job_seeker_id=job_seeker.id,
        reason=command.reason,
    )
    return job_seeker


async def share_job_seeker(
    session: AsyncSession, command: ShareJobSeeker, who: Principal
) -> JobSeekerShare:
    """The owner (or ops, with the reason every share carries) lets another organisation take
    the job seeker in charge: it then sees the record in full, records consents and refers it."""
    job_seeker = await session.get(JobSeeker, command.job_seeker_id, with_for_update=True)
    if job_seeker is None or access.job_seeker_view(who, job_seeker) is None:
        raise not_found(f"Demandeur d'emploi {command.job_seeker_id}")
    if not access.may_share_job_seeker(who, job_seeker, command.reason):
        raise Forbidden(
            "Seule la structure qui a enregistré ce demandeur d'emploi le partage.",
            code="job-seeker-of-another-organisation",
        )
    organisation = organisation_key(command.organisation_kind, command.organisation_code)
    if organisation == job_seeker.structure_code:
        raise invalid(
            "organisation_code",
            "structure propriétaire",
            "La fiche appartient déjà à cette structure.",
        )
    existing = next((s for s in job_seeker.shares if s.organisation == organisation), None)
    if existing is not None:
        raise JobSeekerShared(
            "Ce demandeur d'emploi est déjà partagé avec cette structure.",
            extra={"existing_share_id": str(existing.id)},
        )
    share = JobSeekerShare(
        id=uuid.uuid4(),
        job_seeker_id=job_seeker.id,
        organisation=organisation,
        shared_by=who.subject,
        shared_by_organisation=who.organisation,
        reason=command.reason,
        created_at=datetime.now(UTC),
    )
    session.add(share)
    job_seeker.shares.append(share)
    await session.flush()
    await record_access(
        session,
        who,
        action="share",
        resource="job_seeker",
        resource_id=job_seeker.id,
        job_seeker_id=job_seeker.id,
        reason=f"partagé avec {organisation} : {command.reason}"[:500],
    )
    return share


async def revoke_share(
    session: AsyncSession, command: RevokeShare, who: Principal
) -> JobSeekerShare:
    """The owner (or ops, with a reason) revokes a share: the row goes, the audit keeps who
    revoked which organisation's share, when and why. From then on that organisation sees the
    record masked, as any other (its referrals already sent stay its own)."""
    job_seeker = await session.get(JobSeeker, command.job_seeker_id, with_for_update=True)
    if job_seeker is None or access.job_seeker_view(who, job_seeker) is None:
        raise not_found(f"Demandeur d'emploi {command.job_seeker_id}")
    share = next((s for s in job_seeker.shares if s.id == command.share_id), None)
    if not access.may_revoke_share(who, job_seeker, command.reason):
        if share is None and not access.sees_shares_of(who, job_seeker):
            raise not_found(f"Partage {command.share_id}")
        if access.may_correct_job_seeker(who, "-"):
            raise invalid(
                "reason",
                "motif obligatoire",
                "L'exploitation ne retire un partage qu'avec un motif (journalisé).",
            )
        raise Forbidden(
            "Seule la structure qui a enregistré ce demandeur d'emploi retire ses partages.",
            code="job-seeker-of-another-organisation",
        )
    if share is None:
        raise not_found(f"Partage {command.share_id}")
    job_seeker.shares.remove(share)
    await session.delete(share)
    await session.flush()
    why = f"partage retiré à {share.organisation}"
    await record_access(
        session,
        who,
        action="unshare",
        resource="job_seeker",
        resource_id=job_seeker.id,
        job_seeker_id=job_seeker.id,
        reason=(f"{why} : {command.reason}" if command.reason else why)[:500],
    )
    return share

"""Job datings and open days (issue 16, item 4): an event with a date, a place, agencies with
their offers and interview slots; a counsellor invites job seekers in bulk — one referral each,
through :func:`referral.use_cases.referrals.send_referral` unchanged, so every consent rule holds;
each agency's network feed gets the event with its invitations
(``coop.agency.job_dating_invitations.v1``); attendance is recorded (came / did not come); the
figures "invited, came, hired" are read from the invitations and their referrals (hired: the
referral's placement, reported by the agency through the usual answers).

Who: the counsellors of the organisation that organises the event, and ops
(:func:`referral.access.sees_job_dating`)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from referral import access
from referral.domain import Actor, ReferralStatus, TransitionNotAllowed, transition
from referral.models import (
    OUTBOX,
    Agency,
    JobDating,
    JobDatingAgency,
    JobDatingInvitation,
    JobOffer,
    Referral,
)
from referral.use_cases.common import (
    Logged,
    check_rome_code,
    invalid,
    locked_referral,
    move,
    not_found,
    publish,
    region_of,
    routing,
)
from referral.use_cases.referrals import SendReferral, send_referral
from shared.auth.tokens import Principal
from shared.contracts.referral import ReferralAction as Action
from shared.contracts.referral import ReferralStatusChanged
from shared.contracts.territory import JobDatingInvitation as InvitationOut
from shared.contracts.territory import JobDatingInvitationsPublished
from shared.contracts.topics import agency_feed
from shared.domain.errors import DomainError, FieldIssue, Forbidden, InvalidInput

KINDS = ("job_dating", "open_day")
MAX_INVITED_AT_ONCE = 200


@dataclass(frozen=True, slots=True)
class CreateJobDating:
    kind: str
    title: str
    starts_at: datetime
    ends_at: datetime
    place: str
    departement: str
    rome_code: str
    #: (agency id, its offer id or None)
    agencies: Sequence[tuple[str, uuid.UUID | None]]
    slots: Sequence[datetime] = ()


@dataclass(frozen=True, slots=True)
class InviteJobSeekers:
    job_dating_id: uuid.UUID
    agency_id: str
    job_seeker_ids: Sequence[uuid.UUID]
    message: str
    share_identity: bool = False


#: What a job seeker who came obtained there, and the lifecycle action it takes on the referral.
OUTCOMES = {
    "interview": Action.LOCAL_ACTION_INTERVIEW,
    "hired": Action.LOCAL_ACTION_HIRE,
}


@dataclass(frozen=True, slots=True)
class RecordAttendance:
    job_dating_id: uuid.UUID
    #: (invitation id, came, outcome: None, "interview" or "hired")
    entries: Sequence[tuple[uuid.UUID, bool, str | None]]


async def create_job_dating(
    session: AsyncSession, command: CreateJobDating, principal: Principal
) -> JobDating:
    if not access.may_organise_job_dating(principal):
        raise Forbidden("Seuls les conseillers organisent un job dating.")
    if command.kind not in KINDS:
        raise invalid("kind", "job_dating ou open_day", f"Type d'événement {command.kind} inconnu.")
    if command.ends_at <= command.starts_at:
        raise invalid("ends_at", "après le début", "L'événement doit finir après son début.")
    check_rome_code(command.rome_code)
    region = region_of(command.departement)
    if not command.agencies:
        raise invalid("agencies", "au moins une agence", "Un job dating réunit des agences.")
    rows = []
    for index, (agency_id, offer_id) in enumerate(command.agencies):
        agency = await session.get(Agency, agency_id)
        if agency is None or not agency.active:
            raise invalid(
                f"agencies.{index}.agency_id",
                "agence inconnue",
                f"Agence {agency_id} inconnue ou inactive.",
            )
        if offer_id is not None and await session.get(JobOffer, offer_id) is None:
            raise invalid(
                f"agencies.{index}.offer_id", "offre inconnue", f"Offre {offer_id} inconnue."
            )
        rows.append(JobDatingAgency(agency_id=agency_id, offer_id=offer_id))
    if len({row.agency_id for row in rows}) != len(rows):
        raise invalid("agencies", "agence en double", "Chaque agence n'est citée qu'une fois.")
    for index, slot in enumerate(command.slots):
        if not command.starts_at <= slot <= command.ends_at:
            raise invalid(
                f"slots.{index}", "hors de l'événement", "Un créneau est pendant l'événement."
            )
    job_dating = JobDating(
        id=uuid.uuid4(),
        kind=command.kind,
        title=command.title,
        starts_at=command.starts_at,
        ends_at=command.ends_at,
        place=command.place,
        departement=command.departement,
        region=region,
        rome_code=command.rome_code,
        slots=[slot.astimezone(UTC).isoformat() for slot in sorted(command.slots)],
        created_by=principal.subject,
        structure_code=principal.organisation,
        created_at=datetime.now(UTC),
        agencies=rows,
    )
    session.add(job_dating)
    await session.flush()
    return job_dating


async def visible_job_dating(
    session: AsyncSession, principal: Principal, job_dating_id: uuid.UUID
) -> JobDating:
    job_dating = await session.get(JobDating, job_dating_id)
    if job_dating is None or not access.sees_job_dating(principal, job_dating):
        raise not_found(f"Job dating {job_dating_id}")
    return job_dating


async def invite_job_seekers(
    session: AsyncSession, command: InviteJobSeekers, principal: Principal
) -> list[JobDatingInvitation]:
    """One referral per job seeker to the agency (its offer at the event if it has one), each a
    slot in turn; all or nothing: a job seeker who may not be referred (consent, visibility, a
    referral already open) refuses the batch, naming them by their position."""
    job_dating = await visible_job_dating(session, principal, command.job_dating_id)
    if not access.may_organise_job_dating(principal):
        raise Forbidden("Seuls les conseillers invitent des demandeurs d'emploi.")
    taking_part = {row.agency_id: row for row in job_dating.agencies}
    if command.agency_id not in taking_part:
        raise invalid("agency_id", "agence absente", "Cette agence ne participe pas à l'événement.")
    if not 1 <= len(command.job_seeker_ids) <= MAX_INVITED_AT_ONCE:
        raise invalid(
            "job_seeker_ids",
            f"1 à {MAX_INVITED_AT_ONCE}",
            f"Inviter 1 à {MAX_INVITED_AT_ONCE} demandeurs d'emploi à la fois.",
        )
    if len(set(command.job_seeker_ids)) != len(command.job_seeker_ids):
        raise invalid("job_seeker_ids", "en double", "Un demandeur d'emploi est cité deux fois.")
    existing = list(
        await session.scalars(
            select(JobDatingInvitation).where(JobDatingInvitation.job_dating_id == job_dating.id)
        )
    )
    already = {row.job_seeker_id for row in existing}
    offer_id = taking_part[command.agency_id].offer_id
    taken = [row.slot for row in existing if row.agency_id == command.agency_id]
    free = [slot for slot in job_dating.slots if slot not in taken]
    now = datetime.now(UTC)
    invited = []
    for index, job_seeker_id in enumerate(command.job_seeker_ids):
        field_name = f"job_seeker_ids.{index}"
        if job_seeker_id in already:
            raise invalid(field_name, "déjà invité", "Ce demandeur d'emploi est déjà invité.")
        try:
            referral = await send_referral(
                session,
                SendReferral(
                    agency_id=command.agency_id,
                    message=command.message,
                    job_seeker_id=job_seeker_id,
                    rome_code=None if offer_id else job_dating.rome_code,
                    offer_id=offer_id,
                    share_identity=command.share_identity,
                ),
                principal,
            )
        except DomainError as exc:
            issues = [FieldIssue(field_name, issue.message) for issue in exc.errors] or [
                FieldIssue(field_name, str(exc))
            ]
            raise InvalidInput(f"Demandeur d'emploi n° {index + 1} : {exc}", errors=issues) from exc
        row = JobDatingInvitation(
            id=uuid.uuid4(),
            job_dating_id=job_dating.id,
            job_seeker_id=job_seeker_id,
            agency_id=command.agency_id,
            referral_id=referral.id,
            slot=free.pop(0) if free else None,
            invited_by=principal.subject,
            invited_at=now,
        )
        session.add(row)
        invited.append(row)
    await session.flush()
    await _tell_the_agency(session, job_dating, command.agency_id, [*existing, *invited], now)
    return invited


async def _tell_the_agency(
    session: AsyncSession,
    job_dating: JobDating,
    agency_id: str,
    invitations: Sequence[JobDatingInvitation],
    at: datetime,
) -> None:
    agency = await session.get(Agency, agency_id)
    assert agency is not None
    offer_id = next(row.offer_id for row in job_dating.agencies if row.agency_id == agency_id)
    await OUTBOX.stage(
        session,
        JobDatingInvitationsPublished(
            job_dating_id=job_dating.id,
            network_id=agency.network_id,
            agency_id=agency_id,
            kind=job_dating.kind,
            title=job_dating.title,
            starts_at=job_dating.starts_at,
            ends_at=job_dating.ends_at,
            place=job_dating.place,
            departement=job_dating.departement,
            offer_id=offer_id,
            slots=list(job_dating.slots),
            invitations=[
                InvitationOut(referral_id=row.referral_id, slot=row.slot)
                for row in invitations
                if row.agency_id == agency_id
            ],
        ),
        subject=f"job-datings/{job_dating.id}",
        topic=agency_feed(agency.network_id).name,
        occurred_at=at,
    )


async def record_attendance(
    session: AsyncSession, command: RecordAttendance, principal: Principal
) -> list[JobDatingInvitation]:
    job_dating = await visible_job_dating(session, principal, command.job_dating_id)
    if not access.may_organise_job_dating(principal):
        raise Forbidden("Seuls les conseillers de l'organisateur notent la présence.")
    rows = {
        row.id: row
        for row in await session.scalars(
            select(JobDatingInvitation).where(JobDatingInvitation.job_dating_id == job_dating.id)
        )
    }
    now = datetime.now(UTC)
    changed = []
    for index, (invitation_id, came, outcome) in enumerate(command.entries):
        row = rows.get(invitation_id)
        if row is None:
            raise invalid(
                f"entries.{index}.invitation_id",
                "invitation inconnue",
                f"Invitation {invitation_id} inconnue pour cet événement.",
            )
        if outcome is not None and (not came or outcome not in OUTCOMES):
            raise invalid(
                f"entries.{index}.outcome",
                "issue impossible",
                "Une issue (entretien, recrutement) ne se note que pour une personne venue"
                " (came à true) : « interview » ou « hired ».",
            )
        attendance = "came" if came else "did_not_come"
        if row.attendance != attendance or outcome is not None:
            await _move_the_referral(session, job_dating, row, attendance, outcome, principal, now)
        row.attendance = attendance
        row.attendance_recorded_at = now
        row.attendance_recorded_by = principal.subject
        changed.append(row)
    await session.flush()
    return changed


async def _move_the_referral(
    session: AsyncSession,
    job_dating: JobDating,
    invitation: JobDatingInvitation,
    attendance: str,
    outcome: str | None,
    principal: Principal,
    at: datetime,
) -> None:
    """The invitation's referral learns the attendance (a timeline entry) and the outcome (an
    interview schedules it, a candidate retained is accepted), through :data:`LIFECYCLE`, where
    it allows them: a referral ended or placed meanwhile keeps its state."""
    referral = await locked_referral(session, invitation.referral_id)
    if referral is None:
        return
    details: dict[str, Any] = {
        "job_dating_id": str(job_dating.id),
        "local_action": job_dating.kind,
        "attendance": attendance,
    }
    if outcome is not None:
        details["outcome"] = outcome
    steps = [Action.RECORD_ATTENDANCE]
    if outcome is not None:
        steps.append(OUTCOMES[outcome])
    for action in steps:
        current = ReferralStatus(referral.status)
        try:
            step = transition(current, action, Actor.COUNSELLOR)
        except TransitionNotAllowed:
            continue
        if step.target is current and action is not Action.RECORD_ATTENDANCE:
            continue  # already there (an interview noted twice)
        entry = Logged(action, Actor.COUNSELLOR, principal.subject, at, details=dict(details))
        target = move(session, referral, step, entry, current=current)
        referral.updated_at = at
        if target is ReferralStatus.ACCEPTED and referral.accepted_at is None:
            referral.accepted_at = at
        if target is not current:
            await publish(
                session,
                ReferralStatusChanged(
                    **routing(referral),
                    from_status=current,
                    to_status=target,
                    action=action.value,
                    details=details,
                    occurred_at=at,
                ),
                referral,
                at,
            )


async def invitations_of(
    session: AsyncSession, principal: Principal, job_dating_id: uuid.UUID
) -> list[tuple[JobDatingInvitation, Referral]]:
    job_dating = await visible_job_dating(session, principal, job_dating_id)
    return [
        (invitation, referral)
        for invitation, referral in await session.execute(
            select(JobDatingInvitation, Referral)
            .join(Referral, Referral.id == JobDatingInvitation.referral_id)
            .where(JobDatingInvitation.job_dating_id == job_dating.id)
            .order_by(JobDatingInvitation.agency_id, JobDatingInvitation.slot)
        )
    ]


def figures(rows: Sequence[tuple[JobDatingInvitation, Referral]]) -> dict[str, Any]:
    """Invited, came, did not come, hired (the referral placed), in total and per agency."""

    def count(selected: Sequence[tuple[JobDatingInvitation, Referral]]) -> dict[str, int]:
        return {
            "invited": len(selected),
            "came": sum(1 for i, _ in selected if i.attendance == "came"),
            "did_not_come": sum(1 for i, _ in selected if i.attendance == "did_not_come"),
            "hired": sum(1 for _, r in selected if r.placed_at is not None),
        }

    agencies = sorted({invitation.agency_id for invitation, _ in rows})
    return {
        "total": count(rows),
        "by_agency": {
            agency_id: count([(i, r) for i, r in rows if i.agency_id == agency_id])
            for agency_id in agencies
        },
    }


async def job_datings_between(
    session: AsyncSession,
    principal: Principal,
    first_day: datetime | None,
    last_day: datetime | None,
) -> list[tuple[JobDating, dict[str, Any]]]:
    """The caller's events starting in the period, each with its figures."""
    query = select(JobDating).where(access.visible_job_datings(principal))
    if first_day is not None:
        query = query.where(JobDating.starts_at >= first_day)
    if last_day is not None:
        query = query.where(JobDating.starts_at < last_day)
    result = []
    for job_dating in await session.scalars(query.order_by(JobDating.starts_at, JobDating.id)):
        rows = await invitations_of(session, principal, job_dating.id)
        result.append((job_dating, figures(rows)))
    return result

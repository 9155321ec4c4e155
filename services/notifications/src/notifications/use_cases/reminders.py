"""Reminders: what is due, and recording one (the periodic job is :class:`notifications.jobs.
Reminders`; every replica may run it: each reminder has a unique cause id, and the message's
unique constraint makes a second copy impossible).

- An immersion starting in N business days (setting, default 2; French public holidays count,
  those of the immersion's département included — Alsace-Moselle and the overseas départements
  add their own, see :mod:`notifications.domain.business_days`) reminds the tutor (and the
  beneficiary, once job seekers are reachable). Caught up after a downtime: due on any day from N
  business days before the start until the day before.
- A referral unanswered after N calendar days (setting) reminds the agency, once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from notifications import access
from notifications.domain.business_days import BusinessCalendar
from notifications.domain.following import FollowedImmersionStatus, FollowedReferralStatus
from notifications.domain.messages import Cause
from notifications.domain.routing import IMMERSION_STARTING, REFERRAL_UNANSWERED
from notifications.models import FollowedImmersion, KnownReferral, Notification
from notifications.use_cases import messages
from shared.auth.tokens import Principal
from shared.contracts.vocabulary import ImmersionObjet


@dataclass(frozen=True, slots=True)
class DueImmersions:
    today: date
    business_days: int
    #: The default calendar (the service's subdivision setting); each immersion counts with its
    #: département's (:meth:`BusinessCalendar.for_departement`).
    calendar: BusinessCalendar
    #: When the reminders run (the time of their cause).
    now: datetime


async def due_immersion_reminders(
    query: DueImmersions, principal: Principal, session: AsyncSession
) -> list[Cause]:
    """A reminder for each validated convention starting within N business days (from N business
    days before the start until the day before it: a downtime is caught up)."""
    access.ensure_platform(principal)
    upcoming = (
        FollowedImmersion.status == FollowedImmersionStatus.VALIDATED.value,
        FollowedImmersion.start_date > query.today,
    )
    departements = (
        await session.scalars(select(FollowedImmersion.departement).where(*upcoming).distinct())
    ).all()
    calendars = {d: query.calendar.for_departement(d) for d in {*departements, None}}
    horizons = {
        d: calendar.add_business_days(query.today, query.business_days)
        for d, calendar in calendars.items()
    }
    due = (
        await session.scalars(
            select(FollowedImmersion)
            .where(*upcoming, FollowedImmersion.start_date <= max(horizons.values()))
            .order_by(FollowedImmersion.start_date, FollowedImmersion.convention_id)
        )
    ).all()
    return [
        _immersion_starting(immersion, query, calendars[immersion.departement])
        for immersion in due
        if immersion.start_date <= horizons[immersion.departement]
    ]


def _immersion_starting(
    immersion: FollowedImmersion, query: DueImmersions, calendar: BusinessCalendar
) -> Cause:
    return Cause(
        trigger=IMMERSION_STARTING,
        # A new start date (convention re-validated) deserves a new reminder.
        cause_id=f"{IMMERSION_STARTING}:{immersion.convention_id}:{immersion.start_date}",
        context={
            "convention_id": immersion.convention_id,
            "referral_id": immersion.referral_id,
            "job_seeker_id": immersion.job_seeker_id,
            "agency_id": immersion.agency_id,
            "objet": ImmersionObjet(immersion.objet),
            "start_date": immersion.start_date,
            "end_date": immersion.end_date,
            "host_name": immersion.host_name,
            "tutor_name": immersion.tutor_name,
            "business_days": calendar.business_days_between(query.today, immersion.start_date),
        },
        payload={
            "convention_id": str(immersion.convention_id),
            "start_date": immersion.start_date.isoformat(),
            "end_date": immersion.end_date.isoformat(),
            "host_name": immersion.host_name,
        },
        occurred_at=query.now,
    )


@dataclass(frozen=True, slots=True)
class DueReferrals:
    after_days: int
    now: datetime


@dataclass(frozen=True, slots=True)
class ReferralReminder:
    cause: Cause
    referral_id: uuid.UUID


async def due_referral_reminders(
    query: DueReferrals, principal: Principal, session: AsyncSession
) -> list[ReferralReminder]:
    """A reminder for each referral still without any answer N days after it was sent, once."""
    access.ensure_platform(principal)
    threshold = query.now - timedelta(days=query.after_days)
    due = (
        await session.scalars(
            select(KnownReferral).where(
                KnownReferral.status == FollowedReferralStatus.SENT.value,
                KnownReferral.reminded_at.is_(None),
                KnownReferral.sent_at <= threshold,
            )
        )
    ).all()
    return [ReferralReminder(_referral_unanswered(r, query.now), r.referral_id) for r in due]


def _referral_unanswered(referral: KnownReferral, now: datetime) -> Cause:
    return Cause(
        trigger=REFERRAL_UNANSWERED,
        # Per agency: a referral transferred to another agency may be reminded to that one too.
        cause_id=f"{REFERRAL_UNANSWERED}:{referral.referral_id}:{referral.agency_id}",
        context={
            "referral_id": referral.referral_id,
            "agency_id": referral.agency_id,
            "network_id": referral.network_id,
            "counsellor_id": referral.counsellor_id,
            "rome_code": referral.rome_code,
            "sent_at": referral.sent_at,
            "days_waiting": (now - referral.sent_at).days,
        },
        payload={
            "referral_id": str(referral.referral_id),
            "agency_id": referral.agency_id,
            "rome_code": referral.rome_code,
            "sent_at": referral.sent_at.isoformat(),
        },
        occurred_at=now,
    )


@dataclass(frozen=True, slots=True)
class RecordReminder:
    cause: Cause
    #: The referral reminded (marked so it is reminded once), for an unanswered referral.
    referral_id: uuid.UUID | None = None


async def record_reminder(
    command: RecordReminder, principal: Principal, session: AsyncSession
) -> list[Notification]:
    """Record the reminder's messages (like an event's), and mark the referral reminded."""
    created = await messages.record(messages.RecordMessages(command.cause), principal, session)
    if command.referral_id is not None:
        row = await session.get(KnownReferral, command.referral_id)
        if row is not None:
            row.reminded_at = datetime.now(UTC)
    return created

"""Reminders, a periodic job of the service (every replica may run it: each reminder has a unique
key, and the message's unique constraint makes a second copy impossible).

- An immersion starting in N business days (setting, default 2; French public holidays count, see
  :mod:`notifications.business_days`) reminds the tutor (and the beneficiary, once job seekers are
  reachable). Caught up after a downtime: sent on any day from N business days before the start
  until the day before.
- A referral unanswered after N calendar days (setting) reminds the agency, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from notifications.business_days import BusinessCalendar
from notifications.catalog import ROUTING, TEMPLATES
from notifications.messages import Cause, record
from notifications.models import FollowedImmersion, FollowedReferral
from notifications.settings import NotificationsSettings
from shared.contracts.vocabulary import ImmersionObjet
from shared.db.database import Database

log = structlog.get_logger(__name__)

IMMERSION_STARTING = "reminder.immersion_starting"
REFERRAL_UNANSWERED = "reminder.referral_unanswered"


@dataclass(frozen=True)
class ReminderRun:
    immersions: int
    referrals: int


class Reminders:
    def __init__(self, settings: NotificationsSettings) -> None:
        self._settings = settings
        self._calendar = BusinessCalendar(settings.holidays_subdivision)
        self._zone = ZoneInfo(settings.timezone)

    async def run(self, database: Database, *, now: datetime | None = None) -> ReminderRun:
        now = now or datetime.now(UTC)
        today = now.astimezone(self._zone).date()
        return ReminderRun(
            immersions=await self._immersions(database, today, now),
            referrals=await self._referrals(database, now),
        )

    async def _immersions(self, database: Database, today: date, now: datetime) -> int:
        # Due from N business days before the start until the day before it (catch-up).
        horizon = self._calendar.add_business_days(
            today, self._settings.immersion_reminder_business_days
        )
        async with database.sessionmaker() as session:
            due = list(
                (
                    await session.scalars(
                        select(FollowedImmersion).where(
                            FollowedImmersion.status == "validated",
                            FollowedImmersion.start_date > today,
                            FollowedImmersion.start_date <= horizon,
                        )
                    )
                ).all()
            )
        sent = 0
        for immersion in due:
            cause = Cause(
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
                    "business_days": self._calendar.business_days_between(
                        today, immersion.start_date
                    ),
                },
                payload={
                    "convention_id": str(immersion.convention_id),
                    "start_date": immersion.start_date.isoformat(),
                    "end_date": immersion.end_date.isoformat(),
                    "host_name": immersion.host_name,
                },
                occurred_at=now,
            )
            sent += await self._record(database, cause)
        return sent

    async def _referrals(self, database: Database, now: datetime) -> int:
        threshold = now - timedelta(days=self._settings.referral_reminder_after_days)
        async with database.sessionmaker() as session:
            due = list(
                (
                    await session.scalars(
                        select(FollowedReferral).where(
                            FollowedReferral.status == "sent",
                            FollowedReferral.reminded_at.is_(None),
                            FollowedReferral.sent_at <= threshold,
                        )
                    )
                ).all()
            )
        sent = 0
        for referral in due:
            cause = Cause(
                trigger=REFERRAL_UNANSWERED,
                cause_id=f"{REFERRAL_UNANSWERED}:{referral.referral_id}",
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
            sent += await self._record(database, cause, referral=referral)
        return sent

    async def _record(
        self, database: Database, cause: Cause, referral: FollowedReferral | None = None
    ) -> int:
        try:
            async with database.transaction() as session:
                created = await record(session, cause, ROUTING, TEMPLATES)
                if referral is not None:
                    row = await session.get(FollowedReferral, referral.referral_id)
                    if row is not None:
                        row.reminded_at = datetime.now(UTC)
        except IntegrityError:
            log.info("reminder already recorded by another run", cause=cause.cause_id)
            return 0
        if created:
            log.info("reminder recorded", cause=cause.cause_id, messages=len(created))
        return len(created)

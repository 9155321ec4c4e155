"""The periodic jobs of the notifications service: the delivery worker and the reminders.

**Delivery worker** (:class:`DeliveryWorker`): nothing is sent inside the consumer's transaction.
Its state is the ``deliveries`` table, so a restart resumes where it stopped: claim due
deliveries (one short transaction, :func:`notifications.use_cases.deliveries.claim_due`), send
each outside any transaction (the senders of :mod:`notifications.adapters`), record what the try
gave (one transaction, :func:`notifications.use_cases.deliveries.record_attempt`).

**Reminders** (:class:`Reminders`): immersions about to start, referrals left unanswered
(:mod:`notifications.use_cases.reminders`); found on the read path, one transaction per reminder.

Both are given ``runtime.database.background`` (:mod:`notifications.app`): on PostgreSQL a pool
of their own, so a burst of deliveries never takes the connections HTTP requests wait for.
"""

from __future__ import annotations

import asyncio
import random
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import structlog
from prometheus_client import Counter
from sqlalchemy.exc import IntegrityError

from notifications.access import SYSTEM
from notifications.adapters import Outgoing, PermanentFailure, Sender, TransientFailure
from notifications.adapters.in_app import InAppSender
from notifications.adapters.sms import SmsSender
from notifications.adapters.smtp import EmailSender
from notifications.adapters.webhook import WebhookSender
from notifications.domain.business_days import BusinessCalendar
from notifications.domain.delivery import AttemptOutcome, Channel
from notifications.settings import NotificationsSettings
from notifications.use_cases import deliveries, reminders
from notifications.use_cases.retention import PurgeErrorTexts, purge_error_texts, screen_error_text
from shared.db.database import Database
from shared.privacy.jobs import platform_retention_job
from shared.runtime import PeriodicJob, ServiceRuntime

log = structlog.get_logger(__name__)

DELIVERY_OUTCOMES = Counter(
    "notifications_delivery_attempts_total",
    "Delivery attempts by channel and outcome (delivered, retry, failed).",
    ["channel", "outcome"],
)


def default_senders(settings: NotificationsSettings) -> dict[str, Sender]:
    return {
        Channel.EMAIL: EmailSender(settings),
        Channel.WEBHOOK: WebhookSender(settings),
        Channel.IN_APP: InAppSender(),
        # No SMS provider yet: its adapter (an SmsGateway) plugs in here.
        Channel.SMS: SmsSender(gateway=None),
    }


@dataclass(frozen=True, slots=True)
class _Result:
    outcome: AttemptOutcome
    response: str | None = None
    error: str | None = None


class DeliveryWorker:
    def __init__(
        self,
        settings: NotificationsSettings,
        senders: dict[str, Sender] | None = None,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self._settings = settings
        self._senders = senders if senders is not None else default_senders(settings)
        self._rng = rng or random.Random()
        self._limit = asyncio.Semaphore(settings.delivery_concurrency)

    async def run_once(self, database: Database, *, max_batches: int = 20) -> int:
        """Send what is due now (a few batches at most); return how many were attempted."""
        total = 0
        for _ in range(max_batches):
            claimed = await self._claim(database)
            if not claimed:
                break
            await asyncio.gather(*(self._deliver(database, outgoing) for outgoing in claimed))
            total += len(claimed)
            if len(claimed) < self._settings.delivery_batch_size:
                break
        return total

    async def _claim(self, database: Database) -> list[Outgoing]:
        command = deliveries.ClaimDue(
            batch_size=self._settings.delivery_batch_size,
            lease_seconds=self._settings.delivery_lease_seconds,
            skip_locked=database.is_postgres,
        )
        async with database.transaction() as session:
            return await deliveries.claim_due(command, SYSTEM, session)

    async def _deliver(self, database: Database, outgoing: Outgoing) -> None:
        started = datetime.now(UTC)
        async with self._limit:
            result = await self._send(outgoing)
        try:
            await self._record(database, outgoing, result, started)
        except Exception:
            # The lease expires and the delivery is tried again: at least once, never lost.
            log.exception("cannot record delivery outcome", delivery_id=str(outgoing.delivery_id))

    async def _send(self, outgoing: Outgoing) -> _Result:
        sender = self._senders.get(outgoing.channel)
        if sender is None:
            return _Result(AttemptOutcome.FAILED, error=f"no sender for channel {outgoing.channel}")
        try:
            response = await asyncio.wait_for(
                sender.send(outgoing), timeout=self._settings.delivery_lease_seconds / 2
            )
            return _Result(AttemptOutcome.DELIVERED, response=response)
        except TimeoutError:
            return _Result(
                AttemptOutcome.RETRY, error="timeout: the send took longer than half the lease"
            )
        except PermanentFailure as exc:
            return _Result(AttemptOutcome.FAILED, error=str(exc))
        except TransientFailure as exc:
            return _Result(AttemptOutcome.RETRY, error=str(exc))
        except Exception as exc:  # a bug in a sender must not kill the worker: retry, visibly
            # The frames, and the message screened: a sender's exception may quote the address.
            error = screen_error_text(f"{type(exc).__name__}: {exc}")
            log.error(
                "sender crashed",
                channel=outgoing.channel,
                error=error,
                stack="".join(traceback.format_tb(exc.__traceback__)),
            )
            return _Result(AttemptOutcome.RETRY, error=error)

    async def _record(
        self, database: Database, outgoing: Outgoing, result: _Result, started: datetime
    ) -> None:
        settings = self._settings
        command = deliveries.RecordAttempt(
            outgoing=outgoing,
            outcome=result.outcome,
            started_at=started,
            max_attempts=settings.delivery_max_attempts,
            backoff_base_seconds=settings.delivery_backoff_base_seconds,
            backoff_max_seconds=settings.delivery_backoff_max_seconds,
            response=result.response,
            error=result.error,
            rng=self._rng,
        )
        async with database.transaction() as session:
            outcome = await deliveries.record_attempt(command, SYSTEM, session)
        if outcome is None:
            log.warning("delivery claim lost, outcome dropped", delivery=str(outgoing.delivery_id))
            return
        DELIVERY_OUTCOMES.labels(outgoing.channel, outcome.value).inc()
        log.info(
            "delivery attempted",
            delivery_id=str(outgoing.delivery_id),
            channel=outgoing.channel,
            attempt=outgoing.attempt,
            outcome=outcome.value,
            error=screen_error_text(result.error),
        )


# -- reminders ------------------------------------------------------------------------------------


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
        due_immersions = reminders.DueImmersions(
            today=today,
            business_days=self._settings.immersion_reminder_business_days,
            calendar=self._calendar,
            now=now,
        )
        async with database.reading() as session:
            immersions = await reminders.due_immersion_reminders(due_immersions, SYSTEM, session)
        sent_immersions = 0
        for cause in immersions:
            sent_immersions += await self._record(database, reminders.RecordReminder(cause))
        due_referrals = reminders.DueReferrals(
            after_days=self._settings.referral_reminder_after_days, now=now
        )
        async with database.reading() as session:
            referrals = await reminders.due_referral_reminders(due_referrals, SYSTEM, session)
        sent_referrals = 0
        for due in referrals:
            command = reminders.RecordReminder(due.cause, referral_id=due.referral_id)
            sent_referrals += await self._record(database, command)
        return ReminderRun(immersions=sent_immersions, referrals=sent_referrals)

    async def _record(self, database: Database, command: reminders.RecordReminder) -> int:
        try:
            async with database.transaction() as session:
                created = await reminders.record_reminder(command, SYSTEM, session)
        except IntegrityError:
            log.info("reminder already recorded by another run", cause=command.cause.cause_id)
            return 0
        if created:
            log.info("reminder recorded", cause=command.cause.cause_id, messages=len(created))
        return len(created)


def retention_job(
    settings: NotificationsSettings, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> PeriodicJob:
    """Published outbox rows and idempotency records past their retention, then the delivery
    error texts past their 90 days (issue 11, ``use_cases/retention.py``)."""
    from notifications.models import PLATFORM

    platform = platform_retention_job(
        settings, PLATFORM, name="notifications-retention", clock=clock
    )

    async def run(runtime: ServiceRuntime) -> None:
        await platform.run(runtime)
        async with runtime.database.transaction() as session:
            await purge_error_texts(session, PurgeErrorTexts(now=clock()))

    return PeriodicJob(platform.name, platform.interval_seconds, run=run)

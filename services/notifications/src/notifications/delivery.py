"""The delivery worker: picks due deliveries from the database, sends them, records the outcome.

Nothing is sent inside the consumer's transaction. The worker runs as a periodic job of the
runtime; its state is the ``deliveries`` table, so a restart resumes where it stopped:

1. **Claim** (one short transaction): due ``pending`` deliveries get ``attempts + 1`` and a lease
   (``next_attempt_at = now + lease``). On PostgreSQL ``FOR UPDATE SKIP LOCKED`` lets replicas
   share the work; SQLite serialises writers anyway. A worker that dies mid-send leaves the lease
   to expire, and the delivery is picked again.
2. **Send**, outside any transaction.
3. **Record** (one transaction, only if the claim is still ours): ``delivered`` with
   ``coop.notification.delivered.v1``; or a retry at ``now + backoff`` (exponential, with
   jitter); or ``failed`` with ``coop.notification.failed.v1`` after a permanent refusal or the
   last allowed attempt. Every try is kept in ``delivery_attempts``.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from prometheus_client import Counter
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from notifications.channels import Outgoing, PermanentFailure, Sender, TransientFailure
from notifications.channels.email import EmailSender
from notifications.channels.inbox import InboxSender
from notifications.channels.webhook import WebhookSender
from notifications.models import PLATFORM, Delivery, DeliveryAttempt, Notification, Recipient
from notifications.settings import NotificationsSettings
from shared.contracts.notifications import NotificationDelivered, NotificationFailed
from shared.db.database import Database
from shared.messaging.outbox import add_event

log = structlog.get_logger(__name__)

DELIVERY_OUTCOMES = Counter(
    "notifications_delivery_attempts_total",
    "Delivery attempts by channel and outcome (delivered, retry, failed).",
    ["channel", "outcome"],
)


def backoff_seconds(
    attempt: int, *, base: float, cap: float, rng: random.Random | None = None
) -> float:
    """Delay before the try after ``attempt`` (1-based): exponential, capped, "equal jitter".

    Half the exponential step is fixed and half is random, so retries of many deliveries that
    failed together (a mail server outage) spread out, and none comes back too soon.
    """
    step = min(cap, base * 2 ** max(0, attempt - 1))
    return step / 2 + (rng or random).uniform(0, step / 2)


def default_senders(settings: NotificationsSettings) -> dict[str, Sender]:
    return {
        "email": EmailSender(settings),
        "webhook": WebhookSender(settings),
        "inbox": InboxSender(),
    }


@dataclass(frozen=True, slots=True)
class _Result:
    outcome: str  # delivered | retry | failed
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

    # -- 1. claim ------------------------------------------------------------------------------

    async def _claim(self, database: Database) -> list[Outgoing]:
        now = datetime.now(UTC)
        lease_until = now + timedelta(seconds=self._settings.delivery_lease_seconds)
        async with database.transaction() as session:
            query = (
                select(Delivery, Notification)
                .join(Notification, Notification.id == Delivery.notification_id)
                .where(Delivery.status == "pending", Delivery.next_attempt_at <= now)
                .order_by(Delivery.next_attempt_at, Delivery.id)
                .limit(self._settings.delivery_batch_size)
            )
            if database.is_postgres:
                query = query.with_for_update(skip_locked=True, of=Delivery)
            rows = (await session.execute(query)).all()
            claimed = []
            for delivery, message in rows:
                delivery.attempts += 1
                delivery.next_attempt_at = lease_until
                delivery.updated_at = now
                claimed.append(await self._outgoing(session, delivery, message))
        return claimed

    async def _outgoing(
        self, session: AsyncSession, delivery: Delivery, message: Notification
    ) -> Outgoing:
        secret = None
        if delivery.channel == "webhook":
            recipient = await session.get(Recipient, (message.recipient_kind, message.recipient_id))
            secret = recipient.webhook_secret if recipient is not None else None
        return Outgoing(
            delivery_id=delivery.id,
            notification_id=message.id,
            channel=delivery.channel,
            address=delivery.address or "",
            subject=delivery.subject,
            body=delivery.body,
            attempt=delivery.attempts,
            event_type=message.event_type,
            cause_id=message.event_id,
            kind=message.kind,
            recipient_kind=message.recipient_kind,
            recipient_id=message.recipient_id,
            referral_id=message.referral_id,
            secret=secret,
        )

    # -- 2. send -------------------------------------------------------------------------------

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
            return _Result("failed", error=f"no sender for channel {outgoing.channel}")
        try:
            response = await asyncio.wait_for(
                sender.send(outgoing), timeout=self._settings.delivery_lease_seconds / 2
            )
            return _Result("delivered", response=response)
        except TimeoutError:
            return _Result("retry", error="timeout: the send took longer than half the lease")
        except PermanentFailure as exc:
            return _Result("failed", error=str(exc))
        except TransientFailure as exc:
            return _Result("retry", error=str(exc))
        except Exception as exc:  # a bug in a sender must not kill the worker: retry, visibly
            log.exception("sender crashed", channel=outgoing.channel)
            return _Result("retry", error=f"{type(exc).__name__}: {exc}")

    # -- 3. record -----------------------------------------------------------------------------

    async def _record(
        self, database: Database, outgoing: Outgoing, result: _Result, started: datetime
    ) -> None:
        now = datetime.now(UTC)
        outcome = result.outcome
        if outcome == "retry" and outgoing.attempt >= self._settings.delivery_max_attempts:
            outcome = "failed"
        values: dict[str, object] = {"updated_at": now, "last_error": result.error}
        if outcome == "delivered":
            values.update(status="delivered", delivered_at=now, next_attempt_at=None)
        elif outcome == "failed":
            values.update(status="failed", next_attempt_at=None)
        else:
            delay = backoff_seconds(
                outgoing.attempt,
                base=self._settings.delivery_backoff_base_seconds,
                cap=self._settings.delivery_backoff_max_seconds,
                rng=self._rng,
            )
            values.update(next_attempt_at=now + timedelta(seconds=delay))
        async with database.transaction() as session:
            claimed = await session.execute(
                update(Delivery)
                .where(
                    Delivery.id == outgoing.delivery_id,
                    Delivery.status == "pending",
                    Delivery.attempts == outgoing.attempt,
                )
                .values(**values)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                log.warning(
                    "delivery claim lost, outcome dropped", delivery=str(outgoing.delivery_id)
                )
                return
            session.add(
                DeliveryAttempt(
                    delivery_id=outgoing.delivery_id,
                    number=outgoing.attempt,
                    started_at=started,
                    finished_at=now,
                    outcome=outcome,
                    error=result.error,
                    response=(result.response or "")[:500] or None,
                )
            )
            if outcome in ("delivered", "failed"):
                await self._publish_outcome(session, outgoing, outcome, result, now)
        DELIVERY_OUTCOMES.labels(outgoing.channel, outcome).inc()
        log.info(
            "delivery attempted",
            delivery_id=str(outgoing.delivery_id),
            channel=outgoing.channel,
            attempt=outgoing.attempt,
            outcome=outcome,
            error=result.error,
        )

    async def _publish_outcome(
        self,
        session: AsyncSession,
        outgoing: Outgoing,
        outcome: str,
        result: _Result,
        now: datetime,
    ) -> None:
        common = {
            "message_id": outgoing.notification_id,
            "delivery_id": outgoing.delivery_id,
            "channel": outgoing.channel,
            "recipient_kind": outgoing.recipient_kind,
            "cause_event_id": outgoing.cause_id,
            "cause_event_type": outgoing.event_type,
            "occurred_at": now,
            "attempts": outgoing.attempt,
        }
        data: NotificationDelivered | NotificationFailed
        if outcome == "delivered":
            data = NotificationDelivered(**common)
        else:
            data = NotificationFailed(**common, last_error=result.error or "unknown")
        await add_event(
            session,
            PLATFORM,
            data,
            source=self._settings.event_source,
            subject=f"notifications/{outgoing.notification_id}",
            occurred_at=now,
        )

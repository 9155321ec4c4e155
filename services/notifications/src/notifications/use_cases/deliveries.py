"""Deliveries: the worker's two transactions around a send (claim what is due, record what the
try gave), and ops retrying a failed or skipped delivery.

1. **Claim** (:func:`claim_due`): due ``pending`` deliveries get ``attempts + 1`` and a lease
   (``next_attempt_at = now + lease``). On PostgreSQL ``FOR UPDATE SKIP LOCKED`` lets replicas
   share the work; SQLite serialises writers anyway. A worker that dies mid-send leaves the lease
   to expire, and the delivery is picked again.
2. The send itself happens outside any transaction (:mod:`notifications.jobs`).
3. **Record** (:func:`record_attempt`, only if the claim is still ours): ``delivered`` with
   ``coop.notification.delivered.v1``; or a retry at ``now + backoff`` (exponential, with
   jitter); or ``failed`` with ``coop.notification.failed.v1`` after a permanent refusal or the
   last allowed attempt. Every try is kept in ``delivery_attempts``.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from notifications import access
from notifications.adapters.base import Outgoing
from notifications.domain.delivery import (
    OUTCOME_ACTIONS,
    AttemptOutcome,
    Channel,
    DeliveryAction,
    DeliveryStatus,
    backoff_seconds,
    check_transition,
    final_outcome,
)
from notifications.domain.errors import DeliveryNotFound
from notifications.models import OUTBOX, Delivery, DeliveryAttempt, Notification, Recipient
from notifications.use_cases import recipients
from notifications.use_cases.retention import screen_error_text
from shared.auth.tokens import Principal
from shared.contracts.notifications import NotificationDelivered, NotificationFailed
from shared.domain.errors import Conflict


async def pending_count(session: AsyncSession) -> int:
    """Deliveries waiting to be sent (due now or retrying later)."""
    return int(
        await session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(Delivery.status == DeliveryStatus.PENDING.value)
        )
        or 0
    )


# -- 1. claim -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClaimDue:
    batch_size: int
    lease_seconds: float
    #: PostgreSQL: lock the claimed rows, skipping those another replica holds.
    skip_locked: bool = False


async def claim_due(
    command: ClaimDue, principal: Principal, session: AsyncSession
) -> list[Outgoing]:
    """Take the due pending deliveries (oldest first) for one try each, under a lease."""
    access.ensure_platform(principal)
    claim = check_transition(
        DeliveryAction.CLAIM, DeliveryStatus.PENDING, access.delivery_actor(principal)
    )
    now = datetime.now(UTC)
    lease_until = now + timedelta(seconds=command.lease_seconds)
    query = (
        select(Delivery, Notification)
        .join(Notification, Notification.id == Delivery.notification_id)
        .where(Delivery.status.in_(claim.sources), Delivery.next_attempt_at <= now)
        .order_by(Delivery.next_attempt_at, Delivery.id)
        .limit(command.batch_size)
    )
    if command.skip_locked:
        query = query.with_for_update(skip_locked=True, of=Delivery)
    rows = (await session.execute(query)).all()
    claimed = []
    for delivery, message in rows:
        delivery.status = claim.target.value
        delivery.attempts += 1
        delivery.next_attempt_at = lease_until
        delivery.updated_at = now
        claimed.append(await _outgoing(session, delivery, message))
    return claimed


async def _outgoing(session: AsyncSession, delivery: Delivery, message: Notification) -> Outgoing:
    secret = None
    if delivery.channel == Channel.WEBHOOK:
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


# -- 3. record ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecordAttempt:
    """What one try of a claimed delivery gave."""

    outgoing: Outgoing
    outcome: AttemptOutcome
    started_at: datetime
    max_attempts: int
    backoff_base_seconds: float
    backoff_max_seconds: float
    response: str | None = None
    error: str | None = None
    rng: random.Random | None = None


async def record_attempt(
    command: RecordAttempt, principal: Principal, session: AsyncSession
) -> AttemptOutcome | None:
    """Record the try; return its final outcome, or None when the claim was lost (another worker
    took the delivery after our lease expired: our outcome is dropped)."""
    access.ensure_platform(principal)
    # What the other side answered may echo the address or number (issue 11): screened first.
    command = replace(
        command,
        error=screen_error_text(command.error),
        response=screen_error_text(command.response),
    )
    outgoing = command.outgoing
    now = datetime.now(UTC)
    outcome = final_outcome(
        command.outcome, attempt=outgoing.attempt, max_attempts=command.max_attempts
    )
    # The claim left it pending: the move this outcome makes from there.
    move = check_transition(
        OUTCOME_ACTIONS[outcome], DeliveryStatus.PENDING, access.delivery_actor(principal)
    )
    values: dict[str, object] = {
        "status": move.target.value,
        "updated_at": now,
        "last_error": command.error,
    }
    if outcome is AttemptOutcome.DELIVERED:
        values.update(delivered_at=now, next_attempt_at=None)
    elif outcome is AttemptOutcome.FAILED:
        values.update(next_attempt_at=None)
    else:
        delay = backoff_seconds(
            outgoing.attempt,
            base=command.backoff_base_seconds,
            cap=command.backoff_max_seconds,
            rng=command.rng,
        )
        values.update(next_attempt_at=now + timedelta(seconds=delay))
    claimed = await session.execute(
        update(Delivery)
        .where(
            Delivery.id == outgoing.delivery_id,
            Delivery.status.in_(move.sources),
            Delivery.attempts == outgoing.attempt,
        )
        .values(**values)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return None
    session.add(
        DeliveryAttempt(
            delivery_id=outgoing.delivery_id,
            number=outgoing.attempt,
            started_at=command.started_at,
            finished_at=now,
            outcome=outcome.value,
            error=command.error,
            response=(command.response or "")[:500] or None,
        )
    )
    if outcome in (AttemptOutcome.DELIVERED, AttemptOutcome.FAILED):
        await _publish_outcome(session, command, outcome, now)
    return outcome


async def _publish_outcome(
    session: AsyncSession, command: RecordAttempt, outcome: AttemptOutcome, now: datetime
) -> None:
    outgoing = command.outgoing
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
    if outcome is AttemptOutcome.DELIVERED:
        data = NotificationDelivered(**common)
    else:
        data = NotificationFailed(**common, last_error=command.error or "unknown")
    await OUTBOX.stage(
        session, data, subject=f"notifications/{outgoing.notification_id}", occurred_at=now
    )


# -- ops: retry -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RetryDelivery:
    delivery_id: uuid.UUID


async def retry(
    command: RetryDelivery, principal: Principal, session: AsyncSession
) -> tuple[Delivery, Notification]:
    """A failed or skipped delivery back to ``pending``: attempts reset, history kept, the
    address re-read from the directory (fix the address, then retry)."""
    access.ensure_manages_deliveries(principal)
    delivery, message = await delivery_with_message(session, principal, command.delivery_id)
    move = check_transition(DeliveryAction.RETRY, delivery.status, access.delivery_actor(principal))
    found = await recipients.addressee(session, message.recipient_kind, message.recipient_id)
    address = found.address_for(delivery.channel)
    if address is None:
        raise Conflict(
            f"Aucune adresse {delivery.channel} pour {message.recipient_kind} "
            f"{message.recipient_id} : enregistrez-la d'abord (PUT /v1/recipients/…).",
            code="no-address",
        )
    now = datetime.now(UTC)
    delivery.address = address
    delivery.status = move.target.value
    delivery.attempts = 0
    delivery.next_attempt_at = now
    delivery.last_error = None
    delivery.updated_at = now
    await session.flush()
    return delivery, message


async def delivery_with_message(
    session: AsyncSession, principal: Principal, delivery_id: uuid.UUID
) -> tuple[Delivery, Notification]:
    """A delivery the caller may see, with its message; 404 otherwise."""
    row = (
        await session.execute(
            select(Delivery, Notification)
            .join(Notification, Notification.id == Delivery.notification_id)
            .where(Delivery.id == delivery_id, access.messages_visible_to(principal))
        )
    ).first()
    if row is None:
        raise DeliveryNotFound("Envoi introuvable.")
    return row[0], row[1]

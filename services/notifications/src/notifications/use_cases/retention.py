"""Retention of the delivery error texts (issue 11, item 5).

What the other side answered (an SMTP reply, an HTTP status line, a provider's message) is kept for
ops to understand a failure: ``deliveries.last_error``, ``delivery_attempts.error`` and
``delivery_attempts.response``. Two protections:

- **Screened on write** (:func:`screen_error_text`, called by
  :func:`notifications.use_cases.deliveries.record_attempt` and the worker's log line): an SMTP
  reply echoes the address it refused (``550 5.1.1 <jean.dupont@example.org>``), a gateway the
  number; e-mail addresses, phone numbers, NIR, bank details and health words are replaced by
  « [retiré] » before anything is stored, logged or published (``coop.notification.failed.v1``).
- **Kept 90 days** (:data:`ERROR_TEXT_RETENTION`, as long as the dead letters ops inspect):
  :func:`purge_error_texts` then empties the texts; the attempts themselves (number, times,
  outcome) stay with their delivery.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.ext.asyncio import AsyncSession

from notifications.models import Delivery, DeliveryAttempt
from shared.privacy import screen_error_text as _screen

ERROR_TEXT_RETENTION = timedelta(days=90)


def screen_error_text(text: str | None) -> str | None:
    """:func:`shared.privacy.screen_error_text`, None kept None."""
    return None if text is None else _screen(text)


@dataclass(frozen=True, slots=True)
class PurgeErrorTexts:
    now: datetime
    older_than: timedelta = ERROR_TEXT_RETENTION


@dataclass(frozen=True, slots=True)
class ErrorTextPurge:
    deliveries: int
    attempts: int


async def purge_error_texts(session: AsyncSession, command: PurgeErrorTexts) -> ErrorTextPurge:
    """One pass in the caller's transaction: the error texts older than their retention."""
    if command.now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    cutoff = command.now - command.older_than
    deliveries = await session.execute(
        update(Delivery)
        .where(Delivery.last_error.is_not(None), Delivery.updated_at < cutoff)
        .values(last_error=None)
        .execution_options(synchronize_session=False)
    )
    attempts = await session.execute(
        update(DeliveryAttempt)
        .where(
            or_(DeliveryAttempt.error.is_not(None), DeliveryAttempt.response.is_not(None)),
            DeliveryAttempt.finished_at < cutoff,
        )
        .values(error=None, response=None)
        .execution_options(synchronize_session=False)
    )
    return ErrorTextPurge(deliveries=_count(deliveries), attempts=_count(attempts))


def _count(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)

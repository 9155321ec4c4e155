"""Retention of the platform tables every store has (issue 11, item 5): what they keep of people
only for as long as their purpose needs it.

- **Published outbox rows.** Once the relay has published an event, its row is only a trace: the
  broker holds the event for its topic's retention. Yet the row keeps the payload (on the agency
  feed: name, e-mail, phone and RQTH). Rows published more than ``published_outbox`` ago (7 days
  by default, a setting) are deleted; unpublished rows are never touched, whatever their age.
- **Idempotency records.** A stored response (a whole job-seeker record, RQTH included) is there to
  replay a retried request; a client retries within minutes. Records older than ``idempotency``
  (24 h by default) are deleted, and the same key then creates anew.

The processed-events table holds event ids only: nothing personal, no purge here.

:func:`purge_platform_tables` does one pass in the caller's transaction and says what it removed;
a service's periodic job calls it with the current time (tests move the clock).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.tables import PlatformTables

DEFAULT_PUBLISHED_OUTBOX_RETENTION = timedelta(days=7)
DEFAULT_IDEMPOTENCY_RETENTION = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    published_outbox: timedelta = DEFAULT_PUBLISHED_OUTBOX_RETENTION
    idempotency: timedelta = DEFAULT_IDEMPOTENCY_RETENTION

    def __post_init__(self) -> None:
        if self.published_outbox <= timedelta(0) or self.idempotency <= timedelta(0):
            raise ValueError("retention periods must be positive")


@dataclass(frozen=True, slots=True)
class PurgeReport:
    """What one pass removed, for the job's log line and metrics (counts only)."""

    outbox_rows: int
    idempotency_records: int


async def purge_platform_tables(
    session: AsyncSession,
    tables: PlatformTables,
    *,
    now: datetime,
    policy: RetentionPolicy | None = None,
) -> PurgeReport:
    """Delete the published outbox rows and idempotency records past their retention."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    policy = policy or RetentionPolicy()
    outbox = tables.outbox
    published = await session.execute(
        delete(outbox).where(
            outbox.c.published_at.is_not(None),
            outbox.c.published_at < now - policy.published_outbox,
        )
    )
    keys = tables.idempotency_keys
    expired = await session.execute(
        delete(keys).where(keys.c.created_at < now - policy.idempotency)
    )
    return PurgeReport(
        outbox_rows=_count(published),
        idempotency_records=_count(expired),
    )


def _count(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)

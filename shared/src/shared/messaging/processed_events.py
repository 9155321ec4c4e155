"""Processed events (the inbox pattern's dedupe table): which events a consumer has already
applied, written in the same transaction as the effect, so that a redelivered event
has no second effect."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Table, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.direct import DirectSelect, insert_rows
from shared.db.tables import PlatformTables

#: Each service's look-up of one claim, compiled once (per table: a service has its own).
_SEEN: dict[Table, DirectSelect] = {}


def _seen_of(processed: Table) -> DirectSelect:
    found = _SEEN.get(processed)
    if found is None:
        found = _SEEN[processed] = DirectSelect(
            select(processed.c.event_id).where(
                processed.c.consumer == bindparam("consumer"),
                processed.c.event_id == bindparam("event_id"),
            )
        )
    return found


async def claim(
    session: AsyncSession,
    tables: PlatformTables,
    *,
    consumer: str,
    event_id: str,
    event_type: str,
    topic: str,
    partition: int,
    offset: int,
) -> bool:
    """Record that ``consumer`` applies ``event_id`` in this transaction.

    Returns False when it was applied before. A concurrent claim of the same event fails the
    transaction on its primary key, so at most one of the two effects commits. Both statements
    go straight through the driver (:mod:`shared.db.direct`): a consumer claims every record it
    applies alone, at a steady load each one.
    """
    processed = tables.processed_events
    seen = await _seen_of(processed).first(session, {"consumer": consumer, "event_id": event_id})
    if seen is not None:
        return False
    await insert_rows(
        session,
        [
            (
                processed,
                [
                    {
                        "consumer": consumer,
                        "event_id": event_id,
                        "event_type": event_type,
                        "topic": topic,
                        "partition": partition,
                        "offset": offset,
                        "processed_at": datetime.now(UTC),
                    }
                ],
            )
        ],
    )
    return True

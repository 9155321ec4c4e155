"""Processed events (the inbox pattern's dedupe table): which events a consumer has already
applied, written in the same transaction as the effect, so that a redelivered event
has no second effect."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.tables import PlatformTables


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
    transaction on its primary key, so at most one of the two effects commits.
    """
    processed = tables.processed_events
    seen = await session.scalar(
        select(processed.c.event_id).where(
            processed.c.consumer == consumer, processed.c.event_id == event_id
        )
    )
    if seen is not None:
        return False
    await session.execute(
        processed.insert().values(
            consumer=consumer,
            event_id=event_id,
            event_type=event_type,
            topic=topic,
            partition=partition,
            offset=offset,
            processed_at=datetime.now(UTC),
        )
    )
    return True

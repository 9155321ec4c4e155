"""Processed events (the inbox pattern's dedupe table): which events a consumer has already
applied, written in the same transaction as the effect, so that a redelivered event
has no second effect."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Table, bindparam
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.conflicts import insert_ignoring_conflicts
from shared.db.direct import DirectSelect
from shared.db.tables import PlatformTables

_COLUMNS = ("consumer", "event_id", "event_type", "topic", "partition", "offset", "processed_at")
#: Each service's claim per dialect, compiled once (per table: a service has its own).
_CLAIMS: dict[tuple[Table, str], DirectSelect] = {}


def _claim_of(session: AsyncSession, processed: Table) -> DirectSelect:
    dialect = session.get_bind().dialect.name
    found = _CLAIMS.get((processed, dialect))
    if found is None:
        statement = (
            insert_ignoring_conflicts(session, processed)
            .values({name: bindparam(name) for name in _COLUMNS})
            .returning(processed.c.event_id)
        )
        found = _CLAIMS[(processed, dialect)] = DirectSelect(statement)
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

    Returns False when it was applied before. One statement, straight through the driver
    (:mod:`shared.db.direct`): ``INSERT … ON CONFLICT DO NOTHING RETURNING``, the row back when
    it is new — a consumer claims every record it applies alone, at a steady load each one. A
    concurrent claim of the same event waits for the first transaction (PostgreSQL; SQLite's
    writers take turns) and then finds it claimed — or claims it, if the first rolled back — so
    at most one of the two effects commits.
    """
    processed = tables.processed_events
    claimed = await _claim_of(session, processed).first(
        session,
        {
            "consumer": consumer,
            "event_id": event_id,
            "event_type": event_type,
            "topic": topic,
            "partition": partition,
            "offset": offset,
            "processed_at": datetime.now(UTC),
        },
    )
    return claimed is not None

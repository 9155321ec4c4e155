"""The inbox's claim (``shared.messaging.processed_events.claim``): once per consumer and event,
in one statement (``INSERT … ON CONFLICT DO NOTHING RETURNING``), on the real store — a
redelivery, another consumer, a rolled-back claim and a concurrent one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import MetaData, func, select

from shared.db.database import Database
from shared.db.tables import platform_tables
from shared.messaging import processed_events
from shared.testing import executed_statements, without_transaction_control

metadata = MetaData()
TABLES = platform_tables(metadata)


@pytest.fixture
async def database(new_database: Callable[[str], Awaitable[str]]) -> AsyncIterator[Database]:
    db = Database(await new_database("claims"))
    async with db.engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    yield db
    await db.dispose()


async def _claim_in(session: Any, consumer: str, event_id: str, offset: int = 7) -> bool:
    return await processed_events.claim(
        session,
        TABLES,
        consumer=consumer,
        event_id=event_id,
        event_type="coop.referral.sent.v1",
        topic="referral.events",
        partition=2,
        offset=offset,
    )


async def _claim(database: Database, consumer: str, event_id: str, offset: int = 7) -> bool:
    async with database.transaction() as session:
        return await _claim_in(session, consumer, event_id, offset)


async def _rows(database: Database) -> list[Any]:
    table = TABLES.processed_events
    async with database.reading() as session:
        statement = select(table).order_by(table.c.consumer, table.c.event_id)
        return list((await session.execute(statement)).all())


async def test_an_event_is_claimed_once_per_consumer_in_one_statement(database: Database) -> None:
    before = datetime.now(UTC)
    with executed_statements(database.engine) as executed:
        assert await _claim(database, "notifications.referral-events", "evt-1")
    statements = without_transaction_control(executed)
    assert len(statements) == 1, statements
    assert "ON CONFLICT" in statements[0].upper()
    # A redelivery of the same event to the same consumer: not fresh, nothing written.
    assert not await _claim(database, "notifications.referral-events", "evt-1", offset=8)
    # The same event for another consumer is that consumer's first.
    assert await _claim(database, "dispositifs.referral-events", "evt-1")
    rows = await _rows(database)
    assert [(r.consumer, r.event_id, r.offset) for r in rows] == [
        ("dispositifs.referral-events", "evt-1", 7),
        ("notifications.referral-events", "evt-1", 7),  # the first delivery's, kept
    ]
    first = rows[1]
    assert (first.event_type, first.topic, first.partition) == (
        "coop.referral.sent.v1",
        "referral.events",
        2,
    )
    # Stored as Core stores the column: read back as an aware UTC datetime of the claim.
    assert first.processed_at.tzinfo is not None
    assert before - timedelta(seconds=1) <= first.processed_at <= datetime.now(UTC)


async def test_a_rolled_back_claim_leaves_the_event_to_claim_again(database: Database) -> None:
    class Refused(Exception):
        pass

    async def claim_then_refuse() -> None:
        async with database.transaction() as session:
            assert await _claim_in(session, "c", "evt-2")
            raise Refused

    with pytest.raises(Refused):
        await claim_then_refuse()
    assert await _rows(database) == []
    assert await _claim(database, "c", "evt-2")


async def test_a_concurrent_claim_waits_for_the_first_and_finds_it_claimed(
    database: Database,
) -> None:
    claimed = asyncio.Event()
    release = asyncio.Event()

    async def first() -> bool:
        async with database.transaction() as session:
            fresh = await _claim_in(session, "c", "evt-3")
            claimed.set()
            await release.wait()  # not committed yet while the second one tries
            return fresh

    holder = asyncio.create_task(first())
    await claimed.wait()
    second = asyncio.create_task(_claim(database, "c", "evt-3"))
    await asyncio.sleep(0.2)
    assert not second.done()  # waiting for the first transaction, not failing
    release.set()
    assert await holder
    assert not await second  # the first committed: a duplicate, no error
    table = TABLES.processed_events
    async with database.reading() as session:
        assert await session.scalar(select(func.count()).select_from(table)) == 1

"""Retention of the platform tables on a real store (SQLite, or PostgreSQL with
COOP_TEST_POSTGRES_URL), with a moved clock (issue 11, item 5)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import MetaData, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth.tokens import Principal, Role
from shared.db.database import Database
from shared.db.tables import platform_tables
from shared.http.idempotency import create_once
from shared.privacy.retention import PurgeReport, RetentionPolicy, purge_platform_tables

METADATA = MetaData()
PLATFORM = platform_tables(METADATA)
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
PRINCIPAL = Principal(subject="counsellor-1", role=Role.COUNSELLOR)


@pytest.fixture
async def database(new_database: Callable[[str], Awaitable[str]]) -> AsyncIterator[Database]:
    db = Database(await new_database("retention"))
    async with db.engine.begin() as connection:
        await connection.run_sync(METADATA.create_all)
    yield db
    await db.dispose()


def outbox_row(name: str, *, created: datetime, published: datetime | None) -> dict[str, Any]:
    return {
        "event_id": name,
        "topic": "agency.interim-a.feed",
        "key": str(uuid.uuid4()),
        "event_type": "coop.agency.referral_received.v1",
        "source": "/referral",
        "occurred_at": created,
        "data": {"candidate": {"first_name": "Camille", "last_name": "Martin", "rqth": True}},
        "created_at": created,
        "published_at": published,
    }


async def event_ids(database: Database) -> set[str]:
    async with database.sessionmaker() as session:
        return set((await session.scalars(select(PLATFORM.outbox.c.event_id))).all())


async def test_published_outbox_rows_go_after_their_retention_and_unpublished_ones_stay(
    database: Database,
) -> None:
    async with database.transaction() as session:
        await session.execute(
            insert(PLATFORM.outbox),
            [
                outbox_row(
                    "old-published",
                    created=NOW - timedelta(days=9),
                    published=NOW - timedelta(days=8),
                ),
                outbox_row(
                    "recent-published",
                    created=NOW - timedelta(days=2),
                    published=NOW - timedelta(days=2),
                ),
                # A relay outage: never published, however old, it must still go out.
                outbox_row("old-unpublished", created=NOW - timedelta(days=30), published=None),
            ],
        )

    async with database.transaction() as session:
        report = await purge_platform_tables(session, PLATFORM, now=NOW)
    assert report == PurgeReport(outbox_rows=1, idempotency_records=0)
    assert await event_ids(database) == {"recent-published", "old-unpublished"}

    # A week later (the clock moved), the other published row goes too.
    async with database.transaction() as session:
        report = await purge_platform_tables(session, PLATFORM, now=NOW + timedelta(days=6))
    assert report.outbox_rows == 1
    assert await event_ids(database) == {"old-unpublished"}


async def test_the_outbox_retention_is_a_setting(database: Database) -> None:
    async with database.transaction() as session:
        await session.execute(
            insert(PLATFORM.outbox),
            [outbox_row("a", created=NOW - timedelta(days=2), published=NOW - timedelta(days=2))],
        )
    async with database.transaction() as session:
        kept = await purge_platform_tables(session, PLATFORM, now=NOW)
        gone = await purge_platform_tables(
            session, PLATFORM, now=NOW, policy=RetentionPolicy(published_outbox=timedelta(days=1))
        )
    assert (kept.outbox_rows, gone.outbox_rows) == (0, 1)
    with pytest.raises(ValueError, match="positive"):
        RetentionPolicy(idempotency=timedelta(0))


async def test_an_idempotency_record_expires_and_the_same_key_then_creates_anew(
    database: Database,
) -> None:
    created: list[str] = []

    async def create(session: AsyncSession) -> tuple[dict[str, Any], str]:
        created.append(str(uuid.uuid4()))
        return {"id": created[-1], "rqth": True}, f"/v1/job-seekers/{created[-1]}"

    request = {"method": "POST", "path": "/v1/job-seekers", "body": {"last_name": "Martin"}}
    first = await create_once(database, PLATFORM, PRINCIPAL, "key-1", request, create)
    replay = await create_once(database, PLATFORM, PRINCIPAL, "key-1", request, create)
    assert bytes(replay.body) == bytes(first.body)
    assert len(created) == 1

    # Within 24 h the record stays; past it, it is gone with the response it stored.
    real_now = datetime.now(UTC)
    async with database.transaction() as session:
        early = await purge_platform_tables(session, PLATFORM, now=real_now + timedelta(hours=23))
    async with database.transaction() as session:
        late = await purge_platform_tables(session, PLATFORM, now=real_now + timedelta(hours=25))
    assert (early.idempotency_records, late.idempotency_records) == (0, 1)
    async with database.sessionmaker() as session:
        count = await session.scalar(select(func.count()).select_from(PLATFORM.idempotency_keys))
    assert count == 0

    again = await create_once(database, PLATFORM, PRINCIPAL, "key-1", request, create)
    assert len(created) == 2
    assert bytes(again.body) != bytes(first.body)


async def test_a_naive_clock_is_refused(database: Database) -> None:
    async with database.transaction() as session:
        with pytest.raises(ValueError, match="timezone-aware"):
            await purge_platform_tables(session, PLATFORM, now=datetime(2026, 12, 1))

"""Reads never wait for writers: on a real SQLite file, with another connection holding the write
lock, a read session and the readiness ping answer while the lock is still held; writing
transactions still take the lock at BEGIN (they queue behind it)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, select

from shared.db.database import Database
from shared.db.tables import platform_tables
from shared.messaging.outbox import OutboxRelay
from shared.runtime import ServiceRuntime
from shared.settings import ServiceSettings
from shared.testing import store_kind

metadata = MetaData()
PLATFORM = platform_tables(metadata)
notes = Table(
    "notes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("text", String(50), nullable=False),
)

sqlite_only = pytest.mark.skipif(
    store_kind() != "sqlite",
    reason="tests SQLite's database-wide write lock, which PostgreSQL does not have",
)


@pytest.fixture
async def database(new_database: Callable[[str], Awaitable[str]]) -> AsyncIterator[Database]:
    db = Database(await new_database("reads"))
    async with db.engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    async with db.transaction() as session:
        await session.execute(notes.insert().values(text="committed before"))
    yield db
    await db.dispose()


def _hold_write_lock(
    path: str, locked: asyncio.Event, release: asyncio.Event, loop: object
) -> None:
    """In a thread: take SQLite's write lock on ``path``, write, and keep it until ``release``."""
    assert isinstance(loop, asyncio.AbstractEventLoop)
    connection = sqlite3.connect(path, isolation_level=None, timeout=30)
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("INSERT INTO notes (text) VALUES ('uncommitted')")
        loop.call_soon_threadsafe(locked.set)
        asyncio.run_coroutine_threadsafe(release.wait(), loop).result(timeout=60)
        connection.execute("COMMIT")
    finally:
        connection.close()


def _no_producer() -> Any:
    raise AssertionError("measuring the backlog publishes nothing")


@sqlite_only
async def test_reads_and_ping_complete_while_another_connection_holds_the_write_lock(
    database: Database,
) -> None:
    loop = asyncio.get_running_loop()
    locked, release = asyncio.Event(), asyncio.Event()
    path = database.url.database
    assert path
    holder = asyncio.create_task(asyncio.to_thread(_hold_write_lock, path, locked, release, loop))
    await locked.wait()
    order: list[str] = []

    async def read() -> None:
        async with database.reading() as session:
            texts = list((await session.scalars(select(notes.c.text))).all())
        assert texts == ["committed before"]  # the writer's row is not committed yet
        order.append("read")

    async def ping() -> None:
        await database.ping()
        order.append("ping")

    async def runtime_session() -> None:
        # Every GET of the services reads through runtime.session(): the same read path.
        settings = ServiceSettings(
            database_url=database.url.render_as_string(hide_password=False), kafka_enabled=False
        )
        runtime = ServiceRuntime(settings, tables=PLATFORM)
        try:
            async with runtime.session() as session:
                assert await session.scalar(select(notes.c.text).limit(1)) == "committed before"
        finally:
            await runtime.stop()
        order.append("runtime session")

    async def outbox_backlog() -> None:
        relay = OutboxRelay(database, PLATFORM, _no_producer, service="test")
        assert (await relay.backlog()).pending == 0
        assert await relay.pending_count() == 0
        order.append("backlog")

    async def write() -> None:
        async with database.transaction() as session:
            await session.execute(notes.insert().values(text="queued writer"))
        order.append("write")

    writer = asyncio.create_task(write())
    try:
        async with asyncio.timeout(20):  # a guard against hanging, not a timing assertion
            await asyncio.gather(read(), ping(), outbox_backlog(), runtime_session())
        # All answered while the lock is still held; the writer is still queued behind it.
        assert not release.is_set()
        assert sorted(order) == ["backlog", "ping", "read", "runtime session"]
        assert not writer.done()
    finally:
        release.set()
        await holder
    await writer
    assert order[-1] == "write"
    async with database.reading() as session:
        texts = list((await session.scalars(select(notes.c.text).order_by(notes.c.id))).all())
    assert texts == ["committed before", "uncommitted", "queued writer"]


@sqlite_only
async def test_a_read_session_begins_deferred_and_a_transaction_immediate(
    database: Database, tmp_path: Path
) -> None:
    # What SQLite itself is given (its trace callback): BEGIN goes straight to the driver,
    # below SQLAlchemy's statement events.
    statements: list[str] = []
    from sqlalchemy import event
    from sqlalchemy.util import await_only

    await database.engine.dispose()  # new connections, each traced from its start

    @event.listens_for(database.engine.sync_engine, "connect")
    def _trace(dbapi_connection: Any, _record: object) -> None:
        await_only(dbapi_connection.driver_connection.set_trace_callback(statements.append))

    async with database.reading() as session:
        await session.scalar(select(notes.c.id).limit(1))
    async with database.transaction() as session:
        await session.scalar(select(notes.c.id).limit(1))
    begins = [s for s in statements if s.startswith("BEGIN")]
    assert begins == ["BEGIN", "BEGIN IMMEDIATE"]


async def test_background_handle_has_its_own_pool_on_postgres_and_is_the_store_on_sqlite(
    database: Database,
) -> None:
    background = database.background
    assert background.background is background
    assert background.sync_session_class is database.sync_session_class
    if database.is_postgres:
        assert background is not database
        assert background.engine.pool is not database.engine.pool
    else:
        assert background is database
    async with background.transaction() as session:
        await session.execute(notes.insert().values(text="from the relay's side"))
    async with database.reading() as session:
        count = len(list((await session.scalars(select(notes.c.id))).all()))
    assert count == 2


@sqlite_only
async def test_sqlite_connections_are_set_up_once_and_kept(database: Database) -> None:
    """Sixteen requests at once, twice: the second time no connection is opened (and set up,
    with its own aiosqlite thread and PRAGMAs) again."""
    from sqlalchemy import event

    opened: list[object] = []
    event.listen(database.engine.sync_engine, "connect", lambda conn, _record: opened.append(conn))

    async def read() -> None:
        async with database.reading() as session:
            await session.scalar(select(notes.c.id).limit(1))
            await asyncio.sleep(0.05)  # all sixteen hold a connection together

    await asyncio.gather(*(read() for _ in range(16)))
    first = len(opened)
    await asyncio.gather(*(read() for _ in range(16)))
    assert len(opened) == first


@sqlite_only
async def test_sqlite_keeps_at_most_its_pool_ceiling_of_connections(database: Database) -> None:
    """Sixteen requests at once on a store kept at ``DEFAULT_SQLITE_POOL_SIZE`` connections: each
    kept connection is a thread and its memory; the others wait for one and all succeed."""
    from sqlalchemy import event

    from shared.db.database import DEFAULT_SQLITE_POOL_SIZE

    opened: list[object] = []
    event.listen(database.engine.sync_engine, "connect", lambda conn, _record: opened.append(conn))

    async def read() -> int | None:
        async with database.reading() as session:
            found = await session.scalar(select(func.count()).select_from(notes))
            await asyncio.sleep(0.05)
            return found

    results = await asyncio.gather(*(read() for _ in range(16)))
    assert len(results) == 16
    assert None not in results
    assert 1 <= len(opened) <= DEFAULT_SQLITE_POOL_SIZE < 16


@sqlite_only
async def test_the_writers_of_one_process_take_turns_before_sqlite_s_lock(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a SQLite file the process's writing transactions queue, in order, on the store's own
    lock before they take a connection and send ``BEGIN IMMEDIATE``: one writer at a time waits
    on SQLite (whose busy handler polls with sleeps of up to 100 ms), the others on the queue,
    and they enter in the order they came. A reader is never queued. Beyond the busy timeout's
    30 s a queued writer fails as a locked SQLite would."""
    from shared.db import database as database_module

    entered: list[int] = []
    holding, release = asyncio.Event(), asyncio.Event()

    async def first() -> None:
        async with database.transaction() as session:
            await session.execute(notes.insert().values(text="first"))
            holding.set()
            await release.wait()

    async def writer(n: int) -> None:
        async with database.transaction() as session:
            entered.append(n)
            await session.execute(notes.insert().values(text=f"writer {n}"))

    task = asyncio.create_task(first())
    await holding.wait()
    writers = []
    for n in range(5):
        writers.append(asyncio.create_task(writer(n)))
        await asyncio.sleep(0.01)  # each one queued before the next comes
    await asyncio.sleep(0.2)
    # Only the first writer holds a connection: the five wait on the queue, not in SQLite.
    assert database.engine.sync_engine.pool.checkedout() == 1  # type: ignore[attr-defined]
    assert entered == []
    async with database.reading() as session:  # a read does not queue
        assert await session.scalar(select(func.count()).select_from(notes)) == 1

    monkeypatch.setattr(database_module, "WRITE_QUEUE_TIMEOUT", 0.2)
    with pytest.raises(database_module.OperationalError, match="database is locked"):
        await writer(99)

    release.set()
    await asyncio.gather(task, *writers)
    assert entered == [0, 1, 2, 3, 4]
    async with database.reading() as session:
        assert await session.scalar(select(func.count()).select_from(notes)) == 7

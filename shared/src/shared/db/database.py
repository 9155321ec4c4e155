"""Async engine and session factory for one service's own store (SQLite or PostgreSQL).

Three ways in, by what the work does:

- :meth:`Database.transaction` for writes: on SQLite it starts with ``BEGIN IMMEDIATE`` (the write
  lock is taken at once, so writers queue behind the busy timeout instead of failing when a
  deferred transaction upgrades), and the writers of one process first queue, in order, behind
  an :class:`asyncio.Lock` of the store's (SQLite's busy handler polls with sleeps of up to
  100 ms: waiting there, a writer could miss the lock many times over);
- :meth:`Database.reading` for reads: a plain deferred ``BEGIN`` on SQLite, which in WAL mode
  never waits for a writer (the readiness ping, the outbox counts and every GET go this way);
- :attr:`Database.background` for the outbox relay and the consumers: on PostgreSQL an engine with
  its own pool, so HTTP requests never queue behind them for a connection; on SQLite the same
  store (one writer at a time whatever the pool).
"""

from __future__ import annotations

import asyncio
import sqlite3
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session
from sqlalchemy.util import await_only as await_

from shared.db.sqlite_driver import OneHandOffConnection, one_hand_off_dbapi

#: Execution option marking a connection that only reads (SQLite: deferred BEGIN, no write lock).
READ_ONLY_OPTION = "coop_read_only"

#: Pool sizes when the caller gives none (on SQLite their sum, every connection kept open).
DEFAULT_POOL_SIZE = 10
DEFAULT_MAX_OVERFLOW = 10
DEFAULT_BACKGROUND_POOL_SIZE = 4
#: On SQLite, the most connections kept (each an aiosqlite thread with its own SQLite
#: connection: ~0.8 MB of RSS each after a load). One writer at a time whatever the pool; in WAL
#: the readers do not need one connection per concurrent request either.
DEFAULT_SQLITE_POOL_SIZE = 8
#: Seconds a writer waits for the store's in-process writer queue (SQLite), as its busy timeout.
WRITE_QUEUE_TIMEOUT = 30.0


class Database:
    """One service's store. SQLite by default (one file per service), PostgreSQL in production.

    ``pool_size``/``max_overflow`` size the HTTP pool (on SQLite: their sum, every connection kept
    open); ``background_pool_size`` the separate pool of :attr:`background` (the relay holds one
    connection, each consumer one); ``sqlite_pool_size`` caps the SQLite connections kept.
    """

    def __init__(
        self,
        url: str | URL,
        *,
        echo: bool = False,
        pool_size: int = DEFAULT_POOL_SIZE,
        max_overflow: int = DEFAULT_MAX_OVERFLOW,
        background_pool_size: int = DEFAULT_BACKGROUND_POOL_SIZE,
        pool_pre_ping: bool = True,
        sqlite_pool_size: int = DEFAULT_SQLITE_POOL_SIZE,
        _session_class: type[Session] | None = None,
    ) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self.is_postgres = self.url.get_backend_name() == "postgresql"
        self._echo = echo
        self._background_pool_size = background_pool_size
        self._pool_pre_ping = pool_pre_ping
        # Bound values never reach an exception's text: it travels to logs and dead-letter headers,
        # and the values are personal data (names, e-mails).
        kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True}
        if self.is_sqlite:
            # A local file does not go stale: a ping per checkout would be one more thread hand-off
            # per request for nothing.
            if self.url.database and self.url.database != ":memory:":
                Path(self.url.database).parent.mkdir(parents=True, exist_ok=True)
                # Every connection kept once opened (up to the pool's ceiling): an overflow
                # connection closed after each use meant, per request under load, a new aiosqlite
                # thread and the connection's PRAGMAs again. A file connection costs a thread.
                kwargs.update(
                    pool_size=max(1, min(pool_size + max_overflow, sqlite_pool_size)),
                    max_overflow=0,
                )
            kwargs["connect_args"] = {"timeout": 30}
            if self.url.get_driver_name() == "aiosqlite":
                # One hand-off to the connection's thread per statement, not three or four.
                kwargs["module"] = one_hand_off_dbapi()
        else:
            kwargs.update(
                pool_size=pool_size, max_overflow=max_overflow, pool_pre_ping=pool_pre_ping
            )
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        #: Same pool as :attr:`engine`; on SQLite its transactions begin deferred (no write lock).
        self.read_engine: AsyncEngine = (
            self.engine.execution_options(**{READ_ONLY_OPTION: True})
            if self.is_sqlite
            else self.engine
        )
        # A session class of its own, so that commit hooks (outbox wake-up) concern this store only.
        # The background handle shares it: a consumer staging events wakes the same relay.
        self.sync_session_class: type[Session] = _session_class or type(
            "StoreSession", (Session,), {}
        )
        self.sessionmaker = async_sessionmaker(
            self.engine, expire_on_commit=False, sync_session_class=self.sync_session_class
        )
        self.read_sessionmaker = async_sessionmaker(self.read_engine, expire_on_commit=False)
        self._background: Database | None = None
        self._is_background = _session_class is not None
        #: On a SQLite file, the writers' queue of each event loop (one writer at a time anyway).
        self._writers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] | None = (
            weakref.WeakKeyDictionary()
            if self.is_sqlite and self.url.database not in (None, "", ":memory:")
            else None
        )

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one writing transaction: committed on success, rolled back on error.

        On a SQLite file the process's writers take turns first (in order, no polling): only one
        of them at a time waits in SQLite's busy handler, for another process's writer."""
        queue = self._writer_queue()
        if queue is None:
            async with self.sessionmaker() as session, session.begin():
                yield session
            return
        try:
            async with asyncio.timeout(WRITE_QUEUE_TIMEOUT):
                await queue.acquire()
        except TimeoutError:
            raise OperationalError(
                "BEGIN IMMEDIATE",
                {},
                sqlite3.OperationalError("database is locked (the process's writers' queue)"),
            ) from None
        try:
            async with self.sessionmaker() as session, session.begin():
                yield session
        finally:
            queue.release()

    def _writer_queue(self) -> asyncio.Lock | None:
        if self._writers is None:
            return None
        loop = asyncio.get_running_loop()
        queue = self._writers.get(loop)
        if queue is None:
            queue = self._writers[loop] = asyncio.Lock()
        return queue

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """A session for reads only: it never waits for a writer and is never committed.

        On SQLite (WAL) its transaction begins deferred, so another connection holding the write
        lock does not delay it; whatever it would write is rolled back when the block ends.
        """
        async with self.read_sessionmaker() as session:
            yield session

    def read_session(self) -> AsyncSession:
        """The session of :meth:`reading`, for ``async with database.read_session() as s``."""
        return self.read_sessionmaker()

    @property
    def background(self) -> Database:
        """The handle of the outbox relay and the consumers.

        On PostgreSQL, an engine with a pool of its own (created on first use): a burst of events
        never takes the HTTP requests' connections, and the other way round. On SQLite, this store.
        """
        if not self.is_postgres or self._is_background:
            return self
        if self._background is None:
            self._background = Database(
                self.url,
                echo=self._echo,
                pool_size=self._background_pool_size,
                max_overflow=self._background_pool_size,
                pool_pre_ping=self._pool_pre_ping,
                _session_class=self.sync_session_class,
            )
        return self._background

    async def ping(self) -> None:
        """One round trip on the read path (never behind a writer's lock)."""
        async with self.read_engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        if self._background is not None:
            await self._background.dispose()
            self._background = None
        await self.engine.dispose()


def _configure_sqlite(engine: AsyncEngine) -> None:
    """WAL for concurrent readers, foreign keys on, and BEGIN IMMEDIATE for writing transactions.

    The HTTP handlers, the consumers and the outbox relay write to the same file. A deferred
    transaction that later upgrades to a write lock can fail at once with "database is locked";
    taking the write lock at BEGIN makes writers queue behind the busy timeout instead. Reads
    (connections with :data:`READ_ONLY_OPTION`) begin deferred: in WAL mode they read the last
    committed snapshot without waiting for the writer.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let SQLAlchemy's "begin" event emit BEGIN
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        begin = "BEGIN" if connection.get_execution_options().get(READ_ONLY_OPTION) else _IMMEDIATE
        adapter = connection.connection.dbapi_connection
        if isinstance(adapter, OneHandOffConnection):
            # Sent by the transaction's first statement, in its hand-off (shared.db.sqlite_driver).
            adapter.defer_begin(begin)
            return
        # Straight to aiosqlite: one hand-off to its thread (cursor and statement together),
        # without a SQLAlchemy statement execution (context, events, cursor open and close) per
        # transaction.
        await_(connection.connection.driver_connection.execute(begin))


_IMMEDIATE = "BEGIN IMMEDIATE"

"""Periodic jobs run once across replicas: a lease per job, and the one background process of a
SQLite store.

**PostgreSQL.** Every replica (and every worker process of ``serve --workers N``) ticks the same
periodic jobs. At a tick, the replica takes the job's lease: a session advisory lock
(``pg_try_advisory_lock``) on a connection of its own. The replica that gets it keeps it
(:meth:`JobLeases.keep`: the connection stays open, idle between runs, and is checked alive at
each tick) and runs the job at every tick; the others skip theirs. So a job runs in one replica
at a time, once per interval across the replicas. The lock lives as long as the connection: a
replica stopped releases it, a replica killed (SIGKILL, a lost node) loses it with its
connection, and the next tick of another replica takes it over. The key is the two-integer form
``(namespace, hash of service and job)``, a key space apart from the outbox relay's one-integer
lock (:mod:`shared.messaging.outbox`). :meth:`JobLeases.hold` is the same lease for one run
(taken, then released).

The lease makes the runs exclusive; it is not the only guard. Each job stays correct if run
twice (a run cut short by a shutdown, a connection lost mid-run): each row is re-checked under
its own lock, claimed with ``SKIP LOCKED`` or recorded under a unique constraint.

**SQLite.** A SQLite store is one file on one machine, and one process runs its background work
(relay, consumers, jobs): the supported deployment is a single ``serve`` process. The lease is
then always granted. ``serve --workers N --http-only-extra`` runs more processes that serve
HTTP only: they elect the one background process with a file lock next to the database
(:class:`BackgroundElection`); the others serve requests and take over if it dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO

import structlog
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

log = structlog.get_logger(__name__)

#: The first integer of every job lease key ("coop" + "jobs" in a 32-bit signed integer).
LEASE_NAMESPACE = 0x0C00_0B5
#: Set by ``serve --workers N --http-only-extra`` on SQLite in every worker's environment: the
#: workers elect the one that runs the relay, the consumers and the jobs.
ELECTION_ENV = "COOP_SERVE_BACKGROUND_ELECTION"


def lease_key(namespace: str, job: str) -> int:
    """A stable signed 32-bit integer for ``namespace/job`` (the same in every process)."""
    digest = hashlib.blake2b(f"{namespace}/{job}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True)


class JobLeases:
    """The leases of one service's periodic jobs (see the module's docstring).

    ``connections`` is the number of leases kept at once (one connection each, open while this
    process holds the lease); the pool is opened on first use, so a service without jobs opens
    none.
    """

    def __init__(self, database_url: str | URL, *, namespace: str, connections: int = 4) -> None:
        self.url = make_url(database_url)
        self.namespace = namespace
        self.is_postgres = self.url.get_backend_name() == "postgresql"
        self._connections = max(1, connections)
        self._engine: AsyncEngine | None = None
        #: job → the connection holding its lease (kept between ticks).
        self._kept: dict[str, AsyncConnection] = {}

    def _pool(self) -> AsyncEngine:
        if self._engine is None:
            # Autocommit: the lock is the session's, no transaction stays open during the run.
            self._engine = create_async_engine(
                self.url,
                pool_size=self._connections,
                max_overflow=2,  # a one-run hold() beside the kept leases
                pool_pre_ping=True,
                isolation_level="AUTOCOMMIT",
                hide_parameters=True,
            )
        return self._engine

    @contextlib.asynccontextmanager
    async def hold(self, job: str) -> AsyncIterator[bool]:
        """``async with leases.hold("expiry") as held:`` — ``held`` is False when another
        process runs the job now (skip this tick). Released on exit, whatever happens."""
        if not self.is_postgres:
            yield True
            return
        key = lease_key(self.namespace, job)
        params = {"space": LEASE_NAMESPACE, "key": key}
        async with self._pool().connect() as connection:
            held = bool(
                await connection.scalar(text("SELECT pg_try_advisory_lock(:space, :key)"), params)
            )
            if not held:
                yield False
                return
            try:
                yield True
            finally:
                try:
                    await connection.execute(
                        text("SELECT pg_advisory_unlock(:space, :key)"), params
                    )
                except BaseException:
                    # Unlock unknown: never hand a connection that may still hold the lock
                    # back to the pool; closing it ends the session, and the lock with it.
                    await connection.invalidate()
                    raise

    async def keep(self, job: str, *, check_timeout: float = 10.0) -> bool:
        """True while this process holds ``job``'s lease: kept from the tick it was free until
        :meth:`release` or :meth:`dispose`, or until its connection is lost (then taken again if
        still free). False when another process holds it."""
        if not self.is_postgres:
            return True
        connection = self._kept.get(job)
        if connection is not None:
            try:
                # Alive, the session still holds the lock: session locks end with the session.
                await asyncio.wait_for(connection.execute(text("SELECT 1")), check_timeout)
                return True
            except Exception:
                log.warning("job lease connection lost, taking the lease again", job=job)
                self._kept.pop(job, None)
                with contextlib.suppress(Exception):
                    await connection.invalidate()
                with contextlib.suppress(Exception):
                    await connection.close()
        params = {"space": LEASE_NAMESPACE, "key": lease_key(self.namespace, job)}
        connection = await self._pool().connect()
        try:
            held = bool(
                await connection.scalar(text("SELECT pg_try_advisory_lock(:space, :key)"), params)
            )
        except BaseException:
            await connection.invalidate()
            await connection.close()
            raise
        if not held:
            await connection.close()
            return False
        self._kept[job] = connection
        log.info("job lease taken", job=job, pid=os.getpid())
        return True

    async def release(self, job: str) -> None:
        """Let go of a kept lease (another process takes it at its next tick)."""
        connection = self._kept.pop(job, None)
        if connection is None:
            return
        params = {"space": LEASE_NAMESPACE, "key": lease_key(self.namespace, job)}
        try:
            await connection.execute(text("SELECT pg_advisory_unlock(:space, :key)"), params)
        except Exception:
            # Never back to the pool while it may hold the lock: closing it ends the session.
            with contextlib.suppress(Exception):
                await connection.invalidate()
        with contextlib.suppress(Exception):
            await connection.close()

    async def dispose(self) -> None:
        for job in list(self._kept):
            await self.release(job)
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None


class BackgroundElection:
    """Which worker of ``serve --workers N --http-only-extra`` on SQLite runs the background
    work: the one holding an exclusive ``flock`` on ``<database>.background.lock``. The lock is
    the open file's: it goes with the process, however it ends."""

    def __init__(self, database_url: str | URL) -> None:
        url = make_url(database_url)
        database = url.database or ""
        if url.get_backend_name() != "sqlite" or database in ("", ":memory:"):
            raise ValueError("background election: a SQLite database file only")
        self.path = Path(f"{database}.background.lock")
        self._file: IO[bytes] | None = None

    @property
    def elected(self) -> bool:
        return self._file is not None

    def try_acquire(self) -> bool:
        if self._file is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        file = self.path.open("ab")
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            file.close()
            return False
        self._file = file
        log.info("background work elected in this worker", pid=os.getpid())
        return True

    def release(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(file.fileno(), fcntl.LOCK_UN)
            file.close()


def election_requested() -> bool:
    return os.environ.get(ELECTION_ENV) == "1"

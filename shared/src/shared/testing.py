"""Test support shared by every service's tests: throwaway databases of either kind.

``COOP_TEST_POSTGRES_URL`` (an admin URL such as ``postgresql://coop:coop@127.0.0.1:5432/postgres``)
makes every test database a fresh PostgreSQL database; without it, each is a fresh SQLite file.

Settings default to production (``shared.settings``), so the test harness declares development
explicitly with :func:`declare_development_environment`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    from fastapi import APIRouter, FastAPI

POSTGRES_ENV = "COOP_TEST_POSTGRES_URL"

#: The settings prefixes of the services ("" for a bare ``ServiceSettings``).
SERVICE_PREFIXES = ("", "REFERRAL_", "DISPOSITIFS_", "NOTIFICATIONS_")


def declare_development_environment() -> None:
    """Set ``<PREFIX>ENVIRONMENT=development`` for every service (unless already set), so that
    settings built in tests, and service processes started by them, accept the development
    secret."""
    for prefix in SERVICE_PREFIXES:
        os.environ.setdefault(f"{prefix}ENVIRONMENT", "development")


@contextmanager
def executed_statements(engine: AsyncEngine) -> Iterator[list[str]]:
    """The SQL of every statement ``engine`` runs meanwhile, in order (its
    ``before_cursor_execute`` listeners: statements run straight through the driver included)."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])

    sync = engine.sync_engine
    event.listen(sync, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(sync, "before_cursor_execute", record)


def without_transaction_control(statements: list[str]) -> list[str]:
    """``statements`` without ``BEGIN``, ``COMMIT`` and ``ROLLBACK``."""
    return [s for s in statements if s.split()[0].upper() not in {"BEGIN", "COMMIT", "ROLLBACK"}]


def store_kind() -> str:
    return "postgresql" if os.environ.get(POSTGRES_ENV) else "sqlite"


#: A PostgreSQL test database is named ``test_<name>_<creation time, epoch s>_<random>``.
_TEST_DATABASE = re.compile(r"^test_[a-z0-9_]+?_(?:(\d{10})_)?[0-9a-f]{10}$")
#: Test databases older than this are dropped by the next run (unless still in use).
STALE_TEST_DATABASE_SECONDS = 6 * 3600
_stale_swept = False


async def create_database(name: str, tmp_dir: Path) -> str:
    """A new, empty database; returns its SQLAlchemy async URL."""
    admin = os.environ.get(POSTGRES_ENV)
    suffix = uuid.uuid4().hex[:10]
    if not admin:
        return f"sqlite+aiosqlite:///{tmp_dir / f'{name}-{suffix}.db'}"
    import asyncpg

    admin_url = make_url(admin).set(drivername="postgresql")
    database = f"test_{name}_{int(time.time())}_{suffix}".replace("-", "_")
    connection = await asyncpg.connect(admin_url.render_as_string(hide_password=False))
    try:
        await _sweep_stale_test_databases(connection)
        await connection.execute(f'CREATE DATABASE "{database}"')
    finally:
        await connection.close()
    return admin_url.set(drivername="postgresql+asyncpg", database=database).render_as_string(
        hide_password=False
    )


async def _sweep_stale_test_databases(connection: Any) -> None:
    """Once per process: drop the test databases earlier runs left behind (older than
    :data:`STALE_TEST_DATABASE_SECONDS`, or from before names carried their time) that nobody
    is connected to — a server kept across runs would otherwise grow by every run's databases."""
    global _stale_swept
    if _stale_swept:
        return
    _stale_swept = True
    oldest = time.time() - STALE_TEST_DATABASE_SECONDS
    rows = await connection.fetch(
        "SELECT datname FROM pg_database d WHERE datname LIKE 'test\\_%' AND NOT EXISTS "
        "(SELECT 1 FROM pg_stat_activity a WHERE a.datname = d.datname)"
    )
    for row in rows:
        match = _TEST_DATABASE.match(row["datname"])
        if match is None or (match.group(1) is not None and int(match.group(1)) > oldest):
            continue
        with contextlib.suppress(Exception):  # in use meanwhile, or dropped by another run
            await connection.execute(f'DROP DATABASE IF EXISTS "{row["datname"]}"')


async def migrated_database(name: str, migrations: Path, tmp_dir: Path) -> str:
    """A new database with the service's migrations applied."""
    from shared.db.migrations import upgrade

    url = await create_database(name, tmp_dir)
    await asyncio.to_thread(upgrade, migrations, url)
    return url


def http_test_app(routers: Sequence[APIRouter], **settings: Any) -> FastAPI:
    """The shared app factory's app (errors, auth, body limit, middlewares) around ``routers``,
    with no broker and an in-memory store: for tests of the HTTP edge itself."""
    from sqlalchemy import MetaData

    from shared.db.tables import platform_tables
    from shared.http.app import create_service_app
    from shared.runtime import ServiceRuntime
    from shared.settings import ServiceSettings

    values: dict[str, Any] = {
        "service_name": "edge-test",
        "environment": "development",
        "database_url": "sqlite+aiosqlite://",
        "kafka_enabled": False,
        "jobs_enabled": False,
        "log_json": False,
        "log_level": "WARNING",
    }
    values.update(settings)
    runtime = ServiceRuntime(ServiceSettings(**values), tables=platform_tables(MetaData()))
    return create_service_app(
        runtime, title="edge test", description="", version="0", routers=routers
    )


@asynccontextmanager
async def serving(app: Any) -> AsyncIterator[tuple[str, int]]:
    """Serve an ASGI app with uvicorn on a free loopback port; yields (host, port)."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    host, port = sock.getsockname()
    config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(10):
            while not server.started:
                if task.done():
                    task.result()  # start-up failed: raise its error
                await asyncio.sleep(0.01)
        yield host, port
    finally:
        server.should_exit = True
        await task
        sock.close()

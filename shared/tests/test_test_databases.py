"""The throwaway PostgreSQL databases of the tests (``shared.testing.create_database``): a server
kept across runs does not grow by every run's databases."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from shared import testing

pytestmark = pytest.mark.skipif(
    not os.environ.get(testing.POSTGRES_ENV),
    reason="PostgreSQL only: SQLite test databases are files in pytest's temporary folders",
)


async def _databases(admin: str) -> set[str]:
    connection = await asyncpg.connect(admin)
    try:
        return {row["datname"] for row in await connection.fetch("SELECT datname FROM pg_database")}
    finally:
        await connection.close()


async def test_stale_test_databases_are_dropped_and_recent_or_busy_ones_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = make_url(os.environ[testing.POSTGRES_ENV]).set(drivername="postgresql")
    admin_dsn = admin.render_as_string(hide_password=False)
    old = int(time.time()) - testing.STALE_TEST_DATABASE_SECONDS - 60
    stale = f"test_sweep_{old}_{uuid.uuid4().hex[:10]}"
    busy = f"test_sweep_{old}_{uuid.uuid4().hex[:10]}"
    recent = f"test_sweep_{int(time.time())}_{uuid.uuid4().hex[:10]}"
    other = f"keep_{uuid.uuid4().hex[:10]}"  # not a test database's name
    connection = await asyncpg.connect(admin_dsn)
    try:
        for name in (stale, busy, recent, other):
            await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    url: str | None = None
    in_use = await asyncpg.connect(admin.set(database=busy).render_as_string(hide_password=False))
    try:
        monkeypatch.setattr(testing, "_stale_swept", False)
        url = await testing.create_database("sweep", tmp_path)
        left = await _databases(admin_dsn)
        assert stale not in left
        assert {busy, recent, other, make_url(url).database} <= left
    finally:
        await in_use.close()
        connection = await asyncpg.connect(admin_dsn)
        try:
            created = [make_url(url).database] if url else []
            for name in (busy, recent, other, *created):
                await connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        finally:
            await connection.close()

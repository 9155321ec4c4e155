"""Test support shared by every service's tests: throwaway databases of either kind.

``COOP_TEST_POSTGRES_URL`` (an admin URL such as ``postgresql://coop:coop@127.0.0.1:5432/postgres``)
makes every test database a fresh PostgreSQL database; without it, each is a fresh SQLite file.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

from sqlalchemy.engine import make_url

POSTGRES_ENV = "COOP_TEST_POSTGRES_URL"


def store_kind() -> str:
    return "postgresql" if os.environ.get(POSTGRES_ENV) else "sqlite"


async def create_database(name: str, tmp_dir: Path) -> str:
    """A new, empty database; returns its SQLAlchemy async URL."""
    admin = os.environ.get(POSTGRES_ENV)
    suffix = uuid.uuid4().hex[:10]
    if not admin:
        return f"sqlite+aiosqlite:///{tmp_dir / f'{name}-{suffix}.db'}"
    import asyncpg

    admin_url = make_url(admin).set(drivername="postgresql")
    database = f"test_{name}_{suffix}".replace("-", "_")
    connection = await asyncpg.connect(admin_url.render_as_string(hide_password=False))
    try:
        await connection.execute(f'CREATE DATABASE "{database}"')
    finally:
        await connection.close()
    return admin_url.set(drivername="postgresql+asyncpg", database=database).render_as_string(
        hide_password=False
    )


async def migrated_database(name: str, migrations: Path, tmp_dir: Path) -> str:
    """A new database with the service's migrations applied."""
    from shared.db.migrations import upgrade

    url = await create_database(name, tmp_dir)
    await asyncio.to_thread(upgrade, migrations, url)
    return url

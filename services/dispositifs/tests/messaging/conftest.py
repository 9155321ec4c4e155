"""The messaging tests' store: a fresh migrated dispositifs database beside the session's broker."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

import dispositifs
from dispositifs.settings import DispositifsSettings
from shared.db.database import Database

MIGRATIONS = Path(dispositifs.__file__).parent / "migrations"


@pytest.fixture
async def settings(
    new_migrated_database: Callable[[str, Path], Awaitable[str]], kafka_bootstrap: str
) -> DispositifsSettings:
    return DispositifsSettings(
        database_url=await new_migrated_database("dispositifs", MIGRATIONS),
        kafka_bootstrap_servers=kafka_bootstrap,
        log_json=False,
    )


@pytest.fixture
async def database(settings: DispositifsSettings) -> AsyncIterator[Database]:
    db = Database(settings.database_url)
    yield db
    await db.dispose()

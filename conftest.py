"""Fixtures for every test of the repository: the real broker and real databases.

The broker is a throwaway single-node Kafka (``localkafka``) started once per test session on free
ports. Databases are fresh SQLite files, or fresh PostgreSQL databases when
``COOP_TEST_POSTGRES_URL`` is set (``.ci/run`` runs the suite both ways).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from shared.testing import (
    create_database,
    declare_development_environment,
    migrated_database,
    store_kind,
)

declare_development_environment()

pytest_plugins = ["localkafka.pytest_plugin", "shared.testing_browser"]


def pytest_report_header() -> str:
    return f"store: {store_kind()}"


#: Why a test marked ``store_independent`` does not run again on PostgreSQL.
STORE_INDEPENDENT = (
    "store-independent (the broker alone, or make up's own processes on their default stores): "
    "it runs in the SQLite pass of the suite; the PostgreSQL pass would repeat it unchanged"
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On PostgreSQL (the second pass of ``.ci/run``), tests that no store setting changes are not
    repeated: the same test against the same processes, minutes of CI for nothing."""
    if store_kind() != "postgresql":
        return
    skip = pytest.mark.skip(reason=STORE_INDEPENDENT)
    for item in items:
        if "store_independent" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_broker) -> str:  # type: ignore[no-untyped-def]
    return kafka_broker.bootstrap_servers


@pytest.fixture
def unique() -> Callable[[str], str]:
    """Names no other test uses (topics, consumer groups), so tests never see each other's data."""
    return lambda prefix: f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def new_database(tmp_path: Path) -> Callable[[str], Awaitable[str]]:
    async def factory(name: str) -> str:
        return await create_database(name, tmp_path)

    return factory


@pytest.fixture
def new_migrated_database(tmp_path: Path) -> Callable[[str, Path], Awaitable[str]]:
    async def factory(name: str, migrations: Path) -> str:
        return await migrated_database(name, migrations, tmp_path)

    return factory

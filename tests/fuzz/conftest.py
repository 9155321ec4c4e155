"""The three services' apps for the fuzzer: each on its own migrated store (the real SQLite or
PostgreSQL database, as the services' own tests build it), with the broker and background jobs
off: the fuzzer talks HTTP to the app in process, through schemathesis's ASGI transport."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from fastapi import FastAPI

import dispositifs
import notifications
import referral
from dispositifs.app import create_app as dispositifs_app
from dispositifs.settings import DispositifsSettings
from notifications.app import create_app as notifications_app
from notifications.settings import NotificationsSettings
from referral.app import create_app as referral_app
from referral.seed import seed_demo
from referral.settings import ReferralSettings
from shared.testing import migrated_database

T = TypeVar("T")

#: The fuzzer writes far more than a person: no write limit gets in the way of its examples (the
#: limits have their own tests).
UNLIMITED: dict[str, Any] = {
    "kafka_enabled": False,
    "log_json": False,
    "rate_limit_writes_per_second": 0,
    "rate_limit_probes_per_second": 0,
}


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run set-up work to completion in a thread of its own: ``asyncio.run`` there leaves the
    event loop of the test session's thread alone."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _database(name: str, migrations_of: Any, tmp: Path) -> str:
    migrations = Path(migrations_of.__file__).parent / "migrations"
    return _run(migrated_database(name, migrations, tmp))


def _serve(app: FastAPI) -> Iterator[FastAPI]:
    import schemathesis.python.asgi as asgi

    yield app
    asgi.shutdown_lifespans()  # the lifespan schemathesis started stops the app's runtime


@pytest.fixture(scope="module")
def referral_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    tmp = tmp_path_factory.mktemp("fuzz-referral")
    settings = ReferralSettings(
        database_url=_database("referral", referral, tmp),
        statistical_secrecy_threshold=1,
        **UNLIMITED,
    )
    _run(seed_demo(settings))
    yield from _serve(referral_app(settings))


@pytest.fixture(scope="module")
def dispositifs_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    tmp = tmp_path_factory.mktemp("fuzz-dispositifs")
    settings = DispositifsSettings(
        database_url=_database("dispositifs", dispositifs, tmp), jobs_enabled=False, **UNLIMITED
    )
    yield from _serve(dispositifs_app(settings))


@pytest.fixture(scope="module")
def notifications_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    tmp = tmp_path_factory.mktemp("fuzz-notifications")
    settings = NotificationsSettings(
        database_url=_database("notifications", notifications, tmp),
        jobs_enabled=False,
        **UNLIMITED,
    )
    yield from _serve(notifications_app(settings))

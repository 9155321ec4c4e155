"""The dispositifs service learns of referrals from ``referral.sent``, once."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

import dispositifs
from dispositifs.consumers import referral_events
from dispositifs.models import PLATFORM, KnownReferral
from dispositifs.settings import DispositifsSettings
from shared.contracts.referral import ReferralSent
from shared.db.database import Database
from shared.testing_kafka import eventually, publish, running_consumer

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


async def _count(database: Database) -> int:
    async with database.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(KnownReferral)) or 0)


async def test_referral_sent_is_recorded_once_even_when_published_twice(
    settings: DispositifsSettings,
    database: Database,
    kafka_bootstrap: str,
    unique: Callable[[str], str],
) -> None:
    topic = unique("referral.events")
    sent = ReferralSent(
        referral_id=uuid.uuid4(),
        job_seeker_id=uuid.uuid4(),
        agency_id="agc-travail-plus-lyon",
        network_id="travail-plus",
        rome_code="N4101",
        departement="69",
        counsellor_id="conseiller.martin",
        structure_code="69003",
        sent_at=datetime.now(UTC),
    )
    async with running_consumer(
        settings=settings,
        database=database,
        tables=PLATFORM,
        registry=referral_events,
        topic=topic,
        group=unique("dispositifs"),
    ):
        # The same fact under two event ids (a producer re-sent it after a crash).
        await publish(kafka_bootstrap, topic, sent)
        await publish(kafka_bootstrap, topic, sent)

        async def two_processed() -> bool:
            async with database.sessionmaker() as session:
                inbox = await session.scalar(select(func.count()).select_from(PLATFORM.inbox))
            return inbox == 2

        await eventually(two_processed)
    assert await _count(database) == 1
    async with database.sessionmaker() as session:
        known = await session.get(KnownReferral, sent.referral_id)
    assert known is not None
    assert (known.agency_id, known.rome_code, known.departement) == (
        "agc-travail-plus-lyon",
        "N4101",
        "69",
    )

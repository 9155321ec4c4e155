"""Referral events become notifications: once per recipient and channel, whatever the redelivery."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

import notifications
from notifications.app import create_app
from notifications.consumers import referral_events
from notifications.models import PLATFORM, Notification
from notifications.settings import NotificationsSettings
from shared.auth.tokens import Role, mint_token
from shared.contracts.referral import ReferralSent
from shared.db.database import Database
from shared.settings import DEVELOPMENT_JWT_SECRET
from shared.testing_kafka import eventually, publish, running_consumer

MIGRATIONS = Path(notifications.__file__).parent / "migrations"


@pytest.fixture
async def settings(
    new_migrated_database: Callable[[str, Path], Awaitable[str]], kafka_bootstrap: str
) -> NotificationsSettings:
    return NotificationsSettings(
        database_url=await new_migrated_database("notifications", MIGRATIONS),
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_enabled=False,
        log_json=False,
    )


@pytest.fixture
async def database(settings: NotificationsSettings) -> AsyncIterator[Database]:
    db = Database(settings.database_url)
    yield db
    await db.dispose()


def _sent(referral_id: uuid.UUID) -> ReferralSent:
    return ReferralSent(
        referral_id=referral_id,
        job_seeker_id=uuid.uuid4(),
        agency_id="agc-interim-nord-lille",
        network_id="interim-nord",
        rome_code="H2913",
        departement="59",
        counsellor_id="conseiller.dupont",
        structure_code="75101",
        sent_at=datetime.now(UTC),
    )


async def _notifications(database: Database) -> list[Notification]:
    async with database.sessionmaker() as session:
        return list((await session.scalars(select(Notification))).all())


async def test_referral_sent_notifies_the_agency_once(
    settings: NotificationsSettings,
    database: Database,
    kafka_bootstrap: str,
    unique: Callable[[str], str],
) -> None:
    topic = unique("referral.events")
    referral_id = uuid.uuid4()
    async with running_consumer(
        settings=settings,
        database=database,
        tables=PLATFORM,
        registry=referral_events,
        topic=topic,
        group=unique("notifications"),
    ):
        await publish(kafka_bootstrap, topic, _sent(referral_id))
        items = await eventually(lambda: _notifications(database))
    assert len(items) == 1
    message = items[0]
    assert (message.recipient_kind, message.recipient_id, message.channel) == (
        "agency",
        "agc-interim-nord-lille",
        "inbox",
    )
    assert message.referral_id == referral_id
    assert "H2913" in message.subject

    app = create_app(settings)
    token = mint_token(
        key=DEVELOPMENT_JWT_SECRET,
        subject="ops",
        role=Role.OPS,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://n.test") as client:
        listing = await client.get(
            "/v1/notifications",
            params={"referral_id": str(referral_id)},
            headers={"Authorization": f"Bearer {token}"},
        )
        counsellor = mint_token(
            key=DEVELOPMENT_JWT_SECRET,
            subject="c",
            role=Role.COUNSELLOR,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            ft_structure="75101",
        )
        forbidden = await client.get(
            "/v1/notifications", headers={"Authorization": f"Bearer {counsellor}"}
        )
    await app.state.runtime.stop()
    assert listing.status_code == 200
    assert [item["id"] for item in listing.json()["items"]] == [str(message.id)]
    assert forbidden.status_code == 403

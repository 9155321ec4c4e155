"""Events from the real broker become messages and deliveries: once per recipient and channel,
whatever the redelivery. The consumer records; it never sends (no SMTP server runs here)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime

import httpx
from aiokafka import AIOKafkaProducer
from sqlalchemy import select

from notifications.app import create_app
from notifications.consumers import dispositifs_events, referral_events
from notifications.models import PLATFORM, Delivery, FollowedImmersion, Notification, Recipient
from notifications.settings import NotificationsSettings
from shared.auth.tokens import Role
from shared.contracts.dispositifs import ImmersionCompleted, ImmersionValidated
from shared.contracts.referral import ReferralSent
from shared.contracts.vocabulary import ImmersionObjet
from shared.db.database import Database
from shared.envelope import CloudEvent
from shared.testing_kafka import eventually, publish, running_consumer

from ..conftest import OPS, token


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
    assert (message.recipient_kind, message.recipient_id, message.kind, message.required) == (
        "agency",
        "agc-interim-nord-lille",
        "referral.new",
        True,
    )
    assert message.referral_id == referral_id
    assert "H2913" in message.subject
    assert sorted(d.channel for d in message.deliveries) == ["email", "webhook"]

    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://n.test") as client:
        listing = await client.get(
            "/v1/notifications", params={"referral_id": str(referral_id)}, headers=OPS
        )
        forbidden = await client.get(
            "/v1/notifications", headers=token(Role.COUNSELLOR, "c", ft_structure="75101")
        )
    await app.state.runtime.stop()
    assert listing.status_code == 200
    assert [item["id"] for item in listing.json()["items"]] == [str(message.id)]
    assert listing.json()["items"][0]["recipient_id"] == "agc-interim-nord-lille"
    assert forbidden.status_code == 403


async def test_a_validated_immersion_tells_the_tutor_and_the_agency_once_even_if_redelivered(
    settings: NotificationsSettings,
    database: Database,
    kafka_bootstrap: str,
    unique: Callable[[str], str],
) -> None:
    topic = unique("dispositifs.events")
    convention_id = uuid.uuid4()
    data = ImmersionValidated(
        convention_id=convention_id,
        referral_id=uuid.uuid4(),
        job_seeker_id=uuid.uuid4(),
        agency_id="agc-interim-nord-lille",
        occurred_at=datetime.now(UTC),
        objet=ImmersionObjet.START_RECRUITMENT,
        start_date=date(2026, 12, 7),
        end_date=date(2026, 12, 18),
        host_name="Boulangerie Martin",
        tutor_name="Claire Dubois",
        tutor_email="claire.dubois@boulangerie-martin.example",
    )
    event = CloudEvent(
        type=data.event_type, source="/coop/dispositifs", data=data.model_dump(mode="json")
    )
    # Then an event of the same convention (same key, same partition, so handled after both).
    marker = ImmersionCompleted(
        convention_id=convention_id,
        agency_id="agc-interim-nord-lille",
        occurred_at=datetime.now(UTC),
        objectives_reached=True,
        hired=True,
    )
    marker_event = CloudEvent(
        type=marker.event_type, source="/coop/dispositifs", data=marker.model_dump(mode="json")
    )
    async with running_consumer(
        settings=settings,
        database=database,
        tables=PLATFORM,
        registry=dispositifs_events,
        topic=topic,
        group=unique("notifications"),
    ):
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        try:
            # The same event twice, as after a producer's crash, then the marker.
            for record in (event, event, marker_event):
                record_value, record_headers = record.to_kafka()
                await producer.send_and_wait(
                    topic, value=record_value, key=data.key.encode(), headers=record_headers
                )
        finally:
            await producer.stop()

        async def marker_handled() -> bool:
            return any(m.event_type == marker.event_type for m in await _notifications(database))

        await eventually(marker_handled)
    messages = [m for m in await _notifications(database) if m.event_type == data.event_type]
    assert sorted((m.recipient_kind, m.recipient_id) for m in messages) == [
        ("agency", "agc-interim-nord-lille"),
        ("tutor", str(convention_id)),
    ]
    async with database.sessionmaker() as session:
        tutor = await session.get(Recipient, ("tutor", str(convention_id)))
        followed = await session.get(FollowedImmersion, convention_id)
        deliveries = (await session.scalars(select(Delivery))).all()
    assert tutor is not None
    assert tutor.email == "claire.dubois@boulangerie-martin.example"
    assert followed is not None
    assert followed.status == "completed"
    tutor_mail = [d for d in deliveries if d.address == tutor.email]
    assert len(tutor_mail) == 1
    assert tutor_mail[0].status == "pending"

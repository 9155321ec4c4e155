"""Over the real broker (issue 14): the notifications consumer applies a fetched batch's runs of one
event type together; a record its handler cannot apply (a status change whose interview time is
not a date: its mail cannot be written) fails the whole batch, which is then applied one by one —
that record is dead-lettered, every other one applied exactly once."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from notifications.consumers import referral_events
from notifications.models import PLATFORM, Delivery, KnownReferral, Notification
from notifications.settings import NotificationsSettings
from shared.contracts import EventData
from shared.contracts.referral import ReferralSent, ReferralStatus, ReferralStatusChanged
from shared.contracts.topics import TopicSpec
from shared.db.database import Database
from shared.envelope import CloudEvent
from shared.messaging.provisioning import ensure_topics
from shared.testing_kafka import eventually, read_topic, running_consumer

AGENCY = "agc-interim-nord-lille"


def _sent(referral_id: uuid.UUID) -> ReferralSent:
    return ReferralSent(
        referral_id=referral_id,
        job_seeker_id=uuid.uuid4(),
        agency_id=AGENCY,
        network_id="interim-nord",
        rome_code="H2913",
        counsellor_id="conseiller.dupont",
        sent_at=datetime.now(UTC),
    )


def _interview(referral_id: uuid.UUID, interview_at: str) -> ReferralStatusChanged:
    return ReferralStatusChanged(
        referral_id=referral_id,
        agency_id=AGENCY,
        network_id="interim-nord",
        counsellor_id="conseiller.dupont",
        from_status=ReferralStatus.ACKNOWLEDGED,
        to_status=ReferralStatus.INTERVIEW_SCHEDULED,
        action="schedule_interview",
        details={"interview_at": interview_at},
        occurred_at=datetime.now(UTC),
    )


async def _produce(bootstrap: str, topic: str, events: list[EventData]) -> list[str]:
    """On one partition (one key), so that one fetch brings them in this order."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    ids = []
    try:
        for data in events:
            event = CloudEvent(
                type=data.event_type, source="/test", data=data.model_dump(mode="json")
            )
            value, headers = event.to_kafka()
            await producer.send_and_wait(topic, value=value, key=b"one-partition", headers=headers)
            ids.append(event.id)
    finally:
        await producer.stop()
    return ids


async def _count(database: Database, statement: object) -> int:
    async with database.sessionmaker() as session:
        return int(await session.scalar(statement) or 0)  # type: ignore[call-overload]


def _batches(consumer: str, mode: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "coop_consumer_batches_total",
            {"service": "notifications", "consumer": consumer, "mode": mode},
        )
        or 0.0
    )


async def test_a_poison_record_in_a_batch_is_dead_lettered_and_the_others_applied_once(
    settings: NotificationsSettings,
    database: Database,
    kafka_bootstrap: str,
    unique: Callable[[str], str],
) -> None:
    settings = settings.model_copy(update={"consumer_max_attempts": 2})
    topic = unique("referral.events")
    group = unique("notifications")
    referrals = [uuid.uuid4() for _ in range(8)]
    poisoned = referrals[3]
    events: list[EventData] = [_sent(r) for r in referrals]
    events += [
        _interview(r, "pas une date" if r == poisoned else "2026-12-03T14:30:00+01:00")
        for r in referrals
    ]
    spec = TopicSpec(topic, "test topic", partitions=3)
    await ensure_topics(settings, [spec, spec.dead_letter()])
    # Published before the consumer starts: its first fetch brings them all, in one batch.
    ids = await _produce(kafka_bootstrap, topic, events)
    async with running_consumer(
        settings=settings,
        database=database,
        tables=PLATFORM,
        registry=referral_events,
        topic=topic,
        group=group,
    ):
        # Generous: under load the first dead letter (a new topic's metadata) can take a minute.
        letters = await read_topic(kafka_bootstrap, topic + ".dlq", 1, timeout=150)
        processed = select(func.count()).select_from(PLATFORM.processed_events)

        async def all_applied() -> bool:
            return await _count(database, processed) == len(events) - 1

        await eventually(all_applied, timeout=120)
    assert len(letters) == 1
    headers = dict(letters[0].headers)
    assert headers["ce_id"].decode() == ids[len(referrals) + 3]
    assert headers["dlq_reason"] == b"retries_exhausted"
    assert json.loads(letters[0].value)["referral_id"] == str(poisoned)
    # The batch was tried whole, rolled back, then applied one by one.
    assert _batches(group, "one_by_one") >= 1
    # Every other event once: each referral's agency told, each interview but the poisoned one
    # told to the counsellor (inbox and e-mail), every referral followed, seven of them answered.
    assert await _count(database, select(func.count()).select_from(Notification)) == 8 + 7
    assert await _count(database, select(func.count()).select_from(Delivery)) == 2 * 8 + 2 * 7
    statuses = select(KnownReferral.status, func.count()).group_by(KnownReferral.status)
    async with database.sessionmaker() as session:
        by_status = dict((await session.execute(statuses)).all())
    assert by_status == {"answered": 7, "sent": 1}

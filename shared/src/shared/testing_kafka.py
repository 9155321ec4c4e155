"""Test support for consumer tests: run one of a service's consumers on a topic of the test's own.

The handlers are the service's real ones, the loop is the real :class:`EventConsumer`, the broker
and database are real; only the topic and group names are unique to the test.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from shared.contracts.base import EventData
from shared.contracts.topics import TopicSpec
from shared.db.database import Database
from shared.db.tables import PlatformTables
from shared.envelope import CloudEvent
from shared.messaging.consumer import DeadLetterHook, EventConsumer, HandlerRegistry
from shared.messaging.kafka import make_producer
from shared.messaging.provisioning import ensure_topics
from shared.settings import ServiceSettings


@asynccontextmanager
async def running_consumer(
    *,
    settings: ServiceSettings,
    database: Database,
    tables: PlatformTables,
    registry: HandlerRegistry,
    topic: str,
    group: str,
    on_dead_letter: DeadLetterHook | None = None,
) -> AsyncIterator[EventConsumer]:
    spec = TopicSpec(topic, "test topic", partitions=3)
    await ensure_topics(settings, [spec, spec.dead_letter()])
    consumer = EventConsumer(
        name=group,
        topics=[topic],
        registry=registry,
        database=database,
        tables=tables,
        settings=settings,
        producer_factory=lambda: make_producer(settings, client_id="test-dlq"),
        on_dead_letter=on_dead_letter,
    )
    task = asyncio.create_task(consumer.run())
    try:
        yield consumer
    finally:
        await consumer.stop()
        await task


async def publish(bootstrap: str, topic: str, data: EventData, *, source: str = "/test") -> str:
    """Publish ``data`` as a CloudEvent keyed by its aggregate id; return the event id."""
    event = CloudEvent(type=data.event_type, source=source, data=data.model_dump(mode="json"))
    value, headers = event.to_kafka()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value=value, key=data.key.encode(), headers=headers)
    finally:
        await producer.stop()
    return event.id


async def read_topic(bootstrap: str, topic: str, count: int, timeout: float = 30) -> list[Any]:
    """The first ``count`` records of ``topic`` (from the beginning)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    records: list[Any] = []
    try:
        async with asyncio.timeout(timeout):
            while len(records) < count:
                for batch in (await consumer.getmany(timeout_ms=500)).values():
                    records.extend(batch)
    finally:
        await consumer.stop()
    return records


async def eventually(
    probe: Callable[[], Awaitable[Any]], *, timeout: float = 30, interval: float = 0.1
) -> Any:
    """The first truthy value of ``probe`` within ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while True:
            value = await probe()
            if value:
                return value
            await asyncio.sleep(interval)

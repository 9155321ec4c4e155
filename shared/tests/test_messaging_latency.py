"""What stands between a commit and its consumer, cut without losing a guarantee (issue 14, stop
21), against the real broker and a real database. Outcomes and statement counts, never timings:

- the relay does not fetch again after a batch smaller than its size (one read transaction less
  per round in the process that serves HTTP), and a commit made while a round is on its way is
  still published without waiting for the poll;
- the consumer applies the next records while an offset commit is on its way to the broker,
  and still commits every applied offset (in order, the last one when it stops);
- every producer of the platform sends without lingering.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import aiokafka
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from sqlalchemy import Column, Integer, MetaData, String, Table, event, select, text

from shared.contracts.base import EventData
from shared.contracts.topics import TopicSpec
from shared.db.database import Database
from shared.db.tables import platform_tables
from shared.envelope import CloudEvent
from shared.messaging.consumer import EventConsumer, EventContext, HandlerRegistry
from shared.messaging.kafka import PRODUCER_OPTIONS, make_producer
from shared.messaging.outbox import (
    _POSTGRES_RELAY_LOCK,
    OutboxRelay,
    add_event,
    notify_on_commit,
)
from shared.messaging.provisioning import ensure_topics
from shared.settings import ServiceSettings
from shared.testing_kafka import read_topic

metadata = MetaData()
PLATFORM = platform_tables(metadata)
effects = Table(
    "latency_effects",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False),
    Column("value", String(100), nullable=False),
)


class Ticked(EventData):
    event_type: ClassVar[str] = "coop.test.ticked.v1"
    topic: ClassVar[str] = "test.unused"
    key_field: ClassVar[str] = "thing_id"

    thing_id: str
    value: str


@pytest.fixture
async def database(new_database: Callable[[str], Awaitable[str]]) -> AsyncIterator[Database]:
    db = Database(await new_database("latency"))
    async with db.engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    yield db
    await db.dispose()


@pytest.fixture
def settings(kafka_bootstrap: str) -> ServiceSettings:
    return ServiceSettings(
        service_name="test",
        database_url="sqlite+aiosqlite://",
        kafka_bootstrap_servers=kafka_bootstrap,
    )


@pytest.fixture
async def topic(settings: ServiceSettings, unique: Callable[[str], str]) -> str:
    spec = TopicSpec(unique("test.latency"), "test topic", partitions=1)
    await ensure_topics(settings, [spec, spec.dead_letter()])
    return spec.name


async def _stage(database: Database, topic: str, *values: str) -> None:
    async with database.transaction() as session:
        for value in values:
            await add_event(
                session, PLATFORM, Ticked(thing_id="thing-1", value=value), source="/t", topic=topic
            )


async def _until(condition: Callable[[], Awaitable[bool]], timeout: float = 30) -> None:
    async with asyncio.timeout(timeout):
        while not await condition():  # noqa: ASYNC110 - polling the store
            await asyncio.sleep(0.05)


@contextmanager
def _outbox_fetches(database: Database) -> Iterator[list[str]]:
    """The relay's fetches (``SELECT … FROM outbox … LIMIT``) run on ``database``."""
    fetches: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        text = " ".join(statement.split()).upper()
        if text.startswith("SELECT") and "FROM OUTBOX" in text and "LIMIT" in text:
            fetches.append(statement)

    engine = database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield fetches
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _relay(database: Database, settings: ServiceSettings, **options: Any) -> OutboxRelay:
    # No poll and no backlog refresh within the test: only a wake-up or a full batch moves it.
    return OutboxRelay(
        database,
        PLATFORM,
        lambda: make_producer(settings, client_id="test-relay"),
        service="test",
        poll_interval=3600,
        metrics_interval=3600,
        **options,
    )


async def test_the_relay_fetches_again_only_after_a_full_batch(
    database: Database, settings: ServiceSettings, topic: str
) -> None:
    await _stage(database, topic, "a", "b", "c")
    relay = _relay(database, settings, batch_size=2)
    with _outbox_fetches(database) as fetches:
        task = asyncio.create_task(relay.run())
        try:
            await _until(lambda: _pending_is(relay, 0))
            await asyncio.sleep(0.3)  # room for a fetch after the last batch, had there been one
        finally:
            await relay.stop()
            await task
    # A full batch (a, b), then the rest (c): nothing was committed since, so no third fetch.
    assert len(fetches) == 2
    records = await read_topic(settings.kafka_bootstrap_servers, topic, 3)
    assert [json.loads(r.value)["value"] for r in records] == ["a", "b", "c"]


async def test_a_commit_while_the_relay_publishes_is_published_without_the_poll(
    database: Database, settings: ServiceSettings, topic: str
) -> None:
    relay = _relay(database, settings)
    remove = notify_on_commit(database.sync_session_class, relay.wake)
    publishing = asyncio.Event()
    release = asyncio.Event()
    publish = relay._publish

    async def held_publish(rows: list[Any]) -> None:
        if not publishing.is_set():  # the first round: hold it until the second commit is made
            publishing.set()
            await release.wait()
        await publish(rows)

    relay._publish = held_publish  # type: ignore[method-assign]
    task = asyncio.create_task(relay.run())
    try:
        await _stage(database, topic, "first")
        await asyncio.wait_for(publishing.wait(), timeout=30)
        await _stage(database, topic, "second")  # committed while "first" is being published
        release.set()
        await _until(lambda: _pending_is(relay, 0))  # the poll is an hour: only the wake-up
    finally:
        await relay.stop()
        await task
        remove()
    records = await read_topic(settings.kafka_bootstrap_servers, topic, 2)
    assert [json.loads(r.value)["value"] for r in records] == ["first", "second"]


async def test_a_relay_woken_while_another_holds_the_lock_tries_again_without_the_poll(
    database: Database, settings: ServiceSettings, topic: str
) -> None:
    """PostgreSQL, several processes: one relay at a time (an advisory lock). A relay woken by a
    commit while another holds the lock tries again shortly: the other publishes what it fetched,
    not what was committed since."""
    if not database.is_postgres:
        pytest.skip("the relay lock is PostgreSQL's")
    relay = _relay(database, settings)
    remove = notify_on_commit(database.sync_session_class, relay.wake)
    task = asyncio.create_task(relay.run())
    try:
        async with database.engine.connect() as other:  # another relay, in the middle of a round
            transaction = await other.begin()
            await other.execute(
                text("SELECT pg_advisory_xact_lock(:id)"), {"id": _POSTGRES_RELAY_LOCK}
            )
            await _stage(database, topic, "while-locked")  # wakes the relay: the lock is taken
            await _until(lambda: _relay_saw_the_lock(relay))
            await transaction.rollback()  # the other relay is done
        await _until(lambda: _pending_is(relay, 0))  # the poll is an hour: only the retry
    finally:
        await relay.stop()
        await task
        remove()
    records = await read_topic(settings.kafka_bootstrap_servers, topic, 1)
    assert json.loads(records[0].value)["value"] == "while-locked"


async def _relay_saw_the_lock(relay: OutboxRelay) -> bool:
    return relay._lock_busy


async def _pending_is(relay: OutboxRelay, count: int) -> bool:
    return await relay.pending_count() == count


# -- consumer -------------------------------------------------------------------------------------


def _registry() -> HandlerRegistry:
    registry = HandlerRegistry()

    @registry.on(Ticked)
    async def on_tick(context: EventContext[Ticked]) -> None:
        await context.session.execute(
            effects.insert().values(event_id=context.event.id, value=context.data.value)
        )

    return registry


async def _values(database: Database) -> list[str]:
    async with database.sessionmaker() as session:
        return list((await session.scalars(select(effects.c.value).order_by(effects.c.id))).all())


async def _produce(bootstrap: str, topic: str, value: str) -> None:
    event = CloudEvent(type=Ticked.event_type, source="/t", data={"thing_id": "t", "value": value})
    payload, headers = event.to_kafka()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value=payload, key=b"t", headers=headers)
    finally:
        await producer.stop()


async def _committed(bootstrap: str, group: str, topic: str) -> int | None:
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await reader.start()
    try:
        return await reader.committed(TopicPartition(topic, 0))
    finally:
        await reader.stop()


async def test_the_consumer_applies_the_next_record_while_an_offset_commit_is_on_its_way(
    database: Database,
    settings: ServiceSettings,
    topic: str,
    unique: Callable[[str], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    group = unique("group")
    held = asyncio.Event()
    release = asyncio.Event()
    commit = aiokafka.AIOKafkaConsumer.commit

    async def held_commit(self: AIOKafkaConsumer, *args: Any, **kwargs: Any) -> None:
        if self._group_id == group and not held.is_set():  # the first commit: slow broker
            held.set()
            await release.wait()
        await commit(self, *args, **kwargs)

    monkeypatch.setattr(aiokafka.AIOKafkaConsumer, "commit", held_commit)
    consumer = EventConsumer(
        name=group,
        topics=[topic],
        registry=_registry(),
        database=database,
        tables=PLATFORM,
        settings=settings,
        producer_factory=lambda: make_producer(settings, client_id="test-dlq"),
    )
    task = asyncio.create_task(consumer.run())
    try:
        await _produce(settings.kafka_bootstrap_servers, topic, "1")
        await asyncio.wait_for(held.wait(), timeout=30)  # "1" applied, its commit on its way
        await _produce(settings.kafka_bootstrap_servers, topic, "2")
        # Applied while the first commit has no answer yet (a loop awaiting it never gets here).
        await _until(lambda: _is(database, ["1", "2"]), timeout=20)
        release.set()
    finally:
        release.set()
        await consumer.stop()
        await task
    # Both applied once, and stopping committed the last applied offset.
    assert await _values(database) == ["1", "2"]
    assert await _committed(settings.kafka_bootstrap_servers, group, topic) == 2


async def _is(database: Database, expected: list[str]) -> bool:
    return await _values(database) == expected


async def test_a_consumer_killed_with_a_commit_on_its_way_has_its_records_skipped_once_redelivered(
    database: Database,
    settings: ServiceSettings,
    topic: str,
    unique: Callable[[str], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    group = unique("group")
    held = asyncio.Event()
    commit = aiokafka.AIOKafkaConsumer.commit

    async def never_answered(self: AIOKafkaConsumer, *args: Any, **kwargs: Any) -> None:
        if self._group_id == group and not held.is_set():
            held.set()
            await asyncio.Event().wait()  # the broker never answers this one
        await commit(self, *args, **kwargs)

    monkeypatch.setattr(aiokafka.AIOKafkaConsumer, "commit", never_answered)

    def runner() -> EventConsumer:
        return EventConsumer(
            name=group,
            topics=[topic],
            registry=_registry(),
            database=database,
            tables=PLATFORM,
            settings=settings,
            producer_factory=lambda: make_producer(settings, client_id="test-dlq"),
        )

    first = asyncio.create_task(runner().run())
    await _produce(settings.kafka_bootstrap_servers, topic, "1")
    await asyncio.wait_for(held.wait(), timeout=30)
    first.cancel()  # killed: its commit never made it
    with pytest.raises(asyncio.CancelledError):
        await first
    assert await _committed(settings.kafka_bootstrap_servers, group, topic) is None

    successor = runner()
    task = asyncio.create_task(successor.run())
    try:
        await _produce(settings.kafka_bootstrap_servers, topic, "2")
        await _until(lambda: _is(database, ["1", "2"]))
    finally:
        await successor.stop()
        await task
    # "1" came again to the successor and was skipped by the inbox: once each.
    assert await _values(database) == ["1", "2"]
    assert await _committed(settings.kafka_bootstrap_servers, group, topic) == 2


# -- producer -------------------------------------------------------------------------------------


async def test_every_producer_sends_without_lingering(settings: ServiceSettings) -> None:
    producer = make_producer(settings, client_id="test")
    assert PRODUCER_OPTIONS["linger_ms"] == 0
    assert producer._message_accumulator._linger_time == 0
    assert PRODUCER_OPTIONS["acks"] == "all"
    assert PRODUCER_OPTIONS["enable_idempotence"] is True

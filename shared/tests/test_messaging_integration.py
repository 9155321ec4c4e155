"""Outbox relay and consumer runner against the real broker and a real database."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import ClassVar

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import Column, Integer, MetaData, String, Table, func, select

from shared.contracts.base import EventData
from shared.contracts.topics import TopicSpec
from shared.db.database import Database
from shared.db.tables import platform_tables
from shared.domain.errors import TransitionRefused
from shared.envelope import CloudEvent
from shared.messaging.consumer import (
    DeadLetterNotice,
    EventConsumer,
    EventContext,
    HandlerRegistry,
    PermanentError,
)
from shared.messaging.kafka import make_producer
from shared.messaging.outbox import OutboxRelay, add_event
from shared.messaging.provisioning import ensure_topics
from shared.settings import ServiceSettings
from shared.testing_kafka import read_topic

metadata = MetaData()
PLATFORM = platform_tables(metadata)
effects = Table(
    "effects",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False),
    Column("value", String(100), nullable=False),
)


class Pinged(EventData):
    event_type: ClassVar[str] = "coop.test.pinged.v1"
    topic: ClassVar[str] = "test.unused"
    key_field: ClassVar[str] = "thing_id"

    thing_id: str
    value: str


class Ignored(EventData):
    event_type: ClassVar[str] = "coop.test.ignored.v1"
    topic: ClassVar[str] = "test.unused"
    key_field: ClassVar[str] = "thing_id"

    thing_id: str


@pytest.fixture
async def database(new_database: Callable[[str], Awaitable[str]]) -> AsyncIterator[Database]:
    db = Database(await new_database("messaging"))
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
        consumer_max_attempts=3,
        consumer_retry_base_seconds=0.05,
    )


@pytest.fixture
async def topic(settings: ServiceSettings, unique: Callable[[str], str]) -> str:
    spec = TopicSpec(unique("test.things"), "test topic", partitions=3)
    await ensure_topics(settings, [spec, spec.dead_letter()])
    return spec.name


async def _produce(bootstrap: str, topic: str, records: list[tuple[bytes | None, list]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for value, headers in records:
            # One key: one partition, so the order of these records is the order of processing.
            await producer.send_and_wait(topic, value=value, key=b"thing-1", headers=headers)
    finally:
        await producer.stop()


def _ping(value: str, event_id: str | None = None) -> tuple[bytes, list]:
    event = CloudEvent(
        type=Pinged.event_type,
        source="/test",
        data={"thing_id": "thing-1", "value": value},
        **({"id": event_id} if event_id else {}),
    )
    return event.to_kafka()


async def _count(db: Database, table: Table) -> int:
    async with db.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


async def _wait_for(condition: Callable[[], Awaitable[bool]], timeout: float = 30) -> None:
    async with asyncio.timeout(timeout):
        while not await condition():  # noqa: ASYNC110 - polling the effect in the database
            await asyncio.sleep(0.1)


def _relay(database: Database, settings: ServiceSettings) -> OutboxRelay:
    return OutboxRelay(
        database, PLATFORM, lambda: make_producer(settings, client_id="test-relay"), service="test"
    )


# -- outbox ---------------------------------------------------------------------------------------


async def test_outbox_publishes_committed_events_in_order(
    database: Database, settings: ServiceSettings, topic: str
) -> None:
    for i in range(12):
        async with database.transaction() as session:
            await add_event(
                session,
                PLATFORM,
                Pinged(thing_id="thing-1", value=str(i)),
                source="/test",
                topic=topic,
            )
    relay = _relay(database, settings)
    assert await relay.publish_pending() == 12
    await relay.stop()
    await relay.run()  # returns at once when stopped; closes its producer

    records = await read_topic(settings.kafka_bootstrap_servers, topic, 12)
    assert [json.loads(r.value)["value"] for r in records] == [str(i) for i in range(12)]
    assert {r.partition for r in records} == {records[0].partition}  # one key, one partition
    headers = dict(records[0].headers)
    assert headers["ce_type"] == b"coop.test.pinged.v1"
    assert headers["ce_source"] == b"/test"
    assert records[0].key == b"thing-1"
    assert await relay.pending_count() == 0


async def test_rolled_back_transaction_publishes_nothing(database: Database) -> None:
    with pytest.raises(RuntimeError):  # noqa: PT012 - the raise is inside the transaction
        async with database.transaction() as session:
            await add_event(session, PLATFORM, Pinged(thing_id="t", value="v"), source="/test")
            raise RuntimeError("business rule failed")
    assert await _count(database, PLATFORM.outbox) == 0


async def test_outbox_keeps_events_while_the_broker_is_unreachable(
    database: Database, settings: ServiceSettings, topic: str
) -> None:
    async with database.transaction() as session:
        await add_event(
            session, PLATFORM, Pinged(thing_id="thing-1", value="kept"), source="/test", topic=topic
        )
    unreachable = settings.model_copy(update={"kafka_bootstrap_servers": "127.0.0.1:1"})
    failing = _relay(database, unreachable)
    with pytest.raises(Exception):  # noqa: B017, PT011 - any client error will do
        await failing.publish_pending()
    async with database.sessionmaker() as session:
        row = (await session.execute(select(PLATFORM.outbox))).one()
    assert row.published_at is None
    assert row.attempts == 1
    assert row.last_error

    relay = _relay(database, settings)
    assert await relay.publish_pending() == 1
    await relay.stop()
    await relay.run()
    records = await read_topic(settings.kafka_bootstrap_servers, topic, 1)
    assert json.loads(records[0].value)["value"] == "kept"


# -- consumer -------------------------------------------------------------------------------------


def _consumer(
    database: Database,
    settings: ServiceSettings,
    topic: str,
    registry: HandlerRegistry,
    group: str,
) -> EventConsumer:
    return EventConsumer(
        name=group,
        topics=[topic],
        registry=registry,
        database=database,
        tables=PLATFORM,
        settings=settings,
        producer_factory=lambda: make_producer(settings, client_id="test-dlq"),
    )


@asynccontextmanager
async def _running(consumer: EventConsumer) -> AsyncIterator[EventConsumer]:
    """Run the consumer for the block; stop it gracefully (commit, leave the group) after."""
    task = asyncio.create_task(consumer.run())
    try:
        yield consumer
    finally:
        await consumer.stop()
        await task


def _recording_registry(fail: Callable[[str], None] | None = None) -> HandlerRegistry:
    registry = HandlerRegistry()

    @registry.on(Pinged)
    async def on_ping(context: EventContext[Pinged]) -> None:
        if fail is not None:
            fail(context.data.value)
        await context.session.execute(
            effects.insert().values(event_id=context.event.id, value=context.data.value)
        )

    return registry


async def _values(database: Database) -> list[str]:
    async with database.sessionmaker() as session:
        return list((await session.scalars(select(effects.c.value).order_by(effects.c.id))).all())


async def test_malformed_record_is_dead_lettered_and_the_next_one_processed(
    database: Database, settings: ServiceSettings, topic: str, unique: Callable[[str], str]
) -> None:
    good_value, good_headers = _ping("after")
    bad_headers = [("ce_specversion", b"1.0"), ("ce_id", b"x"), ("ce_type", Pinged.event_type)]
    bad_headers = [(n, v if isinstance(v, bytes) else v.encode()) for n, v in bad_headers]
    await _produce(
        settings.kafka_bootstrap_servers,
        topic,
        [(b"{not json", bad_headers), (good_value, good_headers)],
    )
    consumer = _consumer(database, settings, topic, _recording_registry(), unique("group"))
    async with _running(consumer):
        await _wait_for(lambda: _has_values(database, ["after"]))

    letters = await read_topic(settings.kafka_bootstrap_servers, topic + ".dlq", 1)
    headers = dict(letters[0].headers)
    assert headers["dlq_reason"] == b"unreadable_envelope"
    assert b"ce_source" in headers["dlq_error"]
    assert headers["dlq_original_topic"] == topic.encode()
    assert letters[0].value == b"{not json"
    assert letters[0].key == b"thing-1"


async def _has_values(database: Database, expected: list[str]) -> bool:
    return await _values(database) == expected


async def test_same_event_delivered_twice_has_one_effect(
    database: Database, settings: ServiceSettings, topic: str, unique: Callable[[str], str]
) -> None:
    event_id = str(uuid.uuid4())
    once = _ping("once", event_id)
    await _produce(settings.kafka_bootstrap_servers, topic, [once, once, _ping("marker")])
    consumer = _consumer(database, settings, topic, _recording_registry(), unique("group"))
    async with _running(consumer):
        await _wait_for(lambda: _has_values(database, ["once", "marker"]))
    async with database.sessionmaker() as session:
        inbox_rows = await session.scalar(
            select(func.count())
            .select_from(PLATFORM.processed_events)
            .where(PLATFORM.processed_events.c.event_id == event_id)
        )
    assert inbox_rows == 1


async def test_unknown_type_invalid_data_and_rejections_are_dead_lettered_with_reasons(
    database: Database, settings: ServiceSettings, topic: str, unique: Callable[[str], str]
) -> None:
    unknown = CloudEvent(type="coop.test.pinged.v9", source="/t", data={}).to_kafka()
    invalid = CloudEvent(type=Pinged.event_type, source="/t", data={"thing_id": 1}).to_kafka()
    ignored = CloudEvent(type=Ignored.event_type, source="/t", data={"thing_id": "x"}).to_kafka()

    def refuse(value: str) -> None:
        if value == "refused":
            raise PermanentError("not allowed from state closed")
        if value == "refused by the domain":
            raise TransitionRefused("Orientation : « accept » impossible depuis « declined ».")

    await _produce(
        settings.kafka_bootstrap_servers,
        topic,
        [
            unknown,
            invalid,
            ignored,
            _ping("refused"),
            _ping("refused by the domain"),
            _ping("fine"),
        ],
    )
    consumer = _consumer(database, settings, topic, _recording_registry(refuse), unique("group"))
    async with _running(consumer):
        await _wait_for(lambda: _has_values(database, ["fine"]))
    letters = await read_topic(settings.kafka_bootstrap_servers, topic + ".dlq", 4)
    reasons = [(dict(r.headers)["dlq_reason"], dict(r.headers)["dlq_error"]) for r in letters]
    assert reasons[0] == (b"unknown_event_type", b"unknown event type 'coop.test.pinged.v9'")
    assert reasons[1][0] == b"invalid_data"
    assert b"thing_id" in reasons[1][1]
    assert b"value" in reasons[1][1]
    assert reasons[2] == (b"rejected", b"not allowed from state closed")
    assert reasons[3] == (
        b"rejected",
        "transition-not-allowed: Orientation : « accept » impossible depuis « declined ».".encode(),
    )


async def test_transient_failure_is_retried_then_applied_once(
    database: Database, settings: ServiceSettings, topic: str, unique: Callable[[str], str]
) -> None:
    failures = {"count": 0}

    def flaky(_value: str) -> None:
        if failures["count"] < 2:
            failures["count"] += 1
            raise RuntimeError("downstream hiccup")

    await _produce(settings.kafka_bootstrap_servers, topic, [_ping("eventually")])
    consumer = _consumer(database, settings, topic, _recording_registry(flaky), unique("group"))
    async with _running(consumer):
        await _wait_for(lambda: _has_values(database, ["eventually"]))
    assert failures["count"] == 2


async def test_handler_failing_every_time_is_dead_lettered_after_max_attempts(
    database: Database, settings: ServiceSettings, topic: str, unique: Callable[[str], str]
) -> None:
    def broken(value: str) -> None:
        if value == "poison":
            raise ValueError("bug in handler")

    await _produce(settings.kafka_bootstrap_servers, topic, [_ping("poison"), _ping("next")])
    consumer = _consumer(database, settings, topic, _recording_registry(broken), unique("group"))
    async with _running(consumer):
        await _wait_for(lambda: _has_values(database, ["next"]))
    letters = await read_topic(settings.kafka_bootstrap_servers, topic + ".dlq", 1)
    headers = dict(letters[0].headers)
    assert headers["dlq_reason"] == b"retries_exhausted"
    # The attempts and an error id a partner can quote, never the exception's own text.
    assert "après 3 tentatives".encode() in headers["dlq_error"]
    assert b"bug in handler" not in headers["dlq_error"]


async def test_stopped_consumer_commits_so_a_successor_does_not_reprocess(
    database: Database, settings: ServiceSettings, topic: str, unique: Callable[[str], str]
) -> None:
    group = unique("group")
    await _produce(settings.kafka_bootstrap_servers, topic, [_ping("a"), _ping("b")])
    first = _consumer(database, settings, topic, _recording_registry(), group)
    task = asyncio.create_task(first.run())
    await _wait_for(lambda: _has_values(database, ["a", "b"]))
    await first.stop()
    await task
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    assert sum(meta.offset for meta in committed.values()) == 2

    await _produce(settings.kafka_bootstrap_servers, topic, [_ping("c")])
    second = _consumer(database, settings, topic, _recording_registry(), group)
    async with _running(second):
        await _wait_for(lambda: _has_values(database, ["a", "b", "c"]))
    async with database.sessionmaker() as session:
        assert (
            await session.scalar(select(func.count()).select_from(PLATFORM.processed_events)) == 3
        )


async def test_pattern_subscription_consumes_every_matching_topic_including_new_ones(
    database: Database, settings: ServiceSettings, unique: Callable[[str], str]
) -> None:
    prefix = unique("test.net").replace("-", "")
    fast = settings.model_copy(update={"kafka_metadata_max_age_ms": 1000})
    first = TopicSpec(f"{prefix}.alpha.responses", "t", partitions=1)
    await ensure_topics(fast, [first, first.dead_letter()])
    consumer = EventConsumer(
        name=unique("group"),
        pattern=rf"^{prefix}\.[a-z]+\.responses$",
        registry=_recording_registry(),
        database=database,
        tables=PLATFORM,
        settings=fast,
        producer_factory=lambda: make_producer(fast, client_id="test-dlq"),
    )
    async with _running(consumer):
        await _produce(fast.kafka_bootstrap_servers, first.name, [_ping("alpha")])
        await _wait_for(lambda: _has_values(database, ["alpha"]))
        later = TopicSpec(f"{prefix}.beta.responses", "t", partitions=1)
        await ensure_topics(fast, [later, later.dead_letter()])
        await _produce(fast.kafka_bootstrap_servers, later.name, [_ping("beta")])
        await _wait_for(lambda: _has_values(database, ["alpha", "beta"]))


def test_a_consumer_takes_topics_or_a_pattern_not_both(
    database: Database, settings: ServiceSettings
) -> None:
    with pytest.raises(ValueError, match="either topics or a pattern"):
        EventConsumer(
            name="g",
            topics=["a"],
            pattern="b",
            registry=HandlerRegistry(),
            database=database,
            tables=PLATFORM,
            settings=settings,
            producer_factory=lambda: make_producer(settings, client_id="x"),
        )


async def test_dead_letter_hook_hears_of_each_dead_letter_with_the_rejections_details(
    database: Database, settings: ServiceSettings, topic: str, unique: Callable[[str], str]
) -> None:
    notices: list[DeadLetterNotice] = []

    async def remember(notice: DeadLetterNotice, db: Database) -> None:
        assert db is database
        notices.append(notice)

    def refuse(value: str) -> None:
        if value == "forged":
            raise PermanentError("not your referral", details={"network": "other"})

    rejected = _ping("forged")
    await _produce(settings.kafka_bootstrap_servers, topic, [rejected, _ping("fine")])
    consumer = EventConsumer(
        name=unique("group"),
        topics=[topic],
        registry=_recording_registry(refuse),
        database=database,
        tables=PLATFORM,
        settings=settings,
        producer_factory=lambda: make_producer(settings, client_id="test-dlq"),
        on_dead_letter=remember,
    )
    async with _running(consumer):
        await _wait_for(lambda: _has_values(database, ["fine"]))
    assert len(notices) == 1
    notice = notices[0]
    assert (notice.reason, notice.error, notice.details) == (
        "rejected",
        "not your referral",
        {"network": "other"},
    )
    assert notice.event_id == dict(rejected[1])["ce_id"].decode()
    assert notice.topic == topic


async def test_dead_letter_topic_is_created_when_nobody_provisioned_it(
    database: Database, settings: ServiceSettings, unique: Callable[[str], str]
) -> None:
    bare = TopicSpec(unique("test.bare"), "a topic without its dead-letter topic", partitions=1)
    await ensure_topics(settings, [bare])
    await _produce(settings.kafka_bootstrap_servers, bare.name, [(b"{}", []), _ping("after")])
    consumer = _consumer(database, settings, bare.name, _recording_registry(), unique("group"))
    async with _running(consumer):
        await _wait_for(lambda: _has_values(database, ["after"]))
    letters = await read_topic(settings.kafka_bootstrap_servers, bare.name + ".dlq", 1)
    assert dict(letters[0].headers)["dlq_reason"] == b"unreadable_envelope"

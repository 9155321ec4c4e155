"""Outbox relay and consumer runner against the real broker and a real database."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import REGISTRY
from sqlalchemy import Column, Integer, MetaData, String, Table, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.contracts.base import EventData
from shared.contracts.topics import TopicSpec
from shared.db.database import Database
from shared.db.tables import platform_tables
from shared.domain.errors import TransitionRefused
from shared.envelope import CloudEvent
from shared.messaging.consumer import (
    BatchHandler,
    DeadLetterNotice,
    EventConsumer,
    EventContext,
    HandlerRegistry,
    PermanentError,
)
from shared.messaging.kafka import make_producer
from shared.messaging.outbox import OutboxBacklog, OutboxRelay, add_event
from shared.messaging.provisioning import ensure_topics
from shared.runtime import BacklogProbe, ConsumerSpec, ServiceRuntime
from shared.settings import ServiceSettings
from shared.testing_kafka import eventually, read_topic

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


class Ponged(EventData):
    event_type: ClassVar[str] = "coop.test.ponged.v1"
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


def _ping(
    value: str, event_id: str | None = None, model: type[EventData] = Pinged
) -> tuple[bytes, list]:
    event = CloudEvent(
        type=model.event_type,
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
    assert reasons[0] == (
        b"unknown_event_type",
        "type d'événement inconnu du contrat : 'coop.test.pinged.v9'"
        " (voir docs/asyncapi.yaml)".encode(),
    )
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


# -- batches --------------------------------------------------------------------------------------


def _batches(consumer: str, mode: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "coop_consumer_batches_total",
            {"service": "test", "consumer": consumer, "mode": mode},
        )
        or 0.0
    )


async def _inbox_count(database: Database) -> int:
    return await _count(database, PLATFORM.processed_events)


async def test_a_fetched_batch_is_applied_in_one_transaction_in_order(
    database: Database, settings: ServiceSettings, topic: str, unique: Callable[[str], str]
) -> None:
    values = [f"v{i}" for i in range(30)]
    await _produce(settings.kafka_bootstrap_servers, topic, [_ping(v) for v in values])
    group = unique("group")
    consumer = _consumer(database, settings, topic, _recording_registry(), group)
    assert consumer.batch  # the default
    async with _running(consumer):
        await _wait_for(lambda: _has_values(database, values))
    assert _batches(group, "batch") >= 1
    assert _batches(group, "one_by_one") == 0
    assert await _inbox_count(database) == 30


async def test_a_batch_transaction_holds_at_most_max_batch_records(
    database: Database, settings: ServiceSettings, topic: str, unique: Callable[[str], str]
) -> None:
    values = [f"v{i}" for i in range(10)]
    await _produce(settings.kafka_bootstrap_servers, topic, [_ping(v) for v in values])
    group = unique("group")
    consumer = EventConsumer(
        name=group,
        topics=[topic],
        registry=_recording_registry(),
        database=database,
        tables=PLATFORM,
        settings=settings,
        producer_factory=lambda: make_producer(settings, client_id="test-dlq"),
        max_batch=4,
    )
    async with _running(consumer):
        await _wait_for(lambda: _has_values(database, values))
    assert _batches(group, "batch") >= 3  # 4 + 4 + 2 at least, never 10 in one
    assert await _inbox_count(database) == 10


async def test_a_poison_record_in_a_batch_is_dead_lettered_alone_and_the_others_applied_once(
    database: Database, settings: ServiceSettings, topic: str, unique: Callable[[str], str]
) -> None:
    calls: dict[str, int] = {}

    def poison(value: str) -> None:
        calls[value] = calls.get(value, 0) + 1
        if value == "poison":
            raise ValueError("bug in handler")

    duplicate_id = str(uuid.uuid4())
    before = [_ping(f"a{i}") for i in range(10)]
    after = [_ping(f"b{i}") for i in range(10)]
    await _produce(
        settings.kafka_bootstrap_servers,
        topic,
        [
            *before,
            _ping("twice", duplicate_id),
            _ping("poison"),
            _ping("twice", duplicate_id),
            *after,
        ],
    )
    group = unique("group")
    consumer = _consumer(database, settings, topic, _recording_registry(poison), group)
    expected = [*(f"a{i}" for i in range(10)), "twice", *(f"b{i}" for i in range(10))]
    async with _running(consumer):
        await _wait_for(lambda: _has_values(database, expected))
    # The batch was tried whole, rolled back, then applied one by one.
    assert _batches(group, "one_by_one") >= 1
    letters = await read_topic(settings.kafka_bootstrap_servers, topic + ".dlq", 1)
    assert len(letters) == 1
    assert json.loads(letters[0].value)["value"] == "poison"
    assert dict(letters[0].headers)["dlq_reason"] == b"retries_exhausted"
    # Every other effect once, the duplicate once, the poison's claim never kept.
    assert await _values(database) == expected
    assert await _inbox_count(database) == 21
    assert calls["poison"] == 1 + settings.consumer_max_attempts


async def test_a_consumer_killed_mid_batch_applies_nothing_twice_after_restart(
    database: Database, settings: ServiceSettings, topic: str, unique: Callable[[str], str]
) -> None:
    group = unique("group")
    await _produce(settings.kafka_bootstrap_servers, topic, [_ping(f"a{i}") for i in range(5)])
    first = _consumer(database, settings, topic, _recording_registry(), group)
    async with _running(first):
        await _wait_for(lambda: _has_values(database, [f"a{i}" for i in range(5)]))

    # A batch whose third record hangs; the consumer is killed there, in the middle of it.
    batch = ["c0", "c1", "hang", "c3"]
    await _produce(settings.kafka_bootstrap_servers, topic, [_ping(v) for v in batch])
    in_handler, never = asyncio.Event(), asyncio.Event()
    seen: list[str] = []
    registry = HandlerRegistry()

    @registry.on(Pinged)
    async def hang(context: EventContext[Pinged]) -> None:
        seen.append(context.data.value)
        await context.session.execute(
            effects.insert().values(event_id=context.event.id, value=context.data.value)
        )
        if context.data.value == "hang":
            in_handler.set()
            await never.wait()

    killed = _consumer(database, settings, topic, registry, group)
    task = asyncio.create_task(killed.run())
    await asyncio.wait_for(in_handler.wait(), timeout=30)
    assert seen == ["c0", "c1", "hang"]  # one batch, applied in order, in one transaction
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # Nothing of the killed batch is kept: its transaction never committed.
    assert await _values(database) == [f"a{i}" for i in range(5)]
    assert await _inbox_count(database) == 5

    # A successor in the same group applies the batch once, and nothing before it again.
    successor = _consumer(database, settings, topic, _recording_registry(), group)
    expected = [*(f"a{i}" for i in range(5)), *batch]
    async with _running(successor):
        await _wait_for(lambda: _has_values(database, expected), timeout=60)
    assert await _values(database) == expected
    assert await _inbox_count(database) == 9


class _Together:
    """A batch handler that writes a run's effects in one multi-row insert, and says how it was
    called: ``("together", values)`` for a run, ``("alone", value)`` for one record."""

    def __init__(self, fail: Callable[[str], None] | None = None) -> None:
        self.calls: list[tuple[str, Any]] = []
        self._fail = fail

    async def __call__(self, context: EventContext[Any]) -> None:
        self.calls.append(("alone", context.data.value))
        if self._fail is not None:
            self._fail(context.data.value)
        await context.session.execute(
            effects.insert().values(event_id=context.event.id, value=context.data.value)
        )

    async def apply_batch(
        self, contexts: Sequence[EventContext[Any]], session: AsyncSession
    ) -> None:
        values = [context.data.value for context in contexts]
        self.calls.append(("together", values))
        assert all(context.session is session for context in contexts)
        assert len({context.event.type for context in contexts}) == 1
        if self._fail is not None:
            for value in values:
                self._fail(value)
        await session.execute(
            effects.insert(),
            [{"event_id": c.event.id, "value": c.data.value} for c in contexts],
        )


def _together_registry(handler: _Together) -> HandlerRegistry:
    assert isinstance(handler, BatchHandler)
    registry = HandlerRegistry()
    registry.on(Pinged)(handler)
    registry.on(Ponged)(handler)
    return registry


async def test_a_batch_handler_gets_each_run_of_one_event_type_together_in_order(
    database: Database, settings: ServiceSettings, topic: str, unique: Callable[[str], str]
) -> None:
    duplicate_id = str(uuid.uuid4())
    await _produce(
        settings.kafka_bootstrap_servers,
        topic,
        [
            _ping("a0", duplicate_id),
            _ping("a1"),
            _ping("a2"),
            _ping("b0", model=Ponged),
            _ping("a3"),
            _ping("a0", duplicate_id),  # a duplicate: skipped, the run goes on around it
            _ping("a4"),
            _ping("b1", model=Ponged),
            _ping("b2", model=Ponged),
        ],
    )
    handler = _Together()
    group = unique("group")
    consumer = _consumer(database, settings, topic, _together_registry(handler), group)
    expected = ["a0", "a1", "a2", "b0", "a3", "a4", "b1", "b2"]
    async with _running(consumer):
        await _wait_for(lambda: _has_values(database, expected))
    # One fetch, one transaction: each run of one type in one call, a run of one alone.
    assert handler.calls == [
        ("together", ["a0", "a1", "a2"]),
        ("alone", "b0"),
        ("together", ["a3", "a4"]),
        ("together", ["b1", "b2"]),
    ]
    assert await _values(database) == expected
    assert await _inbox_count(database) == 8
    assert _batches(group, "batch") == 1
    assert _batches(group, "one_by_one") == 0


async def test_a_poison_record_under_a_batch_handler_is_dead_lettered_and_the_others_applied(
    database: Database, settings: ServiceSettings, topic: str, unique: Callable[[str], str]
) -> None:
    def poison(value: str) -> None:
        if value == "poison":
            raise ValueError("bug in handler")

    values = ["a0", "a1", "poison", "a2", "a3"]
    await _produce(settings.kafka_bootstrap_servers, topic, [_ping(v) for v in values])
    handler = _Together(poison)
    group = unique("group")
    consumer = _consumer(database, settings, topic, _together_registry(handler), group)
    expected = ["a0", "a1", "a2", "a3"]
    async with _running(consumer):
        await _wait_for(lambda: _has_values(database, expected))
    letters = await read_topic(settings.kafka_bootstrap_servers, topic + ".dlq", 1)
    assert len(letters) == 1
    assert json.loads(letters[0].value)["value"] == "poison"
    # Tried together once, rolled back, then each record on its own (the poison until it is
    # dead-lettered); nothing of the failed run was kept, every other effect is there once.
    assert handler.calls[0] == ("together", values)
    assert [value for how, value in handler.calls[1:] if how == "together"] == []
    alone = [value for how, value in handler.calls[1:]]
    assert alone.count("poison") == settings.consumer_max_attempts
    assert [v for v in alone if v != "poison"] == expected
    assert await _values(database) == expected
    assert await _inbox_count(database) == 4
    assert _batches(group, "one_by_one") == 1


async def test_a_handler_registered_alone_gets_a_transaction_of_its_own(
    database: Database, settings: ServiceSettings, topic: str, unique: Callable[[str], str]
) -> None:
    sessions: list[object] = []
    registry = HandlerRegistry()

    @registry.on(Pinged, batch=False)
    async def alone(context: EventContext[Pinged]) -> None:
        sessions.append(context.session)
        await context.session.execute(
            effects.insert().values(event_id=context.event.id, value=context.data.value)
        )

    await _produce(settings.kafka_bootstrap_servers, topic, [_ping(f"v{i}") for i in range(4)])
    group = unique("group")
    consumer = _consumer(database, settings, topic, registry, group)
    async with _running(consumer):
        await _wait_for(lambda: _has_values(database, [f"v{i}" for i in range(4)]))
    assert len({id(session) for session in sessions}) == 4
    assert _batches(group, "batch") == 0


# -- lag ------------------------------------------------------------------------------------------


async def test_outbox_backlog_gives_the_pending_count_and_the_oldest_rows_age(
    database: Database, settings: ServiceSettings, topic: str
) -> None:
    relay = _relay(database, settings)
    assert await relay.backlog() == OutboxBacklog(0, 0.0)
    for value in ("old", "new"):
        async with database.transaction() as session:
            await add_event(
                session, PLATFORM, Pinged(thing_id="t", value=value), source="/t", topic=topic
            )
    async with database.transaction() as session:
        await session.execute(
            update(PLATFORM.outbox)
            .where(PLATFORM.outbox.c.id == select(func.min(PLATFORM.outbox.c.id)).scalar_subquery())
            .values(created_at=datetime.now(UTC) - timedelta(minutes=5))
        )
    backlog = await relay.backlog()
    assert backlog.pending == 2
    assert 300 <= backlog.oldest_age_seconds < 400
    assert REGISTRY.get_sample_value("coop_outbox_pending", {"service": "test"}) == 2
    age = REGISTRY.get_sample_value("coop_outbox_oldest_age_seconds", {"service": "test"})
    assert age is not None
    assert age >= 300
    assert await relay.publish_pending() == 2
    assert await relay.backlog() == OutboxBacklog(0, 0.0)
    await relay.stop()
    await relay.run()


def _runtime(database: Database, settings: ServiceSettings, **kwargs: Any) -> ServiceRuntime:
    url = database.url.render_as_string(hide_password=False)
    return ServiceRuntime(
        settings.model_copy(update={"database_url": url}), tables=PLATFORM, **kwargs
    )


async def test_an_old_outbox_row_shows_as_degraded_in_readiness(
    database: Database, settings: ServiceSettings, topic: str
) -> None:
    # The broker is away: rows wait in the outbox, and readiness tells how long.
    away = settings.model_copy(update={"kafka_bootstrap_servers": "127.0.0.1:1"})
    runtime = _runtime(database, away)
    try:
        async with database.transaction() as session:
            await add_event(
                session, PLATFORM, Pinged(thing_id="t", value="late"), source="/t", topic=topic
            )
        status, body = await runtime.readiness_report()
        assert status == 503  # the broker check fails; the outbox alone would not
        outbox = body["checks"]["outbox"]
        assert (outbox["ok"], outbox["pending"], outbox["degraded"]) == (True, 1, False)
        async with database.transaction() as session:
            await session.execute(
                update(PLATFORM.outbox).values(created_at=datetime.now(UTC) - timedelta(minutes=5))
            )
        status, body = await runtime.readiness_report()
        outbox = body["checks"]["outbox"]
        assert (outbox["ok"], outbox["pending"], outbox["degraded"]) == (True, 1, True)
        assert outbox["oldest_age_seconds"] >= 300
        assert outbox["degraded_above"] == settings.readiness_outbox_age_degraded_seconds
        assert "outbox" in body["degraded"]
    finally:
        await runtime.stop()


async def test_consumer_lag_beyond_the_setting_is_degraded_but_still_ready(
    database: Database, settings: ServiceSettings, topic: str, unique: Callable[[str], str]
) -> None:
    release = asyncio.Event()
    registry = HandlerRegistry()

    @registry.on(Pinged)
    async def slow(context: EventContext[Pinged]) -> None:
        if context.data.value == "v110":
            await release.wait()
        await context.session.execute(
            effects.insert().values(event_id=context.event.id, value=context.data.value)
        )

    values = [f"v{i}" for i in range(130)]
    await _produce(settings.kafka_bootstrap_servers, topic, [_ping(v) for v in values])
    group = unique("group")
    runtime = _runtime(
        database,
        settings.model_copy(update={"readiness_consumer_lag_degraded": 10}),
        consumers=[ConsumerSpec(group, [TopicSpec(topic, "t", partitions=3)], registry)],
    )
    await runtime.start()
    try:

        async def degraded() -> tuple[int, dict[str, Any]] | None:
            status, body = await runtime.readiness_report()
            return (status, body) if body["status"] == "degraded" else None

        status, body = await eventually(degraded)
        assert status == 200
        check = body["checks"][f"consumer:{group}"]
        assert check["ok"] is True
        assert check["degraded"] is True
        assert check["lag"] >= 20
        assert check["degraded_above"] == 10
        assert body["degraded"] == [f"consumer:{group}"]
        release.set()
        await _wait_for(lambda: _has_values(database, values))

        async def ready() -> dict[str, Any] | None:
            status, body = await runtime.readiness_report()
            return body if (status, body["status"]) == (200, "ready") else None

        body = await eventually(ready)
        assert body["checks"][f"consumer:{group}"]["lag"] == 0
        assert body["checks"]["outbox"]["degraded"] is False
    finally:
        release.set()
        await runtime.stop()


async def test_a_backlog_probe_is_a_metric_and_degrades_readiness_beyond_its_threshold(
    database: Database, settings: ServiceSettings
) -> None:
    async def effects_waiting(runtime: ServiceRuntime) -> float:
        async with runtime.database.reading() as session:
            return float(await session.scalar(select(func.count()).select_from(effects)) or 0)

    runtime = _runtime(
        database,
        settings.model_copy(update={"kafka_enabled": False}),
        backlogs=[
            BacklogProbe("deliveries", effects_waiting, degraded_above=2, refresh_seconds=0.1)
        ],
    )
    async with database.transaction() as session:
        await session.execute(
            effects.insert(), [{"event_id": str(i), "value": str(i)} for i in range(3)]
        )
    await runtime.start()
    try:
        gauge = {"service": "test", "name": "deliveries"}
        await eventually(lambda: _async(REGISTRY.get_sample_value("coop_backlog", gauge) == 3))
        status, body = await runtime.readiness_report()
        assert (status, body["status"], body["degraded"]) == (200, "degraded", ["deliveries"])
        assert body["checks"]["deliveries"] == {
            "ok": True,
            "pending": 3,
            "degraded": True,
            "degraded_above": 2,
        }
        async with database.transaction() as session:
            await session.execute(effects.delete().where(effects.c.value == "0"))
        status, body = await runtime.readiness_report()
        assert (status, body["status"]) == (200, "ready")
        assert body["checks"]["deliveries"] == {"ok": True, "pending": 2, "degraded": False}
        assert REGISTRY.get_sample_value("coop_backlog", gauge) == 2
    finally:
        await runtime.stop()


async def _async(value: bool) -> bool:
    return value

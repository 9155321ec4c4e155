"""aiokafka (the services' client) against the local Kafka 4.x broker.

Covers what the services rely on: explicit topic creation (auto-create is off), idempotent
producing with acks=all, consumer groups with manual commits, rebalancing, headers, and a
broker restart on the same data keeping topics and committed offsets. Every wait is bounded.
All tests use the session broker except the restart test, which restarts a broker of its own.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from localkafka import LocalKafka

#: The broker alone (no service store): run once, in the SQLite pass (conftest.py).
pytestmark = [pytest.mark.asyncio, pytest.mark.store_independent]

WAIT = 30.0


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def wait_until(predicate: Callable[[], bool], within: float = WAIT) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(0.1)


async def bounded(awaitable: Awaitable[object]) -> None:
    await asyncio.wait_for(awaitable, WAIT)


async def create_topic(bootstrap: str, name: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await bounded(admin.start())
    try:
        await bounded(admin.create_topics([NewTopic(name, partitions, 1)], timeout_ms=10_000))
    finally:
        await bounded(admin.close())


async def list_topics(bootstrap: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await bounded(admin.start())
    try:
        return await asyncio.wait_for(admin.list_topics(), WAIT)
    finally:
        await bounded(admin.close())


def make_producer(bootstrap: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        enable_idempotence=True,
        acks="all",
        request_timeout_ms=15_000,
    )


@pytest.fixture
async def producer(kafka_broker: LocalKafka) -> AsyncIterator[AIOKafkaProducer]:
    prod = make_producer(kafka_broker.bootstrap_servers)
    await bounded(prod.start())
    try:
        yield prod
    finally:
        await bounded(prod.stop())


@pytest.fixture
def private_broker(tmp_path: Path) -> Iterator[LocalKafka]:
    """A broker of its own, so that restarting it does not disturb the session broker."""
    broker = LocalKafka(tmp_path / "kafka")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def make_consumer(bootstrap: str, *topics: str, group: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=10_000,
        heartbeat_interval_ms=500,
    )


async def consume(consumer: AIOKafkaConsumer, count: int) -> list[ConsumerRecord]:
    """Read exactly ``count`` records (more arriving in the same batch are not returned)."""
    records: list[ConsumerRecord] = []

    async def loop() -> None:
        while len(records) < count:
            batch = await consumer.getmany(timeout_ms=500, max_records=count - len(records))
            for tp_records in batch.values():
                records.extend(tp_records)

    await asyncio.wait_for(loop(), WAIT)
    return records


async def test_idempotent_produce_and_group_consume(
    kafka_broker: LocalKafka, producer: AIOKafkaProducer
) -> None:
    topic = unique("compat-produce")
    await create_topic(kafka_broker.bootstrap_servers, topic, 3)
    sent = []
    for i in range(30):
        key = f"k{i % 5}".encode()
        meta = await asyncio.wait_for(producer.send_and_wait(topic, f"v{i}".encode(), key), WAIT)
        sent.append((key, f"v{i}".encode(), meta.partition))

    consumer = make_consumer(kafka_broker.bootstrap_servers, topic, group=unique("g"))
    await bounded(consumer.start())
    try:
        records = await consume(consumer, 30)
    finally:
        await bounded(consumer.stop())

    assert sorted((r.key, r.value, r.partition) for r in records) == sorted(sent)
    # Same key -> same partition, and per-key order is the send order.
    for k in {key for key, _, _ in sent}:
        assert [r.value for r in records if r.key == k] == [v for key, v, _ in sent if key == k]
    assert len({p for _, _, p in sent}) > 1


async def test_manual_commit_and_resume_in_same_group(
    kafka_broker: LocalKafka, producer: AIOKafkaProducer
) -> None:
    topic, group = unique("compat-commit"), unique("g")
    await create_topic(kafka_broker.bootstrap_servers, topic, 1)
    for i in range(10):
        await asyncio.wait_for(producer.send_and_wait(topic, f"m{i}".encode()), WAIT)
    tp = TopicPartition(topic, 0)

    first = make_consumer(kafka_broker.bootstrap_servers, topic, group=group)
    await bounded(first.start())
    try:
        records = await consume(first, 4)
        assert [r.offset for r in records] == [0, 1, 2, 3]
        await bounded(first.commit({tp: records[-1].offset + 1}))
        assert await asyncio.wait_for(first.committed(tp), WAIT) == 4
    finally:
        await bounded(first.stop())

    second = make_consumer(kafka_broker.bootstrap_servers, topic, group=group)
    await bounded(second.start())
    try:
        rest = await consume(second, 6)
    finally:
        await bounded(second.stop())
    assert [r.offset for r in rest] == list(range(4, 10))
    assert [r.value for r in rest] == [f"m{i}".encode() for i in range(4, 10)]


async def test_rebalance_shares_partitions_and_hands_them_back(kafka_broker: LocalKafka) -> None:
    topic, group = unique("compat-rebalance"), unique("g")
    await create_topic(kafka_broker.bootstrap_servers, topic, 3)
    all_tps = {TopicPartition(topic, p) for p in range(3)}
    one = make_consumer(kafka_broker.bootstrap_servers, topic, group=group)
    two = make_consumer(kafka_broker.bootstrap_servers, topic, group=group)

    async def poll(consumer: AIOKafkaConsumer) -> None:
        while True:
            await consumer.getmany(timeout_ms=200)

    async def halt(task: asyncio.Task[None], consumer: AIOKafkaConsumer) -> None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await bounded(consumer.stop())

    await bounded(one.start())
    poll_one = asyncio.create_task(poll(one))
    try:
        await wait_until(lambda: one.assignment() == all_tps)

        await bounded(two.start())
        poll_two = asyncio.create_task(poll(two))
        try:

            def shared() -> bool:
                a, b = one.assignment(), two.assignment()
                return bool(a) and bool(b) and not (a & b) and (a | b) == all_tps

            await wait_until(shared)
        finally:
            # stop() sends LeaveGroup, so the survivor need not wait for a session timeout.
            await halt(poll_two, two)
        await wait_until(lambda: one.assignment() == all_tps, within=15.0)
    finally:
        await halt(poll_one, one)


async def test_headers_round_trip(kafka_broker: LocalKafka, producer: AIOKafkaProducer) -> None:
    topic = unique("compat-headers")
    await create_topic(kafka_broker.bootstrap_servers, topic, 1)
    headers = [
        ("event-type", b"member.created"),
        ("trace-id", uuid.uuid4().hex.encode()),
        ("dup", b"1"),
        ("dup", b"2"),
        ("empty", b""),
        ("utf8-\u00e9", "\u00fc\u00f1\u00ee".encode()),
    ]
    await asyncio.wait_for(producer.send_and_wait(topic, b"{}", b"k", headers=headers), WAIT)

    consumer = make_consumer(kafka_broker.bootstrap_servers, topic, group=unique("g"))
    await bounded(consumer.start())
    try:
        (record,) = await consume(consumer, 1)
    finally:
        await bounded(consumer.stop())
    assert list(record.headers) == headers


async def test_broker_restart_keeps_topics_offsets_and_producer(
    private_broker: LocalKafka,
) -> None:
    broker = private_broker
    topic, group = unique("compat-restart"), unique("g")
    await create_topic(broker.bootstrap_servers, topic, 3)
    producer = make_producer(broker.bootstrap_servers)
    await bounded(producer.start())
    try:
        for i in range(6):
            await asyncio.wait_for(producer.send_and_wait(topic, f"a{i}".encode(), b"key"), WAIT)

        consumer = make_consumer(broker.bootstrap_servers, topic, group=group)
        await bounded(consumer.start())
        try:
            records = await consume(consumer, 4)
            tp = TopicPartition(topic, records[0].partition)
            await bounded(consumer.commit({tp: records[-1].offset + 1}))
        finally:
            await bounded(consumer.stop())

        old_port, old_pid = broker.port, broker.pid
        await broker.arestart(downtime=1.0)
        assert broker.port == old_port
        assert broker.pid not in (None, old_pid)

        assert topic in await list_topics(broker.bootstrap_servers)
        # The producer created before the restart reconnects and keeps its idempotent session.
        for i in range(6, 8):
            await asyncio.wait_for(producer.send_and_wait(topic, f"a{i}".encode(), b"key"), WAIT)
    finally:
        await bounded(producer.stop())

    resumed = make_consumer(broker.bootstrap_servers, topic, group=group)
    await bounded(resumed.start())
    try:
        assert await asyncio.wait_for(resumed.committed(tp), WAIT) == 4
        rest = await consume(resumed, 4)
    finally:
        await bounded(resumed.stop())
    assert [r.offset for r in rest] == [4, 5, 6, 7]
    assert [r.value for r in rest] == [b"a4", b"a5", b"a6", b"a7"]

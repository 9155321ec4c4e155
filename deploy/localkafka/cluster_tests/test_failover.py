"""A three-broker cluster loses the leader of ``referral.events`` under load (issue 15, item 1).

Three KRaft nodes (:class:`localkafka.LocalKafkaCluster`) on loopback, the topic with three
replicas and ``min.insync.replicas=2``, an idempotent producer (``acks=all``) sending a bounded
stream of events with unique ids while a consumer group reads them. A third of the way through,
the leader of partition 0 is SIGKILLed. Every send must still be acknowledged; afterwards the
topic, read from the beginning, holds every event id exactly once (nothing lost, nothing written
twice by the producer's retries), and the live consumer saw them all. Then the node comes back
and rejoins every partition's in-sync replicas.

Slow (three JVMs): run by ``make test-cluster``, not ``make test``.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from localkafka.cluster import LocalKafkaCluster

pytestmark = pytest.mark.cluster

TOPIC = "referral.events"
PARTITIONS = 3
EVENTS = 3000
KILL_AFTER = EVENTS // 3
#: Bounded: the whole stream is sent in about EVENTS * PAUSE seconds plus the failover.
PAUSE = 0.002
DEADLINE = 120.0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafkaCluster]:
    nodes = LocalKafkaCluster(tmp_path_factory.mktemp("cluster"))
    nodes.ensure_jars()
    nodes.start()
    try:
        yield nodes
    finally:
        nodes.stop()


async def _describe(admin: AIOKafkaAdminClient) -> dict[int, dict[str, Any]]:
    """The topic's partitions; asked again while the client still tries the dead node."""
    deadline = time.monotonic() + DEADLINE
    while True:
        try:
            return LocalKafkaCluster.partitions(await admin.describe_topics([TOPIC]), TOPIC)
        except KafkaError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


async def _wait_until(admin: AIOKafkaAdminClient, check: Any, what: str) -> dict[int, Any]:
    deadline = time.monotonic() + DEADLINE
    partitions: dict[int, Any] = {}
    while time.monotonic() < deadline:
        try:
            partitions = await _describe(admin)
        except KeyError:
            partitions = {}
        if len(partitions) == PARTITIONS and all(check(p) for p in partitions.values()):
            return partitions
        await asyncio.sleep(0.5)
    pytest.fail(f"{what}: not within {DEADLINE:.0f}s: {partitions}")


async def _read_everything(bootstrap: str) -> list[str]:
    """Every event id in the topic, from the first offset to the last, in log order."""
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await reader.start()
    try:
        tps = [TopicPartition(TOPIC, p) for p in range(PARTITIONS)]
        reader.assign(tps)
        await reader.seek_to_beginning(*tps)
        ends = await reader.end_offsets(tps)
        ids: list[str] = []
        deadline = time.monotonic() + DEADLINE
        while any([await reader.position(tp) < ends[tp] for tp in tps]):
            assert time.monotonic() < deadline, "could not read the topic to its end"
            for records in (await reader.getmany(timeout_ms=1000)).values():
                ids += [json.loads(r.value)["id"] for r in records]
        return ids
    finally:
        await reader.stop()


async def _consume(bootstrap: str, expected: int, seen: list[str], done: asyncio.Event) -> None:
    consumer = AIOKafkaConsumer(
        TOPIC,
        bootstrap_servers=bootstrap,
        group_id="failover-test",
        auto_offset_reset="earliest",
        enable_auto_commit=True,
        auto_commit_interval_ms=500,
    )
    await consumer.start()
    try:
        deadline = time.monotonic() + 3 * DEADLINE
        while len(set(seen)) < expected and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                seen += [json.loads(r.value)["id"] for r in records]
    finally:
        done.set()
        await consumer.stop()


async def test_killing_the_leader_under_load_loses_and_duplicates_nothing(
    cluster: LocalKafkaCluster,
) -> None:
    bootstrap = cluster.bootstrap_servers
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(TOPIC, num_partitions=PARTITIONS, replication_factor=3)]
        )
        before = await _wait_until(
            admin,
            lambda p: p["leader"] >= 0 and len(p["isr"]) == 3,
            "three in-sync replicas per partition",
        )
        assert all(len(p["replicas"]) == 3 for p in before.values())
        leader = before[0]["leader"]

        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            enable_idempotence=True,  # implies acks=all
            linger_ms=5,
            request_timeout_ms=30_000,
            retry_backoff_ms=200,
        )
        await producer.start()
        seen: list[str] = []
        consumed = asyncio.Event()
        consumer_task = asyncio.create_task(_consume(bootstrap, EVENTS, seen, consumed))
        sent: list[str] = []
        acknowledgements = []
        kill: asyncio.Future[None] | None = None
        try:
            for number in range(EVENTS):
                event_id = str(uuid.uuid4())
                value = json.dumps({"id": event_id, "number": number}).encode()
                key = f"referral-{number % 97}".encode()
                acknowledgements.append(await producer.send(TOPIC, value, key=key))
                sent.append(event_id)
                if number == KILL_AFTER:
                    kill = asyncio.ensure_future(asyncio.to_thread(cluster.kill, leader))
                await asyncio.sleep(PAUSE)
            assert kill is not None
            await kill
            metadata = await asyncio.wait_for(asyncio.gather(*acknowledgements), DEADLINE)
        finally:
            await producer.stop()
        # Every write was acknowledged by at least min.insync.replicas=2 brokers.
        assert len(metadata) == EVENTS
        await asyncio.wait_for(consumed.wait(), 3 * DEADLINE)
        await consumer_task

        after = await _describe(admin)
        assert after[0]["leader"] not in (leader, -1), "partition 0 has no new leader"
        assert all(leader not in p["isr"] for p in after.values())

        # The log itself: each event exactly once, nothing missing.
        logged = await _read_everything(bootstrap)
        counts = Counter(logged)
        assert set(counts) == set(sent), f"lost: {len(set(sent) - set(counts))}"
        assert max(counts.values()) == 1, (
            f"written twice: {[i for i, n in counts.items() if n > 1][:5]}"
        )
        assert len(logged) == EVENTS
        # The consumer group saw every event (at least once: a consumer deduplicates by id).
        assert set(seen) == set(sent)

        # The node comes back and catches up: three in-sync replicas again everywhere.
        cluster.start_node(leader)
        await _wait_until(
            admin, lambda p: leader in p["isr"] and len(p["isr"]) == 3, "the node back in sync"
        )
    finally:
        await admin.close()

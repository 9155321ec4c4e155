"""Broker-side isolation: with SASL/SCRAM and ACLs, a network's credentials read only its own feed
and write only its own response topic."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from localkafka import LocalKafka
from localkafka.security import KafkaSecurityTools, ScramUser, format_args, secured_config

#: The broker alone (no service store): run once, in the SQLite pass (conftest.py).
pytestmark = pytest.mark.store_independent

ADMIN = ScramUser("admin", "admin-secret")
NETWORK_A = ScramUser("network-a", "a-secret")
NETWORK_B = ScramUser("network-b", "b-secret")
#: The referral service has credentials of its own: it writes every feed and reads every response
#: topic, and nothing else of the networks.
SERVICE = ScramUser("svc-referral", "svc-secret")


@pytest.fixture(scope="module")
async def secured(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalKafka]:
    work: Path = tmp_path_factory.mktemp("secured-kafka")
    broker = LocalKafka(
        work, format_args=format_args(ADMIN), probe_client_kwargs=ADMIN.client_kwargs()
    )
    broker.extra_config.update(secured_config(broker.port, broker.controller_port, ADMIN))
    await asyncio.to_thread(broker.ensure_jars)
    await broker.astart()
    try:
        admin = AIOKafkaAdminClient(
            bootstrap_servers=broker.bootstrap_servers, **ADMIN.client_kwargs()
        )
        await admin.start()
        try:
            await admin.create_topics(
                [
                    NewTopic(name, num_partitions=1, replication_factor=1)
                    for name in (
                        "agency.a.feed",
                        "agency.a.responses",
                        "agency.b.feed",
                        "agency.b.responses",
                        "referral.events",
                    )
                ]
            )
        finally:
            await admin.close()
        tools = KafkaSecurityTools(
            broker.ensure_jars(), broker.bootstrap_servers, ADMIN, work / "tools"
        )
        for network, user in (("a", NETWORK_A), ("b", NETWORK_B)):
            await asyncio.to_thread(tools.add_user, user)
            await asyncio.to_thread(
                tools.allow, user.principal, ["Read", "Describe"], topic=f"agency.{network}.feed"
            )
            await asyncio.to_thread(
                tools.allow,
                user.principal,
                ["Write", "Describe"],
                topic=f"agency.{network}.responses",
            )
            await asyncio.to_thread(
                tools.allow, user.principal, ["Read"], group=f"agency.{network}.", prefixed=True
            )
        await asyncio.to_thread(tools.add_user, SERVICE)
        for network in ("a", "b"):
            await asyncio.to_thread(
                tools.allow,
                SERVICE.principal,
                ["Write", "Describe"],
                topic=f"agency.{network}.feed",
            )
            await asyncio.to_thread(
                tools.allow,
                SERVICE.principal,
                ["Read", "Describe"],
                topic=f"agency.{network}.responses",
            )
        await asyncio.to_thread(
            tools.allow, SERVICE.principal, ["Read", "Write", "Describe"], topic="referral.events"
        )
        await asyncio.to_thread(
            tools.allow, SERVICE.principal, ["Read"], group="referral.", prefixed=True
        )
        producer = AIOKafkaProducer(
            bootstrap_servers=broker.bootstrap_servers, **ADMIN.client_kwargs()
        )
        await producer.start()
        try:
            await producer.send_and_wait("agency.a.feed", b'{"for": "a"}', key=b"r1")
            await producer.send_and_wait("agency.b.feed", b'{"for": "b"}', key=b"r2")
        finally:
            await producer.stop()
        yield broker
    finally:
        await broker.astop()


async def _consume_one(broker: LocalKafka, user: ScramUser, topic: str, group: str) -> bytes:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=broker.bootstrap_servers,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **user.client_kwargs(),
    )
    try:
        await consumer.start()
        async with asyncio.timeout(20):
            while True:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    if records:
                        return records[0].value  # type: ignore[no-any-return]
    finally:
        await consumer.stop()


async def _produce(broker: LocalKafka, user: ScramUser, topic: str) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=broker.bootstrap_servers, request_timeout_ms=5000, **user.client_kwargs()
    )
    try:
        await producer.start()
        await asyncio.wait_for(producer.send_and_wait(topic, b"{}", key=b"r"), timeout=20)
    finally:
        await producer.stop()


async def test_network_reads_its_own_feed(secured: LocalKafka) -> None:
    assert (
        await _consume_one(secured, NETWORK_A, "agency.a.feed", "agency.a.erp") == b'{"for": "a"}'
    )


async def test_network_cannot_read_another_networks_feed(secured: LocalKafka) -> None:
    with pytest.raises((KafkaError, TimeoutError)) as refused:
        await _consume_one(secured, NETWORK_A, "agency.b.feed", "agency.a.erp")
    assert (
        "Authorization" in type(refused.value).__name__ or "authoriz" in str(refused.value).lower()
    )


async def test_network_cannot_use_another_networks_consumer_group(secured: LocalKafka) -> None:
    with pytest.raises((KafkaError, TimeoutError)) as refused:
        await _consume_one(secured, NETWORK_A, "agency.a.feed", "agency.b.erp")
    assert (
        "Authorization" in type(refused.value).__name__ or "authoriz" in str(refused.value).lower()
    )


async def test_network_writes_its_own_responses_only(secured: LocalKafka) -> None:
    await _produce(secured, NETWORK_A, "agency.a.responses")
    with pytest.raises(KafkaError) as refused:
        await _produce(secured, NETWORK_A, "agency.b.responses")
    assert "Authorization" in type(refused.value).__name__


async def test_wrong_password_is_refused(secured: LocalKafka) -> None:
    with pytest.raises(KafkaError):
        await _produce(secured, ScramUser("network-a", "wrong"), "agency.a.responses")


async def test_the_service_writes_every_feed_and_reads_every_response_topic(
    secured: LocalKafka,
) -> None:
    await _produce(secured, SERVICE, "agency.b.feed")
    await _produce(secured, NETWORK_A, "agency.a.responses")
    assert await _consume_one(secured, SERVICE, "agency.a.responses", "referral.agency-responses")


async def test_the_service_cannot_forge_a_networks_answer(secured: LocalKafka) -> None:
    with pytest.raises(KafkaError) as refused:
        await _produce(secured, SERVICE, "agency.a.responses")
    assert "Authorization" in type(refused.value).__name__


async def test_a_network_cannot_read_the_platforms_internal_topics(secured: LocalKafka) -> None:
    await _produce(secured, SERVICE, "referral.events")
    with pytest.raises((KafkaError, TimeoutError)) as refused:
        await _consume_one(secured, NETWORK_A, "referral.events", "agency.a.erp")
    assert (
        "Authorization" in type(refused.value).__name__ or "authoriz" in str(refused.value).lower()
    )

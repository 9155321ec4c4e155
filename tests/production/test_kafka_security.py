"""``make up SECURE=1``'s broker (SASL/SCRAM-SHA-512 over TLS with a local CA, ACLs): each service
connects as its own principal and only to its topics; onboarding a network through the referral
API creates the network's credentials and ACLs, and they read its own feed only (issue 15)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaError,
    TopicAuthorizationFailedError,
)

import referral
from agency_client.client import AgencyClient, Connection
from devstack.secure import ADMIN_USER, SecureKafka
from devstack.services import ServiceProcess, run_cli, service_env
from localkafka import free_port
from shared.auth.tokens import Role, mint_token
from shared.contracts.topics import DISPOSITIFS_EVENTS, NOTIFICATIONS_EVENTS, REFERRAL_EVENTS
from shared.envelope import CloudEvent
from shared.messaging.kafka import connection_options, make_producer
from shared.messaging.provisioning import ensure_topics
from shared.settings import DEVELOPMENT_JWT_SECRET, ServiceSettings
from shared.testing import migrated_database

pytestmark = pytest.mark.e2e


@dataclass
class Secured:
    kafka: SecureKafka
    bootstrap: str
    referral: ServiceProcess

    def options(self, username: str, password: str) -> dict[str, object]:
        assert self.kafka.tls is not None
        return connection_options(
            self.bootstrap,
            security_protocol="SASL_SSL",
            sasl_mechanism="SCRAM-SHA-512",
            sasl_username=username,
            sasl_password=password,
            ssl_cafile=str(self.kafka.tls.ca_cert),
        )

    def settings(self, service: str) -> ServiceSettings:
        env = self.kafka.service_env(service)
        return ServiceSettings(
            service_name=service,
            environment="development",
            database_url="sqlite+aiosqlite:///:memory:",
            kafka_bootstrap_servers=self.bootstrap,
            kafka_security_protocol=env["KAFKA_SECURITY_PROTOCOL"],
            kafka_sasl_mechanism=env["KAFKA_SASL_MECHANISM"],
            kafka_sasl_username=env["KAFKA_SASL_USERNAME"],
            kafka_sasl_password=env["KAFKA_SASL_PASSWORD"],  # type: ignore[arg-type]
            kafka_ssl_cafile=env["KAFKA_SSL_CAFILE"],
        )


@pytest.fixture(scope="module")
async def secured(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Secured]:
    work = tmp_path_factory.mktemp("secure-kafka")
    kafka = await asyncio.to_thread(SecureKafka.prepare, work / "kafka-secure")
    broker = kafka.broker()
    await asyncio.to_thread(broker.ensure_jars)
    await broker.astart()
    process: ServiceProcess | None = None
    try:
        await kafka.provision(broker.bootstrap_servers)
        url = await migrated_database(
            "referral", Path(referral.__file__).parent / "migrations", work
        )
        extra = {"LOG_JSON": "true", **kafka.service_env("referral")}
        env = service_env(
            "referral", database_url=url, bootstrap_servers=broker.bootstrap_servers, extra=extra
        )
        # The demo networks are in the store before the service starts: it grants their ACLs
        # (as the provisioning principal) before it creates their topics.
        await asyncio.to_thread(run_cli, "referral", "seed", env)
        process = ServiceProcess("referral", free_port(), env, work / "referral.log")
        process.start()
        await asyncio.to_thread(process.wait_ready, 120)
        yield Secured(kafka, broker.bootstrap_servers, process)
    finally:
        if process is not None:
            process.stop()
        await broker.astop()


def _ops() -> dict[str, str]:
    token = mint_token(
        key=DEVELOPMENT_JWT_SECRET,
        subject="ops-test",
        role=Role.OPS,
        issuer="coop-platform-dev",
        audience="coop-platform",
    )
    return {"Authorization": f"Bearer {token}"}


async def _onboard(secured: Secured, network_id: str) -> dict[str, object]:
    async with httpx.AsyncClient(base_url=secured.referral.url, timeout=60) as client:
        response = await client.post(
            "/v1/networks",
            json={"id": network_id, "name": f"Réseau {network_id}"},
            headers={**_ops(), "Idempotency-Key": str(uuid.uuid4())},
        )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def _read_one(options: dict[str, object], topic: str, group: str) -> bytes:
    consumer = AIOKafkaConsumer(
        topic,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **options,  # type: ignore[arg-type]
    )
    try:
        await consumer.start()
        async with asyncio.timeout(30):
            while True:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    if records:
                        return records[0].value  # type: ignore[no-any-return]
    finally:
        await consumer.stop()


async def test_the_referral_service_runs_as_its_own_principal(secured: Secured) -> None:
    """Readiness checks the broker and every consumer: all up over SASL_SSL as ``referral``."""
    body = await asyncio.to_thread(secured.referral.wait_ready, 30)
    assert body["status"] in ("ready", "degraded"), body
    checks = body["checks"]
    assert isinstance(checks, dict)
    assert all(check["ok"] for check in checks.values()), checks
    # The seeded networks' response topics, created once their ACLs were granted.
    assert checks["consumer:referral.agency-responses"]["partitions"] > 0
    assert "KAFKA_SASL_PASSWORD" not in secured.referral.log_tail(200)


async def test_a_service_uses_its_topics_and_no_other(secured: Secured) -> None:
    settings = secured.settings("dispositifs")
    await ensure_topics(settings, [DISPOSITIFS_EVENTS, DISPOSITIFS_EVENTS.dead_letter()])
    producer = make_producer(settings, client_id="dispositifs-test")
    await producer.start()
    try:
        await producer.send_and_wait(DISPOSITIFS_EVENTS.name, b"{}", key=b"k")
        with pytest.raises(TopicAuthorizationFailedError):
            await producer.send_and_wait(REFERRAL_EVENTS.name, b"{}", key=b"k")
    finally:
        await producer.stop()
    # notifications.events is notifications' own: dispositifs may not even create it.
    with pytest.raises(RuntimeError, match=r"error 29\b"):
        await ensure_topics(settings, [NOTIFICATIONS_EVENTS])


async def test_a_wrong_password_is_refused(secured: Secured) -> None:
    producer = AIOKafkaProducer(
        request_timeout_ms=5000,
        **secured.options("dispositifs", "not-the-password"),  # type: ignore[arg-type]
    )
    try:
        with pytest.raises(KafkaError):
            await producer.start()
    finally:
        await producer.stop()


async def test_onboarding_gives_a_network_credentials_for_its_own_feed_only(
    secured: Secured,
) -> None:
    a, b = await _onboard(secured, "reseau-a"), await _onboard(secured, "reseau-b")
    creds_a, creds_b = a["kafka_credentials"], b["kafka_credentials"]
    assert isinstance(creds_a, dict)
    assert isinstance(creds_b, dict)
    assert creds_a["username"] == "agency-reseau-a"
    assert creds_a["mechanism"] == "SCRAM-SHA-512"
    assert creds_a["password"] != creds_b["password"]
    # The referral service (its own principal) writes both feeds, as its relay does.
    producer = make_producer(secured.settings("referral"), client_id="referral-test")
    await producer.start()
    try:
        await producer.send_and_wait("agency.reseau-a.feed", b'{"for": "a"}', key=b"r1")
        await producer.send_and_wait("agency.reseau-b.feed", b'{"for": "b"}', key=b"r2")
    finally:
        await producer.stop()
    as_a = secured.options(str(creds_a["username"]), str(creds_a["password"]))
    assert await _read_one(as_a, "agency.reseau-a.feed", "agency.reseau-a.erp") == b'{"for": "a"}'
    with pytest.raises(TopicAuthorizationFailedError):
        await _read_one(as_a, "agency.reseau-b.feed", "agency.reseau-a.erp")
    with pytest.raises(GroupAuthorizationFailedError):
        await _read_one(as_a, "agency.reseau-a.feed", "agency.reseau-b.erp")
    # A network answers on its own responses topic only.
    producer = AIOKafkaProducer(request_timeout_ms=10_000, **as_a)  # type: ignore[arg-type]
    await producer.start()
    try:
        await producer.send_and_wait("agency.reseau-a.responses", b"{}", key=b"r1")
        with pytest.raises(TopicAuthorizationFailedError):
            await producer.send_and_wait("agency.reseau-b.responses", b"{}", key=b"r2")
    finally:
        await producer.stop()


async def test_a_replayed_onboarding_hands_no_credentials(secured: Secured) -> None:
    key = str(uuid.uuid4())
    async with httpx.AsyncClient(base_url=secured.referral.url, timeout=60) as client:
        body = {"id": "reseau-c", "name": "Réseau C"}
        first = await client.post(
            "/v1/networks", json=body, headers={**_ops(), "Idempotency-Key": key}
        )
        again = await client.post(
            "/v1/networks", json=body, headers={**_ops(), "Idempotency-Key": key}
        )
    assert first.status_code == 201
    assert first.json()["kafka_credentials"]
    assert again.status_code == 201
    assert again.json().get("kafka_credentials") is None


async def test_coop_dlq_connects_with_sasl(secured: Secured) -> None:
    """The dead-letter tool takes its connection from ``KAFKA_*`` (here the operator's)."""
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": secured.bootstrap,
        **secured.kafka.client_env(ADMIN_USER),
    }
    result = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "shared.messaging.dead_letter_cli",
            "list",
            "--topic",
            "agency.reseau-a.responses.dlq",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert all(json.loads(line) for line in result.stdout.splitlines())


async def test_coop_agency_follows_its_feed_over_sasl_ssl(secured: Secured) -> None:
    """``coop-agency``'s connection (the network's SCRAM-SHA-512 user, the brokers' CA)."""
    creds = (await _onboard(secured, "reseau-d"))["kafka_credentials"]
    assert isinstance(creds, dict)
    event = CloudEvent(type="coop.referral.sent.v1", source="/referral", data={"n": 1})
    value, headers = event.to_kafka()
    producer = make_producer(secured.settings("referral"), client_id="referral-test")
    await producer.start()
    try:
        await producer.send_and_wait("agency.reseau-d.feed", value, key=b"r", headers=headers)
    finally:
        await producer.stop()
    assert secured.kafka.tls is not None
    connection = Connection(
        bootstrap_servers=secured.bootstrap,
        network_id="reseau-d",
        sasl_username=str(creds["username"]),
        sasl_password=str(creds["password"]),
        ssl_cafile=str(secured.kafka.tls.ca_cert),
    )
    async with AgencyClient(connection) as client, asyncio.timeout(30):
        async for item in client.follow():
            assert item.event.id == event.id
            break

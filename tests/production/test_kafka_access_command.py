"""``coop-ops kafka-access`` (what docker-compose.yml's ``kafka-access`` step runs) against the real
broker with SASL/SCRAM-SHA-512 and the StandardAuthorizer, as compose runs it (SASL_PLAINTEXT, only
the admin's credential in the storage): it creates the services' and the provisioner's SCRAM users
and ACLs; each service then uses its own topics and is refused on the others; running it again
changes nothing (issue 15)."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import GroupAuthorizationFailedError, KafkaError, TopicAuthorizationFailedError

from devstack.secure import ADMIN_USER, SecureKafka
from shared.contracts.topics import DISPOSITIFS_EVENTS, REFERRAL_EVENTS
from shared.messaging.kafka import connection_options
from shared.messaging.kafka_acl import KafkaSecurityError, upsert_scram_user
from shared.messaging.ops_cli import PROVISIONER_USER
from shared.messaging.provisioning import ensure_topics
from shared.settings import ServiceSettings

pytestmark = pytest.mark.store_independent

MECHANISM = "SCRAM-SHA-512"


@dataclass
class Broker:
    bootstrap: str
    admin_password: str
    #: The variables of compose's env file: each service's password, the provisioner's.
    passwords: dict[str, str]

    def options(self, user: str, password: str | None = None) -> dict[str, object]:
        return connection_options(
            self.bootstrap,
            security_protocol="SASL_PLAINTEXT",
            sasl_mechanism=MECHANISM,
            sasl_username=user,
            sasl_password=password if password is not None else self.password_of(user),
        )

    def password_of(self, user: str) -> str:
        if user == ADMIN_USER:
            return self.admin_password
        if user == PROVISIONER_USER:
            return self.passwords["REFERRAL_KAFKA_PROVISIONING_PASSWORD"]
        return self.passwords[f"{user.upper()}_KAFKA_SASL_PASSWORD"]

    def settings(self, user: str) -> ServiceSettings:
        return ServiceSettings(
            service_name=user,
            environment="development",
            database_url="sqlite+aiosqlite:///:memory:",
            kafka_bootstrap_servers=self.bootstrap,
            kafka_security_protocol="SASL_PLAINTEXT",
            kafka_sasl_mechanism=MECHANISM,
            kafka_sasl_username=user,
            kafka_sasl_password=self.password_of(user),  # type: ignore[arg-type]
        )

    def command_env(self, **extra: str) -> dict[str, str]:
        """The kafka-access container's environment: the admin's connection and the env file."""
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("KAFKA_", "REFERRAL_", "DISPOSITIFS_", "NOTIFICATIONS_"))
        }
        return {
            **env,
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "KAFKA_SASL_MECHANISM": MECHANISM,
            "KAFKA_SASL_USERNAME": ADMIN_USER,
            "KAFKA_SASL_PASSWORD": self.admin_password,
            "REFERRAL_KAFKA_PROVISIONING_USERNAME": PROVISIONER_USER,
            **self.passwords,
            **extra,
        }


@pytest.fixture(scope="module")
async def broker(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Broker]:
    work = tmp_path_factory.mktemp("kafka-access")
    # SASL_PLAINTEXT as in docker-compose.yml; the storage formatted with the admin's credential
    # only (--add-scram): every other user is the command's to create.
    kafka = await asyncio.to_thread(SecureKafka.prepare, work / "kafka-secure", tls=False)
    local = kafka.broker()
    await asyncio.to_thread(local.ensure_jars)
    await local.astart()
    try:
        passwords = {
            f"{service.upper()}_KAFKA_SASL_PASSWORD": secrets.token_hex(24)
            for service in ("referral", "dispositifs", "notifications")
        }
        passwords["REFERRAL_KAFKA_PROVISIONING_PASSWORD"] = secrets.token_hex(24)
        yield Broker(local.bootstrap_servers, kafka.admin.password, passwords)
    finally:
        await local.astop()


def _kafka_access(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shared.messaging.ops_cli", "kafka-access"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def _can_connect(options: dict[str, object]) -> bool:
    admin = AIOKafkaAdminClient(request_timeout_ms=5000, **options)  # type: ignore[arg-type]
    try:
        await admin.start()
        await admin.list_topics()
    except KafkaError:
        return False
    finally:
        await admin.close()
    return True


async def _produce(options: dict[str, object], topic: str, value: bytes) -> None:
    producer = AIOKafkaProducer(
        enable_idempotence=True,
        acks="all",
        request_timeout_ms=10_000,
        **options,  # type: ignore[arg-type]
    )
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=b"k")
    finally:
        await producer.stop()


async def _consume(options: dict[str, object], topic: str, group: str) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        topic,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **options,  # type: ignore[arg-type]
    )
    values: list[bytes] = []
    try:
        await consumer.start()
        async with asyncio.timeout(30):
            while not values:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    values += [record.value for record in records]
    finally:
        await consumer.stop()
    return values


async def test_without_the_passwords_it_refuses_and_creates_nobody(broker: Broker) -> None:
    env = broker.command_env()
    del env["DISPOSITIFS_KAFKA_SASL_PASSWORD"]
    result = await asyncio.to_thread(_kafka_access, env)
    assert result.returncode == 2, result.stderr
    assert "DISPOSITIFS_KAFKA_SASL_PASSWORD" in result.stderr
    assert not await _can_connect(broker.options("referral"))


async def test_it_creates_the_users_and_acls_and_a_rerun_is_harmless(broker: Broker) -> None:
    # Before: the broker knows the admin only.
    assert await _can_connect(broker.options(ADMIN_USER))
    for user in ("referral", "dispositifs", "notifications", PROVISIONER_USER):
        assert not await _can_connect(broker.options(user)), user

    result = await asyncio.to_thread(_kafka_access, broker.command_env())
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["users"] == [PROVISIONER_USER, "referral", "dispositifs", "notifications"]
    assert summary["mechanism"] == MECHANISM
    assert summary["acls"] > 0
    for secret in [broker.admin_password, *broker.passwords.values()]:
        assert secret not in result.stdout + result.stderr

    # Each service as its own principal: referral creates and writes its events topic,
    # dispositifs creates and reads it (its consumer groups are dispositifs.*).
    await ensure_topics(broker.settings("referral"), [REFERRAL_EVENTS])
    await _produce(broker.options("referral"), REFERRAL_EVENTS.name, b"first")
    assert await _consume(
        broker.options("dispositifs"), REFERRAL_EVENTS.name, "dispositifs.kafka-access-test"
    ) == [b"first"]

    # Refused elsewhere: referral may not write dispositifs' topic, dispositifs may not read
    # with another service's group, notifications may not create dispositifs' topic.
    await ensure_topics(broker.settings("dispositifs"), [DISPOSITIFS_EVENTS])
    with pytest.raises(TopicAuthorizationFailedError):
        await _produce(broker.options("referral"), DISPOSITIFS_EVENTS.name, b"forged")
    with pytest.raises(GroupAuthorizationFailedError):
        await _consume(broker.options("dispositifs"), REFERRAL_EVENTS.name, "notifications.x")
    with pytest.raises(TopicAuthorizationFailedError):
        await _produce(broker.options("notifications"), "not-a-platform-topic", b"x")

    # The provisioner may create users (ALTER on the cluster); a service may not.
    provisioner = AIOKafkaAdminClient(**broker.options(PROVISIONER_USER))  # type: ignore[arg-type]
    await provisioner.start()
    try:
        await upsert_scram_user(provisioner, "agency-kafka-access-test", secrets.token_hex(16))
    finally:
        await provisioner.close()
    service = AIOKafkaAdminClient(**broker.options("notifications"))  # type: ignore[arg-type]
    await service.start()
    try:
        with pytest.raises(KafkaSecurityError, match="ClusterAuthorizationFailed"):
            await upsert_scram_user(service, "agency-forged", secrets.token_hex(16))
    finally:
        await service.close()

    # Again, as after a restart of `docker compose up`: same answer, everything still works.
    again = await asyncio.to_thread(_kafka_access, broker.command_env())
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout) == summary
    await _produce(broker.options("referral"), REFERRAL_EVENTS.name, b"second")
    assert await _consume(
        broker.options("dispositifs"), REFERRAL_EVENTS.name, "dispositifs.kafka-access-rerun"
    ) == [b"first", b"second"]
    assert not await _can_connect(broker.options("referral", "not-the-password"))


async def test_a_password_change_is_applied_by_a_rerun(broker: Broker) -> None:
    """Rotating a service's password: a new env file, the command again."""
    old = broker.password_of("notifications")
    new = secrets.token_hex(24)
    result = await asyncio.to_thread(
        _kafka_access, broker.command_env(NOTIFICATIONS_KAFKA_SASL_PASSWORD=new)
    )
    assert result.returncode == 0, result.stderr
    assert await _can_connect(broker.options("notifications", new))
    assert not await _can_connect(broker.options("notifications", old))
    broker.passwords["NOTIFICATIONS_KAFKA_SASL_PASSWORD"] = new

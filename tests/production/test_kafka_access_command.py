"""``coop-ops kafka-access`` (what docker-compose.yml's ``kafka-access`` step runs) against the real
broker with SASL/SCRAM-SHA-512 and the StandardAuthorizer, as compose runs it (SASL_PLAINTEXT, only
the admin's credential in the storage): it creates the services' and the provisioner's SCRAM users
and ACLs; each service then uses its own topics and is refused on the others; running it again
changes nothing (issue 15).

The last test runs docker-compose.yml's broker itself without Docker: its ``KAFKA_*`` environment,
``deploy/docker/kafka-start.sh`` and the image's own configuration step (``KafkaDockerWrapper``,
from the same Kafka 4.1.1 jars as the image), with make-secrets.sh's env files; then compose's
healthcheck, kafka-access and the services' settings against it, and a restart on the same data.
What it cannot show is Docker itself (the image's scripts around the wrapper, networking, mounts).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shlex
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import GroupAuthorizationFailedError, KafkaError, TopicAuthorizationFailedError

from devstack.secure import ADMIN_USER, SecureKafka
from dispositifs.settings import DispositifsSettings
from localkafka import free_port
from localkafka.broker import ensure_jars
from referral.settings import ReferralSettings
from shared.contracts.topics import DISPOSITIFS_EVENTS, REFERRAL_EVENTS
from shared.messaging.kafka import connection_options, make_producer
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
    kafka: SecureKafka
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
        yield Broker(local.bootstrap_servers, kafka.admin.password, kafka, passwords)
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


async def test_make_up_secure_provisions_through_the_same_function(broker: Broker) -> None:
    """``make up SECURE=1`` (devstack's SecureKafka.provision) gives the users its own generated
    passwords through grant_platform_access: its services then connect with them."""
    referral = broker.kafka.users["referral"].password
    assert not await _can_connect(broker.options("referral", referral))
    await broker.kafka.provision(broker.bootstrap)
    for user in ("referral", "dispositifs", "notifications", PROVISIONER_USER):
        assert await _can_connect(broker.options(user, broker.kafka.users[user].password)), user
    env = broker.kafka.service_env("notifications")
    assert env["KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"
    options = broker.options(env["KAFKA_SASL_USERNAME"], env["KAFKA_SASL_PASSWORD"])
    with pytest.raises(TopicAuthorizationFailedError):
        await _produce(options, REFERRAL_EVENTS.name, b"not notifications' topic")
    # The command's passwords are replaced: one implementation, last writer wins.
    assert not await _can_connect(broker.options("referral"))


# -- docker-compose.yml's broker, outside Docker -------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
#: The ports of docker-compose.yml's listeners, moved to free ones here.
COMPOSE_PORTS = {"INTERNAL": 19092, "CONTROLLER": 29093, "EXTERNAL": 29092}


def _compose_environment(service: str) -> dict[str, str]:
    spec = yaml.safe_load(COMPOSE.read_text())["services"][service]
    return {key: str(value) for key, value in (spec.get("environment") or {}).items()}


def _env_file(directory: Path, name: str) -> dict[str, str]:
    lines = (directory / name).read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def _moved(value: str, ports: Mapping[int, int]) -> str:
    """A compose address on this machine: host ``kafka`` and every listener on 127.0.0.1."""
    for old, new in ports.items():
        value = value.replace(f"kafka:{old}", f"127.0.0.1:{new}")
        value = value.replace(f"://:{old}", f"://127.0.0.1:{new}")
        value = value.replace(f"127.0.0.1:{old}", f"127.0.0.1:{new}")
    return value


@dataclass
class ComposeBroker:
    work: Path
    secrets: Path
    env: dict[str, str]
    internal: str
    healthcheck: list[str]
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        # The child keeps its own copy of the log's descriptor.
        with (self.work / "broker.log").open("ab") as log:
            self.process = subprocess.Popen(
                ["bash", str(ROOT / "deploy" / "docker" / "kafka-start.sh")],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def log_tail(self) -> str:
        return (self.work / "broker.log").read_text(errors="replace")[-3000:]

    def admin_options(self) -> dict[str, object]:
        return connection_options(
            self.internal,
            security_protocol="SASL_PLAINTEXT",
            sasl_mechanism=MECHANISM,
            sasl_username=self.env["COOP_KAFKA_ADMIN_USER"],
            sasl_password=_env_file(self.secrets, "broker.env")["COOP_KAFKA_ADMIN_PASSWORD"],
        )

    async def wait_ready(self, timeout: float = 180) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                pytest.fail(f"the compose broker stopped:\n{self.log_tail()}")
            if await _can_connect(self.admin_options()):
                return
            await asyncio.sleep(1)
        pytest.fail(f"the compose broker is not up after {timeout}s:\n{self.log_tail()}")


def _image_like_home(work: Path, lib: Path) -> tuple[Path, Path]:
    """The apache/kafka image's paths that kafka-start.sh and the healthcheck use, on the same
    jars: ``bin/kafka-storage.sh``, ``bin/kafka-broker-api-versions.sh`` and the image's ``run``
    (its KafkaDockerWrapper configuration and formatting step, then the broker)."""
    home, configs = work / "opt-kafka", work / "configs"
    (home / "bin").mkdir(parents=True)
    for name in ("defaults", "mounted", "final"):
        (configs / name).mkdir(parents=True)
    classpath = shlex.quote(f"{lib}/*")
    tools = {
        "kafka-storage.sh": "kafka.tools.StorageTool",
        "kafka-broker-api-versions.sh": "org.apache.kafka.tools.BrokerApiVersionsCommand",
    }
    for name, main in tools.items():
        script = home / "bin" / name
        script.write_text(f'#!/usr/bin/env bash\nexec java -Xmx256m -cp {classpath} {main} "$@"\n')
        script.chmod(0o755)
    run = work / "run"
    final = configs / "final"
    run.write_text(
        "#!/usr/bin/env bash\n"
        "# As the image's launch: configuration from KAFKA_*, format unless already formatted.\n"
        f"if ! out=$(java -Xmx256m -cp {classpath} kafka.docker.KafkaDockerWrapper setup"
        f" --default-configs-dir {configs / 'defaults'} --mounted-configs-dir"
        f" {configs / 'mounted'} --final-configs-dir {final} 2>&1); then\n"
        '  echo "$out" | grep -iq "already formatted" || { echo "$out"; exit 1; }\n'
        "fi\n"
        f"exec java -Xmx512m -cp {classpath} kafka.Kafka {final / 'server.properties'}\n"
    )
    run.chmod(0o755)
    return home, run


@pytest.fixture
def compose_broker(tmp_path: Path) -> Iterator[ComposeBroker]:
    lib = ensure_jars()
    secrets_dir = tmp_path / "compose"
    subprocess.run(
        ["bash", str(ROOT / "deploy" / "docker" / "make-secrets.sh")],
        env={**os.environ, "COOP_COMPOSE_SECRETS_DIR": str(secrets_dir)},
        check=True,
        capture_output=True,
        timeout=60,
    )
    ports = {port: free_port() for port in COMPOSE_PORTS.values()}
    home, run = _image_like_home(tmp_path, lib)
    compose_env = _compose_environment("kafka")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("KAFKA_", "COOP_", "CLUSTER_ID"))
    }
    env |= {key: _moved(value, ports) for key, value in compose_env.items()}
    env |= _env_file(secrets_dir, "broker.env")
    data = tmp_path / "data"
    env |= {
        "KAFKA_LOG_DIRS": str(data),
        "COOP_KAFKA_HOME": str(home),
        "COOP_KAFKA_RUN": str(run),
        "COOP_KAFKA_ADMIN_CLIENT_CONFIG": str(tmp_path / "admin-client.properties"),
    }
    spec = yaml.safe_load(COMPOSE.read_text())["services"]["kafka"]
    test = spec["healthcheck"]["test"]
    healthcheck = (
        _moved(" ".join(test[1:]), ports)
        .replace("/opt/kafka/", f"{home}/")
        .replace("/tmp/coop-admin-client.properties", env["COOP_KAFKA_ADMIN_CLIENT_CONFIG"])
    )
    broker = ComposeBroker(
        tmp_path,
        secrets_dir,
        env,
        f"127.0.0.1:{ports[COMPOSE_PORTS['INTERNAL']]}",
        ["bash", "-c", healthcheck],
    )
    try:
        yield broker
    finally:
        broker.stop()


def _service_settings(
    settings_class: Any, app: str, broker: ComposeBroker, monkeypatch: pytest.MonkeyPatch
) -> Any:
    """The service's settings as its compose container builds them, the broker's address moved."""
    prefix = app.upper() + "_"
    for key in list(os.environ):
        if key.startswith(prefix):
            monkeypatch.delenv(key)
    env = _compose_environment(app) | _env_file(broker.secrets, f"{app}.env")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv(prefix + "KAFKA_BOOTSTRAP_SERVERS", broker.internal)
    return settings_class()


async def test_the_compose_broker_runs_with_authentication_on(
    compose_broker: ComposeBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    broker = compose_broker
    broker.start()
    await broker.wait_ready()
    # Compose's healthcheck, as written (paths moved): healthy once the admin authenticates.
    health = await asyncio.to_thread(
        subprocess.run, broker.healthcheck, capture_output=True, timeout=120, check=False
    )
    assert health.returncode == 0, health.stderr
    # No unauthenticated client on the listener the containers use.
    assert not await _can_connect({"bootstrap_servers": broker.internal})

    # kafka-access with compose's environment and its env file.
    access_env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("KAFKA_", "REFERRAL_", "DISPOSITIFS_", "NOTIFICATIONS_"))
    }
    access_env |= _compose_environment("kafka-access")
    access_env |= _env_file(broker.secrets, "kafka-access.env")
    access_env["KAFKA_BOOTSTRAP_SERVERS"] = broker.internal
    result = await asyncio.to_thread(_kafka_access, access_env)
    assert result.returncode == 0, result.stderr

    # The services, with their compose settings and env files.
    with monkeypatch.context() as patch:
        referral = _service_settings(ReferralSettings, "referral", broker, patch)
    with monkeypatch.context() as patch:
        dispositifs = _service_settings(DispositifsSettings, "dispositifs", broker, patch)
    await ensure_topics(referral, [REFERRAL_EVENTS])
    await ensure_topics(dispositifs, [DISPOSITIFS_EVENTS])
    producer = make_producer(referral, client_id="compose-referral")
    await producer.start()
    try:
        await producer.send_and_wait(REFERRAL_EVENTS.name, b"from-compose", key=b"k")
        with pytest.raises(TopicAuthorizationFailedError):
            await producer.send_and_wait(DISPOSITIFS_EVENTS.name, b"forged", key=b"k")
    finally:
        await producer.stop()
    dispositifs_options = connection_options(
        dispositifs.kafka_bootstrap_servers,
        security_protocol=dispositifs.kafka_security_protocol,
        sasl_mechanism=dispositifs.kafka_sasl_mechanism,
        sasl_username=dispositifs.kafka_sasl_username,
        sasl_password=dispositifs.kafka_sasl_password.get_secret_value(),
    )
    assert await _consume(dispositifs_options, REFERRAL_EVENTS.name, "dispositifs.compose") == [
        b"from-compose"
    ]

    # `docker compose restart kafka`: kafka-start.sh again on the same volume; the storage is
    # kept (not formatted again), the admin, the users, their ACLs and the events with it.
    broker.stop()
    broker.start()
    await broker.wait_ready()
    assert await _consume(dispositifs_options, REFERRAL_EVENTS.name, "dispositifs.restart") == [
        b"from-compose"
    ]
    again = await asyncio.to_thread(_kafka_access, access_env)
    assert again.returncode == 0, again.stderr

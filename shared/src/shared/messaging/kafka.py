"""Kafka client construction from settings: one place decides the producer's guarantees and how
every client authenticates (SASL/SCRAM) and verifies the brokers (TLS)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.helpers import create_ssl_context

from shared.settings import ServiceSettings

#: Security protocols that wrap the connection in TLS.
TLS_PROTOCOLS = frozenset({"SSL", "SASL_SSL"})


def connection_options(
    bootstrap_servers: str,
    *,
    security_protocol: str = "PLAINTEXT",
    sasl_mechanism: str | None = None,
    sasl_username: str | None = None,
    sasl_password: str | None = None,
    ssl_cafile: str | None = None,
    ssl_check_hostname: bool = True,
) -> dict[str, Any]:
    """aiokafka keyword arguments for one connection: producers, consumers and admin clients."""
    options: dict[str, Any] = {
        "bootstrap_servers": bootstrap_servers,
        "security_protocol": security_protocol,
    }
    if sasl_mechanism:
        options["sasl_mechanism"] = sasl_mechanism
        options["sasl_plain_username"] = sasl_username
        options["sasl_plain_password"] = sasl_password
    if security_protocol in TLS_PROTOCOLS:
        # No cafile: the system's trust store (a broker with a public certificate).
        context = create_ssl_context(cafile=ssl_cafile)
        context.check_hostname = ssl_check_hostname
        options["ssl_context"] = context
    return options


def client_options(settings: ServiceSettings) -> dict[str, Any]:
    """Connection options common to producers, consumers and admin clients of a service."""
    return connection_options(
        settings.kafka_bootstrap_servers,
        security_protocol=settings.kafka_security_protocol,
        sasl_mechanism=settings.kafka_sasl_mechanism,
        sasl_username=settings.kafka_sasl_username,
        sasl_password=(
            settings.kafka_sasl_password.get_secret_value()
            if settings.kafka_sasl_password
            else None
        ),
        ssl_cafile=settings.kafka_ssl_cafile,
        ssl_check_hostname=settings.kafka_ssl_check_hostname,
    )


def provisioning_options(settings: ServiceSettings) -> dict[str, Any] | None:
    """The provisioning principal's connection (same broker, same TLS), None when not set."""
    if not settings.kafka_provisioning_username or not settings.kafka_provisioning_password:
        return None
    return connection_options(
        settings.kafka_bootstrap_servers,
        security_protocol=settings.kafka_security_protocol,
        sasl_mechanism=settings.kafka_sasl_mechanism,
        sasl_username=settings.kafka_provisioning_username,
        sasl_password=settings.kafka_provisioning_password.get_secret_value(),
        ssl_cafile=settings.kafka_ssl_cafile,
        ssl_check_hostname=settings.kafka_ssl_check_hostname,
    )


def environment_options(
    environ: Mapping[str, str] | None = None, *, prefix: str = "KAFKA_"
) -> dict[str, Any]:
    """Connection options of an operator tool (``coop-dlq``, ``coop-ops``) from ``KAFKA_*``:
    ``BOOTSTRAP_SERVERS``, ``SECURITY_PROTOCOL``, ``SASL_MECHANISM``, ``SASL_USERNAME``,
    ``SASL_PASSWORD``, ``SSL_CAFILE`` — the same names as a service's, without its prefix."""
    env = os.environ if environ is None else environ
    return connection_options(
        env.get(prefix + "BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
        security_protocol=env.get(prefix + "SECURITY_PROTOCOL", "PLAINTEXT"),
        sasl_mechanism=env.get(prefix + "SASL_MECHANISM") or None,
        sasl_username=env.get(prefix + "SASL_USERNAME") or None,
        sasl_password=env.get(prefix + "SASL_PASSWORD") or None,
        ssl_cafile=env.get(prefix + "SSL_CAFILE") or None,
        ssl_check_hostname=env.get(prefix + "SSL_CHECK_HOSTNAME", "true").lower() != "false",
    )


#: How every producer of the platform sends — and the bench's bare baselines (``bench/``), so that
#: a comparison measures code, not client settings. Idempotent and acknowledged by every in-sync
#: replica (no duplicates from its own retries, no loss once acknowledged, order kept per
#: partition). No linger: a record leaves at once instead of waiting 5 ms for companions. The
#: relay loses no batching by it: it hands a whole batch to the client before yielding, so the
#: client finds them all queued when it sends.
PRODUCER_OPTIONS: dict[str, Any] = {"enable_idempotence": True, "acks": "all", "linger_ms": 0}

#: How every consumer of the platform fetches — and the bench's bare consumer. The broker answers
#: a fetch as soon as one byte is there (``fetch_min_bytes``): ``fetch_max_wait_ms`` only bounds
#: an idle fetch, it adds no latency to a record that arrives.
CONSUMER_FETCH_OPTIONS: dict[str, Any] = {
    "max_poll_records": 100,
    "fetch_min_bytes": 1,
    "fetch_max_wait_ms": 500,
}


def make_producer(settings: ServiceSettings, *, client_id: str) -> AIOKafkaProducer:
    """A producer with :data:`PRODUCER_OPTIONS` and the service's connection."""
    return AIOKafkaProducer(
        **client_options(settings),
        **PRODUCER_OPTIONS,
        client_id=client_id,
        request_timeout_ms=15_000,
        retry_backoff_ms=200,
    )

"""Kafka client construction from settings: one place decides the producer's guarantees."""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaProducer

from shared.settings import ServiceSettings


def client_options(settings: ServiceSettings) -> dict[str, Any]:
    """Connection options common to producers, consumers and admin clients."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_sasl_mechanism:
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        options["sasl_plain_password"] = (
            settings.kafka_sasl_password.get_secret_value()
            if settings.kafka_sasl_password
            else None
        )
    return options


def make_producer(settings: ServiceSettings, *, client_id: str) -> AIOKafkaProducer:
    """An idempotent producer that waits for all in-sync replicas: no duplicates from its own
    retries, no loss once acknowledged, order kept per partition."""
    return AIOKafkaProducer(
        **client_options(settings),
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        request_timeout_ms=15_000,
        retry_backoff_ms=200,
        linger_ms=5,
    )

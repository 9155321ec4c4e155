"""Steps of the referral journey tests, as a counsellor, an agency ERP, the dispositifs service
or ops would take them (builds on ``steps.py``)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

import referral
from devstack.services import ServiceProcess, run_cli, service_env
from localkafka import free_port
from shared.contracts.base import EventData
from shared.envelope import CloudEvent
from shared.testing import migrated_database

from .steps import eventually


@asynccontextmanager
async def referral_alone(
    bootstrap_servers: str, work: Path, extra: dict[str, str]
) -> AsyncIterator[ServiceProcess]:
    """The referral service alone as a real process: a fresh migrated store in ``work``, the demo
    directory seeded, JSON logs, ``extra`` settings (unprefixed, e.g. ``EXPIRY_AFTER_SECONDS``)."""
    url = await migrated_database("referral", Path(referral.__file__).parent / "migrations", work)
    env = service_env(
        "referral",
        database_url=url,
        bootstrap_servers=bootstrap_servers,
        extra={"LOG_JSON": "true", **extra},
    )
    await asyncio.to_thread(run_cli, "referral", "seed", env)
    process = ServiceProcess("referral", free_port(), env, work / "referral.log")
    process.start()
    try:
        await asyncio.to_thread(process.wait_ready, 90)
        yield process
    finally:
        process.stop()


async def referral_detail(
    client: httpx.AsyncClient, base_url: str, headers: dict[str, str], referral_id: str
) -> dict[str, Any]:
    response = await client.get(f"{base_url}/v1/referrals/{referral_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def wait_for_status(
    client: httpx.AsyncClient,
    base_url: str,
    headers: dict[str, str],
    referral_id: str,
    status: str,
    *,
    timeout: float = 20,
) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        detail = await referral_detail(client, base_url, headers, referral_id)
        return detail if detail["status"] == status else None

    return await eventually(probe, timeout=timeout)


async def indicators(
    client: httpx.AsyncClient, base_url: str, headers: dict[str, str], **params: str
) -> dict[str, Any]:
    response = await client.get(f"{base_url}/v1/indicators", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["total"]  # type: ignore[no-any-return]


async def publish_event(bootstrap: str, data: EventData, *, source: str) -> CloudEvent:
    """Put an event on its contract's topic, keyed by its aggregate id (as its producer would)."""
    event = CloudEvent(type=data.event_type, source=source, data=data.model_dump(mode="json"))
    value, headers = event.to_kafka()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            data.topic, value=value, key=data.key.encode(), headers=headers
        )
    finally:
        await producer.stop()
    return event


async def records_about(
    bootstrap: str, topic: str, key: str, *, count: int, timeout: float = 30
) -> list[Any]:
    """The first ``count`` records of ``topic`` with this key (read from the beginning)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=f"e2e-{uuid.uuid4().hex[:8]}",
    )
    await consumer.start()
    found: list[Any] = []
    try:
        async with asyncio.timeout(timeout):
            while len(found) < count:
                for batch in (await consumer.getmany(timeout_ms=500)).values():
                    found.extend(r for r in batch if r.key == key.encode())
    finally:
        await consumer.stop()
    return found


def header(record: Any, name: str) -> str:
    return dict(record.headers)[name].decode()  # type: ignore[no-any-return]

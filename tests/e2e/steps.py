"""Steps the end-to-end tests take, as a counsellor, an agency ERP or ops would."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
from aiokafka import AIOKafkaProducer

from shared.contracts.agency import AgencyResponse
from shared.contracts.topics import agency_responses
from shared.envelope import CloudEvent

T = TypeVar("T")


async def send_referral(
    client: httpx.AsyncClient,
    base_url: str,
    headers: dict[str, str],
    *,
    ft_identifier: str = "1234567A",
    agency_id: str = "agc-interim-nord-lille",
    rome_code: str = "H2913",
) -> dict[str, Any]:
    response = await client.post(
        f"{base_url}/v1/referrals",
        json={
            "job_seeker": {
                "ft_identifier": ft_identifier,
                "first_name": "Camille",
                "last_name": "Martin",
            },
            "agency_id": agency_id,
            "rome_code": rome_code,
            "message": "Candidate motivée, disponible immédiatement.",
        },
        headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def eventually(
    probe: Callable[[], Awaitable[T | None]], *, timeout: float, interval: float = 0.1
) -> T:
    """The first truthy value of ``probe`` within ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while True:
            value = await probe()
            if value:
                return value
            await asyncio.sleep(interval)


async def agency_answers(
    bootstrap: str, response: AgencyResponse, *, source: str, network: str = "interim-nord"
) -> CloudEvent:
    """What an agency ERP does: put a CloudEvent on its network's response topic, keyed by the
    referral (the seeded agencies used by the tests belong to ``interim-nord``)."""
    event = CloudEvent(
        type=response.event_type,
        source=source,
        subject=f"referrals/{response.referral_id}",
        data=response.model_dump(mode="json"),
    )
    value, headers = event.to_kafka()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            agency_responses(network).name,
            value=value,
            key=str(response.referral_id).encode(),
            headers=headers,
        )
    finally:
        await producer.stop()
    return event


def now() -> datetime:
    return datetime.now(UTC)

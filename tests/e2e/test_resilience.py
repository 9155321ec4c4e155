"""What must survive: a service killed mid-stream, and the broker going away for 20 seconds."""

from __future__ import annotations

import asyncio
import os

import httpx
import pytest

from .conftest import Stack
from .steps import eventually, send_referral

pytestmark = pytest.mark.e2e


async def _notified(
    client: httpx.AsyncClient, stack: Stack, ops_headers: dict[str, str], referral_ids: set[str]
) -> dict[str, int]:
    """How many notifications each of ``referral_ids`` produced (pages through all of them)."""
    counts = dict.fromkeys(referral_ids, 0)
    cursor = None
    while True:
        params: dict[str, object] = {"limit": 500}
        if cursor:
            params["cursor"] = cursor
        response = await client.get(
            f"{stack.url('notifications')}/v1/notifications", params=params, headers=ops_headers
        )
        page = response.json()
        for item in page["items"]:
            if item["referral_id"] in counts:
                counts[item["referral_id"]] += 1
        cursor = page["next_cursor"]
        if cursor is None:
            return counts


async def test_notifications_killed_mid_stream_loses_nothing_and_applies_nothing_twice(
    stack: Stack, counsellor_headers: dict[str, str], ops_headers: dict[str, str]
) -> None:
    total = 40
    ids: set[str] = set()
    notifications = stack.processes["notifications"]
    async with httpx.AsyncClient(timeout=10) as client:
        for i in range(total // 2):
            ids.add(
                (
                    await send_referral(
                        client,
                        stack.url("referral"),
                        counsellor_headers,
                        ft_identifier=f"{3000000 + i}K",
                    )
                )["id"]
            )

        async def some_notified() -> bool:
            counts = await _notified(client, stack, ops_headers, ids)
            return any(counts.values())

        await eventually(some_notified, timeout=10)
        notifications.kill()  # SIGKILL: no graceful shutdown, offsets possibly uncommitted
        for i in range(total // 2, total):
            ids.add(
                (
                    await send_referral(
                        client,
                        stack.url("referral"),
                        counsellor_headers,
                        ft_identifier=f"{3000000 + i}K",
                    )
                )["id"]
            )
        notifications.start()
        await asyncio.to_thread(notifications.wait_ready, 90)

        async def all_notified() -> dict[str, int] | None:
            counts = await _notified(client, stack, ops_headers, ids)
            return counts if all(counts.values()) else None

        counts = await eventually(all_notified, timeout=60, interval=0.5)
        await asyncio.sleep(3)  # let any redelivery land before asserting "once"
        counts = await _notified(client, stack, ops_headers, ids)
    assert len(counts) == total
    assert set(counts.values()) == {1}, {k: v for k, v in counts.items() if v != 1}


async def test_referrals_accepted_during_a_broker_outage_flow_once_it_is_back(
    stack: Stack,
    kafka_broker,
    counsellor_headers: dict[str, str],
    ops_headers: dict[str, str],  # type: ignore[no-untyped-def]
) -> None:
    outage = float(os.environ.get("COOP_TEST_OUTAGE_SECONDS", "20"))
    ids: set[str] = set()
    async with httpx.AsyncClient(timeout=10) as client:
        await kafka_broker.astop()
        try:
            loop = asyncio.get_running_loop()
            down_since = loop.time()
            i = 0
            while loop.time() - down_since < outage:
                referral = await send_referral(
                    client,
                    stack.url("referral"),
                    counsellor_headers,
                    ft_identifier=f"{4000000 + i}Z",
                )
                ids.add(referral["id"])
                i += 1
                await asyncio.sleep(2)
            ready = await client.get(f"{stack.url('referral')}/health/ready")
            assert ready.status_code == 503
            assert ready.json()["checks"]["broker"]["ok"] is False
        finally:
            await kafka_broker.astart()
        assert len(ids) >= 5

        async def all_notified() -> dict[str, int] | None:
            counts = await _notified(client, stack, ops_headers, ids)
            return counts if all(counts.values()) else None

        counts = await eventually(all_notified, timeout=90, interval=0.5)
    assert set(counts.values()) == {1}
    await asyncio.to_thread(stack.wait_ready, 60)

"""The first slice of the journey, through the real services and broker:
counsellor → referral.sent → notification + dispositifs record; agency accepts over Kafka →
the referral's status and timeline change."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest

from localkafka.broker import ensure_jars
from shared.contracts.agency import ReferralAccepted, ReferralAcknowledged

from .conftest import Stack
from .steps import agency_answers, eventually, now, send_referral

pytestmark = pytest.mark.e2e


async def test_referral_reaches_notifications_and_dispositifs_within_five_seconds(
    stack: Stack, counsellor_headers: dict[str, str], ops_headers: dict[str, str]
) -> None:
    async with httpx.AsyncClient() as client:
        started = time.monotonic()
        referral = await send_referral(client, stack.url("referral"), counsellor_headers)

        async def notification() -> list[dict[str, object]]:
            response = await client.get(
                f"{stack.url('notifications')}/v1/notifications",
                params={"referral_id": referral["id"]},
                headers=ops_headers,
            )
            return response.json()["items"]  # type: ignore[no-any-return]

        items = await eventually(notification, timeout=5)
        elapsed = time.monotonic() - started
        assert len(items) == 1
        assert items[0]["recipient_id"] == "agc-interim-nord-lille"
        assert items[0]["event_type"] == "coop.referral.sent.v1"
        print(f"referral → notification: {elapsed:.2f}s")

        async def known() -> dict[str, object] | None:
            response = await client.get(
                f"{stack.url('dispositifs')}/v1/referrals/{referral['id']}",
                headers=counsellor_headers,
            )
            return response.json() if response.status_code == 200 else None

        record = await eventually(known, timeout=5)
        assert record["agency_id"] == "agc-interim-nord-lille"
        assert record["rome_code"] == "H2913"


async def test_agency_acceptance_over_kafka_updates_the_referral(
    stack: Stack, counsellor_headers: dict[str, str]
) -> None:
    async with httpx.AsyncClient() as client:
        referral = await send_referral(
            client, stack.url("referral"), counsellor_headers, ft_identifier="7654321B"
        )
        referral_id = uuid.UUID(referral["id"])
        source = "/agencies/interim-nord"
        await agency_answers(
            stack.bootstrap_servers,
            ReferralAcknowledged(
                referral_id=referral_id, agency_id="agc-interim-nord-lille", occurred_at=now()
            ),
            source=source,
        )
        await agency_answers(
            stack.bootstrap_servers,
            ReferralAccepted(
                referral_id=referral_id,
                agency_id="agc-interim-nord-lille",
                occurred_at=now(),
                comment="Entretien concluant, mission dès lundi.",
            ),
            source=source,
        )

        async def accepted() -> dict[str, object] | None:
            response = await client.get(
                f"{stack.url('referral')}/v1/referrals/{referral_id}", headers=counsellor_headers
            )
            body = response.json()
            return body if body["status"] == "accepted" else None

        detail = await eventually(accepted, timeout=15)
        assert [step["to_status"] for step in detail["timeline"]] == [
            "sent",
            "acknowledged",
            "accepted",
        ]
        assert detail["timeline"][-1]["actor"] == "agency"
        assert detail["timeline"][-1]["comment"] == "Entretien concluant, mission dès lundi."


async def test_a_plain_kafka_console_consumer_shows_the_cloudevents_headers(
    stack: Stack, counsellor_headers: dict[str, str]
) -> None:
    async with httpx.AsyncClient() as client:
        referral = await send_referral(
            client, stack.url("referral"), counsellor_headers, ft_identifier="1111111C"
        )
    lib = await asyncio.to_thread(ensure_jars)
    process = await asyncio.create_subprocess_exec(
        "java",
        "-cp",
        f"{lib}/*",
        "org.apache.kafka.tools.consumer.ConsoleConsumer",
        "--bootstrap-server",
        stack.bootstrap_servers,
        "--topic",
        "referral.events",
        "--from-beginning",
        "--timeout-ms",
        "15000",
        "--property",
        "print.headers=true",
        "--property",
        "print.key=true",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    lines = [line for line in stdout.decode().splitlines() if referral["id"] in line]
    assert lines, (stdout + stderr).decode()[-3000:]
    line = lines[0]
    assert "ce_specversion:1.0" in line
    assert "ce_type:coop.referral.sent.v1" in line
    assert "ce_source:/coop/referral" in line
    assert "content-type:application/json" in line
    assert f"ce_subject:referrals/{referral['id']}" in line

"""Agency ERP integration over Kafka (issue 6), through the real services and broker: the reference
client plays an agency, a forged answer from another network is refused, and a non-Python client
(Kafka's own Java console producer) speaks the published contract."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from localkafka.broker import ensure_jars
from shared.contracts.agency import ReferralAccepted
from shared.contracts.topics import agency_responses
from shared.testing_kafka import read_topic

from .conftest import Stack
from .steps import agency_answers, eventually, now, send_referral

pytestmark = pytest.mark.e2e
AGENCY = "agc-interim-nord-lille"


async def _status(client: httpx.AsyncClient, stack: Stack, referral_id: str, headers: dict) -> str:
    response = await client.get(
        f"{stack.url('referral')}/v1/referrals/{referral_id}", headers=headers
    )
    return response.json()["status"]  # type: ignore[no-any-return]


async def test_reference_client_receives_the_referral_on_its_feed_and_answers_it(
    stack: Stack, counsellor_headers: dict[str, str], tmp_path: Path
) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        referral = await send_referral(
            client, stack.url("referral"), counsellor_headers, ft_identifier="5500001A"
        )
        scenario = tmp_path / "scenario.yaml"
        scenario.write_text(
            f"- wait_for_referral: {{timeout: 60, referral_id: '{referral['id']}'}}\n"
            "- answer: acknowledge\n"
            "- answer: accept\n"
            "  with: {comment: Démarrage lundi, expected_start_date: '2026-12-07'}\n"
        )
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "agency_client",
            "--bootstrap",
            stack.bootstrap_servers,
            "--network",
            "interim-nord",
            "--group",
            f"agency.interim-nord.erp-{uuid.uuid4().hex[:6]}",
            "scenario",
            str(scenario),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
        assert process.returncode == 0, stderr.decode()[-2000:]
        assert referral["id"] in stdout.decode()
        # No consent was recorded: the agency saw the referral, not the job seeker's identity.
        assert "identité non partagée" in stdout.decode()

        async def accepted() -> bool:
            return await _status(client, stack, referral["id"], counsellor_headers) == "accepted"

        await eventually(accepted, timeout=20)


async def test_forged_answer_from_another_network_is_dead_lettered_audited_and_counted(
    stack: Stack, counsellor_headers: dict[str, str], ops_headers: dict[str, str]
) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        referral = await send_referral(
            client, stack.url("referral"), counsellor_headers, ft_identifier="5500002A"
        )
        # travail-plus answers on its own topic about interim-nord's referral, naming
        # interim-nord's agency: the referral service must not believe it.
        forged = await agency_answers(
            stack.bootstrap_servers,
            ReferralAccepted(
                referral_id=uuid.UUID(referral["id"]), agency_id=AGENCY, occurred_at=now()
            ),
            source="/agencies/travail-plus",
            network="travail-plus",
        )
        dlq = agency_responses("travail-plus").dead_letter().name
        letters = [
            r
            for r in await read_topic(stack.bootstrap_servers, dlq, 1, timeout=60)
            if dict(r.headers)["ce_id"] == forged.id.encode()
        ]
        assert letters, "the forged answer is not on the dead-letter topic"
        headers = dict(letters[0].headers)
        assert headers["dlq_reason"] == b"rejected"
        assert headers["dlq_error"] == (
            f"L'orientation {referral['id']} n'est pas adressée au réseau travail-plus :"
            " répondez seulement aux orientations reçues sur votre flux.".encode()
        )

        async def audited() -> list[dict[str, object]]:
            response = await client.get(
                f"{stack.url('referral')}/v1/networks/travail-plus/refused-responses",
                headers=ops_headers,
            )
            return [i for i in response.json()["items"] if i["event_id"] == forged.id]

        (entry,) = await eventually(audited, timeout=20)
        assert (entry["kind"], entry["referral_id"], entry["agency_id"]) == (
            "forbidden",
            referral["id"],
            AGENCY,
        )
        metrics = (await client.get(f"{stack.url('referral')}/metrics")).text
        assert (
            'coop_agency_responses_refused_total{kind="forbidden",network="travail-plus"}'
            in metrics
        )
        assert await _status(client, stack, referral["id"], counsellor_headers) == "sent"
        detail = await client.get(
            f"{stack.url('referral')}/v1/referrals/{referral['id']}", headers=counsellor_headers
        )
        assert [s["action"] for s in detail.json()["timeline"]] == ["send"]


async def test_kafka_console_producer_answers_from_the_published_contract_alone(
    stack: Stack, counsellor_headers: dict[str, str]
) -> None:
    """What an integrator in Java does: a JSON value and the documented headers, nothing of
    ours. The record is built from docs/asyncapi.yaml's ReferralAcknowledged message."""
    async with httpx.AsyncClient(timeout=10) as client:
        referral = await send_referral(
            client, stack.url("referral"), counsellor_headers, ft_identifier="5500003A"
        )
        value = json.dumps(
            {
                "referral_id": referral["id"],
                "agency_id": AGENCY,
                # An agency's own clock, with its time zone, close to the broker's.
                "occurred_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "comment": "Bien reçu, nous appelons la candidate.",
            },
            ensure_ascii=False,
        )
        headers = ",".join(
            [
                "ce_specversion:1.0",
                f"ce_id:{uuid.uuid4()}",
                "ce_source:/agencies/interim-nord",
                "ce_type:coop.referral.acknowledged.v1",
                "content-type:application/json",
            ]
        )
        line = f"{headers}\t{referral['id']}\t{value}\n"
        lib = await asyncio.to_thread(ensure_jars)
        process = await asyncio.create_subprocess_exec(
            "java",
            "-Xmx256m",
            "-cp",
            f"{lib}/*",
            "org.apache.kafka.tools.ConsoleProducer",
            "--bootstrap-server",
            stack.bootstrap_servers,
            "--topic",
            agency_responses("interim-nord").name,
            "--property",
            "parse.key=true",
            "--property",
            "parse.headers=true",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, stderr = await asyncio.wait_for(process.communicate(line.encode()), timeout=90)
        assert process.returncode == 0, stderr.decode()[-2000:]

        async def acknowledged() -> bool:
            status = await _status(client, stack, referral["id"], counsellor_headers)
            return status == "acknowledged"

        await eventually(acknowledged, timeout=30)
        detail = await client.get(
            f"{stack.url('referral')}/v1/referrals/{referral['id']}", headers=counsellor_headers
        )
        assert detail.json()["timeline"][-1]["comment"] == "Bien reçu, nous appelons la candidate."

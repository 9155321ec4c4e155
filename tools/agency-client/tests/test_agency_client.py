"""The reference agency client against the real broker: it reads its network's feed and sends
answers that follow the contract."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from shared.contracts.agency_feed import Candidate, ReferralReceived
from shared.contracts.topics import agency_feed, agency_responses
from shared.envelope import CloudEvent
from shared.messaging.provisioning import ensure_topics
from shared.settings import ServiceSettings
from shared.testing_kafka import publish, read_topic


async def _cli(bootstrap: str, network: str, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agency_client",
        "--bootstrap",
        bootstrap,
        "--network",
        network,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=90)
    return process.returncode or 0, stdout.decode(), stderr.decode()


async def _network(bootstrap: str, unique: Callable[[str], str]) -> str:
    network = unique("net")
    settings = ServiceSettings(
        database_url="sqlite+aiosqlite://", kafka_bootstrap_servers=bootstrap
    )
    await ensure_topics(settings, [agency_feed(network), agency_responses(network)])
    return network


async def test_scenario_waits_for_a_referral_and_answers_it(
    kafka_bootstrap: str, unique: Callable[[str], str], tmp_path: Path
) -> None:
    network = await _network(kafka_bootstrap, unique)
    referral_id = uuid.uuid4()
    received = ReferralReceived(
        referral_id=referral_id,
        agency_id="agc-1",
        network_id=network,
        rome_code="H2913",
        message="Profil motivé.",
        identity_shared=True,
        candidate=Candidate(ft_identifier="1234567A", first_name="Camille", last_name="Martin"),
        sent_at=datetime.now(UTC),
    )
    await publish(kafka_bootstrap, agency_feed(network).name, received)
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(
        "- wait_for_referral: {timeout: 60}\n"
        "- answer: acknowledge\n"
        "- answer: decline\n"
        "  with: {reason: lacking_skills, comment: Soudure TIG non maîtrisée}\n"
    )
    code, stdout, stderr = await _cli(kafka_bootstrap, network, "scenario", str(scenario))
    assert code == 0, stderr
    assert "Camille Martin" in stdout

    records = await read_topic(kafka_bootstrap, agency_responses(network).name, 2)
    events = [CloudEvent.from_kafka(r.value, r.headers) for r in records]
    assert [e.type for e in events] == [
        "coop.referral.acknowledged.v1",
        "coop.referral.declined.v1",
    ]
    assert {r.key for r in records} == {str(referral_id).encode()}
    assert events[1].data["reason"] == "lacking_skills"
    assert events[1].data["agency_id"] == "agc-1"
    assert events[1].source == f"/agencies/{network}"


async def test_an_answer_that_breaks_the_contract_is_refused_before_sending(
    kafka_bootstrap: str, unique: Callable[[str], str]
) -> None:
    network = await _network(kafka_bootstrap, unique)
    code, _, stderr = await _cli(
        kafka_bootstrap,
        network,
        "decline",
        "--referral",
        str(uuid.uuid4()),
        "--agency",
        "agc-1",
        "--reason",
        "because",
    )
    assert code == 2
    assert "reason" in stderr
    code, _, stderr = await _cli(
        kafka_bootstrap,
        network,
        "placement-start",
        "--referral",
        str(uuid.uuid4()),
        "--agency",
        "agc-1",
        "--contract",
        "cdi",
        "--start-date",
        "2026-12-01",
    )
    assert code == 0, stderr
    record = (await read_topic(kafka_bootstrap, agency_responses(network).name, 1))[0]
    assert json.loads(record.value)["contract_type"] == "cdi"

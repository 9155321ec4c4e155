"""``coop-dlq``: dead letters can be listed and replayed to their original topic."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable

from aiokafka import AIOKafkaProducer

from shared.contracts.topics import TopicSpec
from shared.envelope import CloudEvent
from shared.messaging.dead_letter import DeadLetterReason, dead_letter_for
from shared.messaging.provisioning import ensure_topics
from shared.settings import ServiceSettings
from shared.testing_kafka import read_topic


async def _cli(*args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "shared.messaging.dead_letter_cli",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, stderr.decode()
    return stdout.decode()


async def test_dead_letters_are_listed_and_replayed_as_they_were(
    kafka_bootstrap: str, unique: Callable[[str], str]
) -> None:
    spec = TopicSpec(unique("test.replay"), "test", partitions=1)
    settings = ServiceSettings(
        database_url="sqlite+aiosqlite://", kafka_bootstrap_servers=kafka_bootstrap
    )
    await ensure_topics(settings, [spec, spec.dead_letter()])
    value, headers = CloudEvent(type="coop.test.v1", source="/t", data={"n": 1}).to_kafka()
    letter = dead_letter_for(
        topic=spec.name,
        partition=0,
        offset=41,
        key=b"agg-1",
        value=value,
        headers=headers,
        consumer="test-consumer",
        reason=DeadLetterReason.REJECTED,
        error="cannot accept a referral in state declined",
    )
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            letter.topic, value=letter.value, key=letter.key, headers=letter.headers
        )
    finally:
        await producer.stop()

    listed = [
        json.loads(line)
        for line in (
            await _cli("--bootstrap", kafka_bootstrap, "list", "--topic", letter.topic)
        ).splitlines()
    ]
    assert len(listed) == 1
    assert listed[0]["reason"] == "rejected"
    assert listed[0]["error"] == "cannot accept a referral in state declined"
    assert listed[0]["origin"] == f"{spec.name}[0]@41"
    assert listed[0]["key"] == "agg-1"

    output = await _cli("--bootstrap", kafka_bootstrap, "replay", "--topic", letter.topic, "--all")
    assert f"-> {spec.name}" in output
    replayed = (await read_topic(kafka_bootstrap, spec.name, 1))[0]
    assert replayed.value == value
    assert replayed.key == b"agg-1"
    assert list(replayed.headers) == list(headers)

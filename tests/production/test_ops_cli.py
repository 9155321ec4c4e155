"""``coop-ops`` against the real broker and a real store: lag, dead-letter replay, outbox status
and re-drive, with their progress on stderr and their results on stdout (issue 15)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

import notifications
from notifications.models import PLATFORM
from shared.contracts.topics import TopicSpec
from shared.db.database import Database
from shared.messaging.provisioning import ensure_topics
from shared.settings import ServiceSettings
from shared.testing import migrated_database


def _settings(bootstrap: str) -> ServiceSettings:
    return ServiceSettings(
        database_url="sqlite+aiosqlite://",
        environment="development",
        kafka_bootstrap_servers=bootstrap,
    )


async def _ops(bootstrap: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "COLUMNS": "120"}
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "shared.messaging.ops_cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result


async def _read(bootstrap: str, topic: str, count: int) -> list[Any]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    records: list[Any] = []
    try:
        async with asyncio.timeout(30):
            while len(records) < count:
                for batch in (await consumer.getmany(timeout_ms=500)).values():
                    records.extend(batch)
    finally:
        await consumer.stop()
    return records


async def test_lag_counts_what_a_group_has_not_consumed(kafka_bootstrap: str, unique: Any) -> None:
    topic, group = unique("ops-lag"), unique("ops-group")
    await ensure_topics(_settings(kafka_bootstrap), [TopicSpec(topic, "t", partitions=1)])
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for i in range(10):
            await producer.send_and_wait(topic, b"{}", key=str(i).encode())
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        async with asyncio.timeout(30):
            while not await consumer.getmany(timeout_ms=500):
                pass
        await consumer.commit({TopicPartition(topic, 0): OffsetAndMetadata(4, "")})
    finally:
        await consumer.stop()
    result = await _ops(kafka_bootstrap, "lag", "--group", group, "--json")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert rows == [
        {"group": group, "topic": topic, "partition": 0, "committed": 4, "end": 10, "lag": 6}
    ]
    table = await _ops(kafka_bootstrap, "lag", "--group", group)
    assert "total lag: 6" in table.stdout


async def test_replay_sends_dead_letters_back_with_a_progress_bar(
    kafka_bootstrap: str, unique: Any
) -> None:
    topic = unique("ops-replay")
    spec = TopicSpec(topic, "t", partitions=1)
    await ensure_topics(_settings(kafka_bootstrap), [spec, spec.dead_letter()])
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for i in range(5):
            await producer.send_and_wait(
                spec.dead_letter().name,
                f'{{"n": {i}}}'.encode(),
                key=f"k{i}".encode(),
                headers=[
                    ("ce_id", f"id-{i}".encode()),
                    ("dlq_original_topic", topic.encode()),
                    ("dlq_reason", b"retries_exhausted"),
                ],
            )
    finally:
        await producer.stop()
    result = await _ops(kafka_bootstrap, "replay", "--topic", spec.dead_letter().name, "--all")
    assert len(result.stdout.splitlines()) == 5
    assert "5/5" in result.stderr  # the progress bar, on stderr
    records = await _read(kafka_bootstrap, topic, 5)
    assert [r.key for r in records] == [f"k{i}".encode() for i in range(5)]
    assert all(not name.startswith("dlq_") for r in records for name, _ in r.headers)


async def test_outbox_status_and_redrive_publish_the_published_events_again(
    kafka_bootstrap: str, unique: Any, tmp_path: Path
) -> None:
    url = await migrated_database(
        "notifications", Path(notifications.__file__).parent / "migrations", tmp_path
    )
    topic = unique("ops-redrive")
    await ensure_topics(_settings(kafka_bootstrap), [TopicSpec(topic, "t", partitions=1)])
    outbox = PLATFORM.outbox
    now = datetime.now(UTC)
    ids = [uuid.uuid4().hex for _ in range(7)]
    database = Database(url)
    try:
        async with database.transaction() as session:
            for index, event_id in enumerate(ids):
                await session.execute(
                    outbox.insert().values(
                        event_id=event_id,
                        topic=topic,
                        key=f"k{index}",
                        event_type="coop.notification.delivered.v1",
                        source="/notifications",
                        occurred_at=now,
                        data={"n": index},
                        created_at=now,
                        # The last one waits: not re-driven, counted as pending.
                        published_at=None if index == 6 else now,
                    )
                )
    finally:
        await database.dispose()
    status = await _ops(kafka_bootstrap, "outbox-status", "--database-url", url)
    assert json.loads(status.stdout)["pending"] == 1
    result = await _ops(kafka_bootstrap, "outbox-redrive", "--database-url", url, "--topic", topic)
    assert json.loads(result.stdout.splitlines()[-1]) == {"republished": 6}
    assert "6/6" in result.stderr
    records = await _read(kafka_bootstrap, topic, 6)
    headers = [dict(r.headers) for r in records]
    assert [h["ce_id"].decode() for h in headers] == ids[:6]  # same ids, same order


@pytest.mark.parametrize("command", ["--help"])
def test_the_script_is_installed(command: str) -> None:
    coop_ops = Path(sys.executable).parent / "coop-ops"
    result = subprocess.run(
        [str(coop_ops), command], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0
    assert "outbox-redrive" in result.stdout

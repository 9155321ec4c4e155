"""Explicit topic provisioning: partitions and retention are decided here, never by auto-create."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from shared.contracts.topics import TopicSpec
from shared.messaging.kafka import client_options
from shared.settings import ServiceSettings

log = structlog.get_logger(__name__)


async def ensure_topics(settings: ServiceSettings, specs: Iterable[TopicSpec]) -> list[str]:
    """Create the topics that do not exist yet; return the names created."""
    wanted = {spec.name: spec for spec in specs}
    admin = AIOKafkaAdminClient(
        **client_options(settings), client_id=f"{settings.service_name}-admin"
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [spec for name, spec in wanted.items() if name not in existing]
        if not missing:
            return []
        new_topics = [
            NewTopic(
                name=spec.name,
                num_partitions=spec.partitions or settings.kafka_topic_partitions,
                replication_factor=settings.kafka_topic_replication_factor,
                topic_configs=_configs(spec),
            )
            for spec in missing
        ]
        response = await admin.create_topics(new_topics)
        created = []
        for name, code, message in _topic_errors(response):
            if code == 0:
                created.append(name)
            elif code == TopicAlreadyExistsError.errno:
                continue  # another service created it meanwhile
            else:
                raise RuntimeError(f"cannot create topic {name}: error {code} {message or ''}")
        await _wait_until_visible(admin, created)
        log.info("topics created", topics=created)
        return created
    finally:
        await admin.close()


def _configs(spec: TopicSpec) -> dict[str, str]:
    configs = {"cleanup.policy": spec.cleanup_policy}
    if spec.retention_ms is not None:
        configs["retention.ms"] = str(spec.retention_ms)
    return configs


def _topic_errors(response: object) -> list[tuple[str, int, str | None]]:
    errors = getattr(response, "topic_errors", None) or getattr(response, "topics", [])
    result = []
    for item in errors:
        name, code = item[0], item[1]
        message = item[2] if len(item) > 2 else None
        result.append((name, code, message))
    return result


async def _wait_until_visible(admin: AIOKafkaAdminClient, names: list[str]) -> None:
    """CreateTopics returns before every broker knows the topic; a consumer subscribing in that
    window waits a whole metadata refresh. Return once each partition has a leader."""
    if not names:
        return
    deadline = asyncio.get_running_loop().time() + 15
    while asyncio.get_running_loop().time() < deadline:
        described = await admin.describe_topics(names)
        ready = [
            topic
            for topic in described
            if topic.get("error_code") == 0
            and topic.get("partitions")
            and all(p.get("leader", -1) >= 0 for p in topic["partitions"])
        ]
        if len(ready) == len(names):
            return
        await asyncio.sleep(0.2)
    log.warning("created topics not visible yet", topics=names)

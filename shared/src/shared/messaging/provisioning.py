"""Explicit provisioning: topics (partitions and retention are decided here, never by auto-create),
and the Kafka principals and ACLs of the services and of each agency network."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from shared.contracts.topics import TopicSpec, agency_feed, agency_responses, dead_letter_topic
from shared.messaging.kafka import client_options, provisioning_options
from shared.messaging.kafka_acl import (
    AclBinding,
    Operation,
    ResourceType,
    allow,
    create_acls,
    upsert_scram_user,
)
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


# -- principals and ACLs (issue 15) ----------------------------------------------------------------
# Each service and each agency network authenticates as its own SCRAM user and is allowed only on
# its topics (docs/security.md, "Kafka principals"). The services' ACLs are set by ops when the
# cluster is set up (``service_acls``); a network's are created by referral when ops onboard it.

#: What each service writes (its events topic) and reads; its consumer groups are ``<service>.*``.
SERVICE_TOPICS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "referral": (("referral.events",), ("dispositifs.events", "notifications.events")),
    "dispositifs": (("dispositifs.events",), ("referral.events",)),
    "notifications": (("notifications.events",), ("referral.events", "dispositifs.events")),
}


def principal(user: str) -> str:
    return f"User:{user}"


def network_user(network_id: str) -> str:
    """The SCRAM user of an agency network's integration."""
    return f"agency-{network_id}"


def service_acls(service: str) -> list[AclBinding]:
    """A service's ACLs: it creates, writes and reads its own events topic, reads those it
    consumes, writes the dead-letter topics of what it consumes, uses its own consumer groups.
    Nothing on the agency topics: a network's are added when it is onboarded."""
    produces, consumes = SERVICE_TOPICS[service]
    who = principal(service)
    bindings: list[AclBinding] = []
    own = (Operation.CREATE, Operation.WRITE, Operation.READ, Operation.DESCRIBE)
    for topic in produces:
        bindings += allow(who, own, ResourceType.TOPIC, topic)
        bindings += allow(who, own, ResourceType.TOPIC, dead_letter_topic(topic))
    for topic in consumes:
        bindings += allow(
            who, (Operation.CREATE, Operation.READ, Operation.DESCRIBE), ResourceType.TOPIC, topic
        )
        bindings += allow(
            who,
            (Operation.CREATE, Operation.WRITE, Operation.DESCRIBE),
            ResourceType.TOPIC,
            dead_letter_topic(topic),
        )
    bindings += allow(
        who, (Operation.READ, Operation.DESCRIBE), ResourceType.GROUP, f"{service}.", prefixed=True
    )
    return bindings


def network_acls(network_id: str, *, service: str = "referral") -> list[AclBinding]:
    """The network reads its feed and writes its responses (groups ``agency.<id>.*``); the
    referral service writes the feed, reads the responses and dead-letters them. The service
    cannot write a network's responses: it cannot forge an answer."""
    feed, responses = agency_feed(network_id).name, agency_responses(network_id).name
    network, svc = principal(network_user(network_id)), principal(service)
    describe = Operation.DESCRIBE
    return [
        *allow(network, (Operation.READ, describe), ResourceType.TOPIC, feed),
        *allow(network, (Operation.WRITE, describe), ResourceType.TOPIC, responses),
        *allow(
            network,
            (Operation.READ, describe),
            ResourceType.GROUP,
            f"agency.{network_id}.",
            prefixed=True,
        ),
        *allow(svc, (Operation.CREATE, Operation.WRITE, describe), ResourceType.TOPIC, feed),
        *allow(svc, (Operation.CREATE, Operation.READ, describe), ResourceType.TOPIC, responses),
        *allow(
            svc,
            (Operation.CREATE, Operation.WRITE, Operation.READ, describe),
            ResourceType.TOPIC,
            dead_letter_topic(responses),
        ),
    ]


@dataclass(frozen=True, slots=True)
class KafkaCredentials:
    """A SCRAM user and its password, handed once (never logged, never stored by the platform)."""

    username: str
    password: str = field(repr=False)
    mechanism: str


async def provision_network_credentials(
    settings: ServiceSettings, network_id: str
) -> KafkaCredentials | None:
    """Give a network its SCRAM user (a new random password each call: the previous one stops
    working) and its ACLs, as the provisioning principal. None when the service has no
    provisioning principal (a plaintext broker, or credentials left to ops)."""
    options = provisioning_options(settings)
    if options is None or not settings.kafka_sasl_mechanism:
        return None
    credentials = KafkaCredentials(
        network_user(network_id), secrets.token_urlsafe(32), settings.kafka_sasl_mechanism
    )
    admin = AIOKafkaAdminClient(**options, client_id=f"{settings.service_name}-provisioning")
    await admin.start()
    try:
        await upsert_scram_user(
            admin, credentials.username, credentials.password, mechanism=credentials.mechanism
        )
        await create_acls(admin, network_acls(network_id, service=settings.service_name))
    finally:
        await admin.close()
    log.info("network credentials provisioned", network=network_id, user=credentials.username)
    return credentials


async def provision_network_access(settings: ServiceSettings, network_ids: Iterable[str]) -> bool:
    """The ACLs of these networks and of the service on their topics (adding an ACL that exists
    changes nothing), before the service creates or uses the topics. False when the service has
    no provisioning principal: then ops set them (docs/operations.md)."""
    options = provisioning_options(settings)
    ids = list(network_ids)
    if options is None or not ids:
        return False
    admin = AIOKafkaAdminClient(**options, client_id=f"{settings.service_name}-provisioning")
    await admin.start()
    try:
        bindings = [b for n in ids for b in network_acls(n, service=settings.service_name)]
        await create_acls(admin, bindings)
    finally:
        await admin.close()
    return True

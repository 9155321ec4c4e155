"""Each agency network has its own feed topic (what the referral service tells its ERP) and
response topic (what its ERP answers), so that broker ACLs can confine an integration to its own
data — the networks are competitors. Onboarding a network provisions them."""

from __future__ import annotations

import structlog
from sqlalchemy import select

from referral.models import Network
from shared.contracts.topics import TopicSpec, agency_feed, agency_responses
from shared.db.database import Database
from shared.messaging.provisioning import provision_network_access
from shared.runtime import ServiceRuntime
from shared.settings import ServiceSettings

log = structlog.get_logger(__name__)


def topics_of(network_id: str) -> list[TopicSpec]:
    """The network's feed and response topics, and the response topic's dead-letter topic."""
    responses = agency_responses(network_id)
    return [agency_feed(network_id), responses, responses.dead_letter()]


async def all_network_topics(
    database: Database, settings: ServiceSettings | None = None
) -> list[TopicSpec]:
    async with database.reading() as session:  # a read: never behind a writer
        ids = list(await session.scalars(select(Network.id).order_by(Network.id)))
    if settings is not None:  # on a secured broker: the ACLs first (issue 15)
        await provision_network_access(settings, ids)
    return [spec for network_id in ids for spec in topics_of(network_id)]


async def provision_network_topics(runtime: ServiceRuntime, network_id: str) -> bool:
    """Create the network's topics now; False if the broker is unreachable (retried at start)."""
    if not runtime.settings.kafka_enabled:
        return False
    try:
        await provision_network_access(runtime.settings, [network_id])
        await runtime.provision(topics_of(network_id))
        return True
    except Exception as exc:
        log.warning("network topics not provisioned", network=network_id, error=str(exc))
        return False

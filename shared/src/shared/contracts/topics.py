"""The topics of the platform. Created explicitly at start-up (the broker never auto-creates)."""

from __future__ import annotations

import re
from dataclasses import dataclass

DEAD_LETTER_SUFFIX = ".dlq"


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    description: str
    #: None: the service's configured default.
    partitions: int | None = None
    retention_ms: int | None = None
    cleanup_policy: str = "delete"

    def dead_letter(self) -> TopicSpec:
        return TopicSpec(
            name=dead_letter_topic(self.name),
            description=f"Records of {self.name} that could not be processed, with the reason.",
            partitions=1,
            # Dead letters wait for a human: keep them a long time.
            retention_ms=90 * 24 * 3600 * 1000,
        )


def dead_letter_topic(topic: str) -> str:
    return topic + DEAD_LETTER_SUFFIX


REFERRAL_EVENTS = TopicSpec(
    "referral.events",
    "Referral lifecycle events from the referral service; key = referral id.",
    retention_ms=30 * 24 * 3600 * 1000,
)
DISPOSITIFS_EVENTS = TopicSpec(
    "dispositifs.events",
    "Immersion (PMSMP), MRS and training events; key = convention or enrolment id.",
    retention_ms=30 * 24 * 3600 * 1000,
)
NOTIFICATIONS_EVENTS = TopicSpec(
    "notifications.events",
    "Delivery outcomes of the notifications service; key = message id.",
    retention_ms=30 * 24 * 3600 * 1000,
)

TOPICS: dict[str, TopicSpec] = {
    spec.name: spec for spec in (REFERRAL_EVENTS, DISPOSITIFS_EVENTS, NOTIFICATIONS_EVENTS)
}


# -- per-network agency topics ---------------------------------------------------------------------
# Each agency network (enseigne) has its own feed and response topic, so that broker ACLs can
# confine an integration to its own data (the networks are competitors).

#: Lower-case letters, digits and dashes: safe in topic names, group ids and ACL prefixes.
NETWORK_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{1,62}$"
#: The ``topic`` of per-network event models: a template, filled with the network id.
AGENCY_FEED_TOPIC = "agency.{network_id}.feed"
AGENCY_RESPONSES_TOPIC = "agency.{network_id}.responses"
AGENCY_RESPONSES_TOPIC_PATTERN = r"^agency\.[a-z0-9][a-z0-9-]{1,62}\.responses$"
_RESPONSES = re.compile(r"^agency\.(?P<network>[a-z0-9][a-z0-9-]{1,62})\.responses$")


def agency_feed(network_id: str) -> TopicSpec:
    _check_network_id(network_id)
    return TopicSpec(
        AGENCY_FEED_TOPIC.format(network_id=network_id),
        f"Referrals addressed to the agencies of network {network_id}, their withdrawal and "
        "expiry, and what became of their immersion requests; key = referral id.",
        retention_ms=30 * 24 * 3600 * 1000,
    )


def agency_responses(network_id: str) -> TopicSpec:
    _check_network_id(network_id)
    return TopicSpec(
        AGENCY_RESPONSES_TOPIC.format(network_id=network_id),
        f"Answers of network {network_id}'s ERP about referrals addressed to its agencies; "
        "key = referral id.",
        retention_ms=30 * 24 * 3600 * 1000,
    )


#: Per-network topic families (for the contract document and checks).
TOPIC_TEMPLATES = {
    AGENCY_FEED_TOPIC: "Per-network feed: what the referral service tells one network's ERP.",
    AGENCY_RESPONSES_TOPIC: "Per-network responses: what one network's ERP answers.",
}


def network_of_responses_topic(topic: str) -> str | None:
    """The network whose response topic this is, or None."""
    match = _RESPONSES.match(topic)
    return match.group("network") if match else None


def _check_network_id(network_id: str) -> None:
    if not re.match(NETWORK_ID_PATTERN, network_id):
        raise ValueError(f"invalid network id {network_id!r}: expected {NETWORK_ID_PATTERN}")

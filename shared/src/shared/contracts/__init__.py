"""Event contracts: the typed data of every event type, and the topics they travel on.

Each event type is a versioned name (``coop.referral.sent.v1``) bound to a pydantic model. Changes
inside a version are additive; readers ignore fields they do not know (``extra="ignore"``).
"""

from shared.contracts.base import (
    EVENT_TYPES,
    EventData,
    UnknownEventType,
    declared_event_types,
    event_model_for,
)
from shared.contracts.topics import TOPICS, TopicSpec, dead_letter_topic

__all__ = [
    "EVENT_TYPES",
    "TOPICS",
    "EventData",
    "TopicSpec",
    "UnknownEventType",
    "dead_letter_topic",
    "declared_event_types",
    "event_model_for",
]

# Import the modules that declare event types so that the registry is complete.
from shared.contracts import (  # noqa: F401
    agency,
    agency_feed,
    agency_requests,
    dispositifs,
    erasure,
    job_seeker_contact,
    notifications,
    referral,
    scheme_feed,
    territory,
)

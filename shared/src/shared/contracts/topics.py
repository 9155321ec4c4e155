"""The topics of the platform. Created explicitly at start-up (the broker never auto-creates)."""

from __future__ import annotations

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
AGENCY_RESPONSES = TopicSpec(
    "agency.responses",
    "Answers of agency ERPs about referrals addressed to them; key = referral id.",
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
    spec.name: spec
    for spec in (REFERRAL_EVENTS, AGENCY_RESPONSES, DISPOSITIFS_EVENTS, NOTIFICATIONS_EVENTS)
}

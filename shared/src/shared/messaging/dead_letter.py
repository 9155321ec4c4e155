"""Dead-letter topics: ``<topic>.dlq`` keeps the original record (key, value, headers) plus
``dlq_*`` headers saying why, where it came from and which consumer gave up on it.

Replaying sends the original record back to its topic, where it is processed as new (its effect
never committed, so the inbox does not hold it).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from shared.contracts.topics import DEAD_LETTER_SUFFIX, dead_letter_topic
from shared.envelope import Headers, format_time

DLQ_HEADER_PREFIX = "dlq_"


class DeadLetterReason(enum.StrEnum):
    UNREADABLE_ENVELOPE = "unreadable_envelope"
    UNKNOWN_EVENT_TYPE = "unknown_event_type"
    INVALID_DATA = "invalid_data"
    REJECTED = "rejected"
    RETRIES_EXHAUSTED = "retries_exhausted"


@dataclass(frozen=True, slots=True)
class DeadLetter:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: Headers


def dead_letter_for(
    *,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    headers: Sequence[tuple[str, bytes]],
    consumer: str,
    reason: DeadLetterReason,
    error: str,
) -> DeadLetter:
    original = [(name, raw) for name, raw in headers if not name.startswith(DLQ_HEADER_PREFIX)]
    extra: Headers = [
        ("dlq_reason", reason.value.encode()),
        ("dlq_error", error[:4000].encode()),
        ("dlq_original_topic", topic.encode()),
        ("dlq_original_partition", str(partition).encode()),
        ("dlq_original_offset", str(offset).encode()),
        ("dlq_consumer", consumer.encode()),
        ("dlq_failed_at", format_time(datetime.now(UTC)).encode()),
    ]
    return DeadLetter(
        topic=dead_letter_topic(topic), key=key, value=value, headers=original + extra
    )


def replay_target(dead_letter_topic_name: str, headers: Sequence[tuple[str, bytes]]) -> str:
    """The topic a dead letter came from."""
    for name, raw in headers:
        if name == "dlq_original_topic":
            return raw.decode()
    if dead_letter_topic_name.endswith(DEAD_LETTER_SUFFIX):
        return dead_letter_topic_name[: -len(DEAD_LETTER_SUFFIX)]
    raise ValueError(f"{dead_letter_topic_name} is not a dead-letter topic")


def original_headers(headers: Sequence[tuple[str, bytes]]) -> Headers:
    return [(name, raw) for name, raw in headers if not name.startswith(DLQ_HEADER_PREFIX)]

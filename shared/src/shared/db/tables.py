"""Tables every service has in its own store: outbox, processed events (the inbox pattern) and
idempotency keys.

They are attached to the service's own ``MetaData`` so that one Alembic tree per service creates
them next to the service's business tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.types import TypeDecorator

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
BigIntId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes in and out, stored in UTC on every backend.

    SQLite has no timezone type: without this, values read back naive and comparisons break.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: pass an aware datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class PlatformTables:
    outbox: Table
    processed_events: Table
    idempotency_keys: Table

    def all(self) -> tuple[Table, ...]:
        return (self.outbox, self.processed_events, self.idempotency_keys)


def platform_tables(metadata: MetaData) -> PlatformTables:
    """Declare the platform tables on a service's metadata (once per metadata)."""
    outbox = Table(
        "outbox",
        metadata,
        # Publication order is the insertion order of this id.
        Column("id", BigIntId, primary_key=True, autoincrement=True),
        Column("event_id", String(64), nullable=False, unique=True),
        Column("topic", String(249), nullable=False),
        Column("key", String(255), nullable=False),
        Column("event_type", String(200), nullable=False),
        Column("source", String(200), nullable=False),
        Column("subject", String(255)),
        Column("occurred_at", UTCDateTime(), nullable=False),
        Column("data", JSON, nullable=False),
        Column("traceparent", String(55)),
        Column("created_at", UTCDateTime(), nullable=False, default=utcnow),
        Column("published_at", UTCDateTime()),
        Column("attempts", Integer, nullable=False, default=0),
        Column("last_error", Text),
        Index("ix_outbox_unpublished", "published_at", "id"),
    )
    processed_events = Table(
        "processed_events",
        metadata,
        Column("consumer", String(100), primary_key=True),
        Column("event_id", String(64), primary_key=True),
        Column("event_type", String(200), nullable=False),
        Column("topic", String(249), nullable=False),
        Column("partition", Integer, nullable=False),
        Column("offset", BigInteger, nullable=False),
        Column("processed_at", UTCDateTime(), nullable=False, default=utcnow),
    )
    idempotency_keys = Table(
        "idempotency_keys",
        metadata,
        Column("principal", String(255), primary_key=True),
        Column("key", String(255), primary_key=True),
        Column("request_fingerprint", String(64), nullable=False),
        Column("status_code", Integer, nullable=False),
        Column("response_body", JSON, nullable=False),
        Column("location", String(500)),
        Column("created_at", UTCDateTime(), nullable=False, default=utcnow),
    )
    return PlatformTables(
        outbox=outbox, processed_events=processed_events, idempotency_keys=idempotency_keys
    )

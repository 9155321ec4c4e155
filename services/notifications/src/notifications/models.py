"""The notifications service's tables (its own store)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Index, MetaData, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db.naming import NAMING_CONVENTION
from shared.db.tables import UTCDateTime, platform_tables


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


PLATFORM = platform_tables(Base.metadata)


class Notification(Base):
    """One message to one recipient on one channel, caused by one event."""

    __tablename__ = "notifications"
    __table_args__ = (
        # The same event never produces two messages to the same recipient on the same channel.
        UniqueConstraint(
            "event_id", "recipient_kind", "recipient_id", "channel", name="one_per_recipient"
        ),
        Index("ix_notifications_created", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    event_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(200))
    recipient_kind: Mapped[str] = mapped_column(String(32))
    recipient_id: Mapped[str] = mapped_column(String(255), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    referral_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

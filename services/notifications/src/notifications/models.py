"""The notifications service's tables (its own store).

- ``notifications``: what one recipient is told about one event (or reminder): one row per
  (cause, recipient), whatever the channels.
- ``deliveries``: that message on one channel, as rendered and sent, with its status, attempts,
  last error and next attempt time; one row per (message, channel).
- ``delivery_attempts``: every try, for ops.
- ``recipients``: the directory (contact email, webhook URL and secret) and preferences.
- ``followed_referrals`` / ``followed_immersions``: what the reminders need to know, built from the
  events (no other service's table is ever read).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from notifications.domain.delivery import DELIVERY_STATUSES
from shared.db.naming import NAMING_CONVENTION
from shared.db.projections import KnownReferralColumns
from shared.db.tables import BigIntId, UTCDateTime, platform_tables
from shared.messaging.outbox import Outbox


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


PLATFORM = platform_tables(Base.metadata)
#: Where the service stages its events (delivery outcomes), with its CloudEvents source.
#: The CloudEvents ``source`` of every event this service produces.
EVENT_SOURCE = "/coop/notifications"
OUTBOX = Outbox(PLATFORM, EVENT_SOURCE)


class Notification(Base):
    """What one recipient is told about one event: one row per (event, recipient)."""

    __tablename__ = "notifications"
    __table_args__ = (
        # The same event never produces two messages to the same recipient (and, with the
        # deliveries' own key, never twice on the same channel).
        UniqueConstraint("event_id", "recipient_kind", "recipient_id", name="one_per_recipient"),
        Index("ix_notifications_created", "created_at", "id"),
        Index("ix_notifications_recipient", "recipient_kind", "recipient_id", "created_at", "id"),
        # A recipient's unread messages (the inbox's filter), only the unread in it.
        Index(
            "ix_notifications_unread",
            "recipient_kind",
            "recipient_id",
            "created_at",
            "id",
            sqlite_where=text("read_at IS NULL"),
            postgresql_where=text("read_at IS NULL"),
        ),
        Index("ix_notifications_event_type_created", "event_type", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    event_id: Mapped[str] = mapped_column(String(200))
    event_type: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(64))
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    recipient_kind: Mapped[str] = mapped_column(String(32))
    recipient_id: Mapped[str] = mapped_column(String(255), index=True)
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    referral_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: When the recipient marked it read in the in-app list.
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    deliveries: Mapped[list[Delivery]] = relationship(
        back_populates="notification", order_by="Delivery.channel", lazy="selectin"
    )


class Delivery(Base):
    """One message on one channel: rendered content as sent, status and retry bookkeeping."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("notification_id", "channel", name="one_per_channel"),
        CheckConstraint(
            f"status IN ({', '.join(repr(s) for s in DELIVERY_STATUSES)})", name="known_status"
        ),
        # The worker's query: due pending deliveries, oldest first.
        Index("ix_deliveries_due", "status", "next_attempt_at"),
        Index("ix_deliveries_listing", "created_at", "id"),
        Index("ix_deliveries_status_created", "status", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    notification_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("notifications.id", ondelete="CASCADE"), index=True
    )
    #: :class:`notifications.domain.delivery.Channel` value (email, webhook, inbox).
    channel: Mapped[str] = mapped_column(String(32))
    #: Where it goes: an email address, a webhook URL, or ``<kind>:<id>`` for the in-app list.
    address: Mapped[str | None] = mapped_column(String(1000))
    subject: Mapped[str] = mapped_column(String(300))
    #: Text of the mail or in-app message; for a webhook, the exact JSON body that is signed.
    body: Mapped[str] = mapped_column(Text)
    #: :class:`notifications.domain.delivery.DeliveryStatus` value.
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    notification: Mapped[Notification] = relationship(back_populates="deliveries", lazy="joined")


class DeliveryAttempt(Base):
    """One try of a delivery, kept for ops (``GET /v1/deliveries/{id}``)."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    delivery_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("deliveries.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: :class:`notifications.domain.delivery.AttemptOutcome` value (delivered | retry | failed).
    outcome: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    #: What the other side answered (SMTP reply, HTTP status).
    response: Mapped[str | None] = mapped_column(String(500))


class Recipient(Base):
    """The directory: how to reach a recipient, and what they opted out of.

    Events carry ids, not contact details: agency contacts and webhooks are registered by ops,
    a counsellor's email too; a tutor's email comes with ``coop.immersion.validated.v1``; a job
    seeker's name, email and phone with ``coop.job_seeker.contact_consented.v1`` (deleted when
    the consent is withdrawn or the person erased).
    """

    __tablename__ = "recipients"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    #: A job seeker's phone, given with their contact consent (text messages, later).
    phone: Mapped[str | None] = mapped_column(String(32))
    webhook_url: Mapped[str | None] = mapped_column(String(1000))
    #: HMAC-SHA256 key shared with the receiver (it must be usable to sign, so not hashed).
    webhook_secret: Mapped[str | None] = mapped_column(String(255))
    opted_out_channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    opted_out_kinds: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class KnownReferral(KnownReferralColumns, Base):
    """A referral as the notifications service knows it from ``referral.events`` (the shared
    projection, plus whom to tell and whether it was answered)."""

    __tablename__ = "followed_referrals"
    __table_args__ = (Index("ix_followed_referrals_unanswered", "status", "sent_at"),)

    counsellor_id: Mapped[str] = mapped_column(String(255))
    #: Whom the referral is about: reached only once they consented to contact (directory).
    job_seeker_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    #: The agency's name and town, which the mails name (from ``referral.sent``).
    agency_name: Mapped[str | None] = mapped_column(String(200))
    agency_town: Mapped[str | None] = mapped_column(String(100))
    #: :class:`notifications.domain.following.FollowedReferralStatus` (sent | answered | closed).
    status: Mapped[str] = mapped_column(String(16))
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class FollowedImmersion(Base):
    """A validated PMSMP convention, for the reminder before it starts."""

    __tablename__ = "followed_immersions"
    __table_args__ = (Index("ix_followed_immersions_start", "status", "start_date"),)

    convention_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    referral_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    job_seeker_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    agency_id: Mapped[str | None] = mapped_column(String(255))
    objet: Mapped[str] = mapped_column(String(32))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    host_name: Mapped[str] = mapped_column(String(300))
    tutor_name: Mapped[str | None] = mapped_column(String(200))
    #: Where the immersion takes place: its holidays count in the reminder's business days.
    departement: Mapped[str | None] = mapped_column(String(3))
    #: :class:`notifications.domain.following.FollowedImmersionStatus` value.
    status: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

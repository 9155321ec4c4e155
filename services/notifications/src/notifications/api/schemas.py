"""The bodies of the HTTP API (what the routers answer and accept), and the mapping of stored
rows to them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, HttpUrl
from pydantic_core import PydanticCustomError

from notifications.domain.delivery import CHANNELS
from notifications.models import Delivery, DeliveryAttempt, Notification, Recipient
from notifications.use_cases.queries import DeliveryAsSent

# -- messages -------------------------------------------------------------------------------------


class DeliverySummary(BaseModel):
    id: uuid.UUID
    channel: str
    status: str
    attempts: int


class NotificationOut(BaseModel):
    id: uuid.UUID
    event_id: str
    event_type: str
    kind: str
    required: bool
    recipient_kind: str
    recipient_id: str
    subject: str
    body: str
    referral_id: uuid.UUID | None
    created_at: datetime
    read_at: datetime | None
    deliveries: list[DeliverySummary]


def notification_out(row: Notification) -> NotificationOut:
    return NotificationOut.model_validate(row, from_attributes=True)


# -- deliveries -----------------------------------------------------------------------------------


class DeliveryOut(BaseModel):
    id: uuid.UUID
    notification_id: uuid.UUID
    channel: str
    address: str | None
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None
    recipient_kind: str
    recipient_id: str
    event_type: str


class AttemptOut(BaseModel):
    number: int
    started_at: datetime
    finished_at: datetime
    outcome: str
    error: str | None
    response: str | None


class DeliveryDetail(DeliveryOut):
    subject: str
    body: str = Field(
        description="Texte envoyé (courriel, boîte de réception) ou corps JSON signé."
    )
    event_id: str
    attempt_log: list[AttemptOut]


class NotificationDetail(NotificationOut):
    deliveries_as_sent: list[DeliveryDetail]


def delivery_out(delivery: Delivery, message: Notification) -> DeliveryOut:
    return DeliveryOut(
        id=delivery.id,
        notification_id=delivery.notification_id,
        channel=delivery.channel,
        address=delivery.address,
        status=delivery.status,
        attempts=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at,
        last_error=delivery.last_error,
        created_at=delivery.created_at,
        updated_at=delivery.updated_at,
        delivered_at=delivery.delivered_at,
        recipient_kind=message.recipient_kind,
        recipient_id=message.recipient_id,
        event_type=message.event_type,
    )


def delivery_detail(sent: DeliveryAsSent) -> DeliveryDetail:
    return DeliveryDetail(
        **delivery_out(sent.delivery, sent.message).model_dump(),
        subject=sent.delivery.subject,
        body=sent.delivery.body,
        event_id=sent.message.event_id,
        attempt_log=[_attempt_out(a) for a in sent.attempts],
    )


def _attempt_out(attempt: DeliveryAttempt) -> AttemptOut:
    return AttemptOut.model_validate(attempt, from_attributes=True)


# -- recipients directory and preferences ---------------------------------------------------------


#: ``recipients.webhook_url`` is ``String(1000)``: a longer URL, as it is stored (normalised,
#: percent-encoded), is a 422 on ``webhook_url``, never the store's refusal (issue 10).
WEBHOOK_URL_MAX_LENGTH = 1000


def _fits_the_column(url: HttpUrl) -> HttpUrl:
    if len(str(url)) > WEBHOOK_URL_MAX_LENGTH:
        raise PydanticCustomError(
            "url_too_long",
            "URL should have at most {max_length} characters",
            {"max_length": WEBHOOK_URL_MAX_LENGTH},
        )
    return url


WebhookUrl = Annotated[HttpUrl, AfterValidator(_fits_the_column)]


class RecipientIn(BaseModel):
    display_name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    webhook_url: WebhookUrl | None = None
    webhook_secret: str | None = Field(
        default=None,
        min_length=32,
        max_length=255,
        description="Clé HMAC partagée avec le récepteur ; générée si absente avec une URL.",
    )


ChannelName = Literal["email", "webhook", "inbox", "sms"]
assert set(ChannelName.__args__) == set(CHANNELS)  # type: ignore[attr-defined]


class PreferencesIn(BaseModel):
    opted_out_channels: list[ChannelName] = Field(default_factory=list)
    opted_out_kinds: list[str] = Field(
        default_factory=list, description="Types de messages refusés (ex. referral.update)."
    )


class RecipientOut(BaseModel):
    kind: str
    id: str
    display_name: str | None
    email: str | None
    webhook_url: str | None
    webhook_secret_set: bool
    opted_out_channels: list[str]
    opted_out_kinds: list[str]
    updated_at: datetime


class RecipientCreated(RecipientOut):
    webhook_secret: str | None = Field(
        default=None, description="Montrée une seule fois, quand elle vient d'être générée."
    )


def recipient_out(row: Recipient) -> RecipientOut:
    return RecipientOut(
        kind=row.kind,
        id=row.id,
        display_name=row.display_name,
        email=row.email,
        webhook_url=row.webhook_url,
        webhook_secret_set=bool(row.webhook_secret),
        opted_out_channels=list(row.opted_out_channels or []),
        opted_out_kinds=list(row.opted_out_kinds or []),
        updated_at=row.updated_at,
    )


def nobody_on_file(kind: str, recipient_id: str) -> RecipientOut:
    """The preferences of a recipient the directory does not know yet: none."""
    return RecipientOut(
        kind=kind,
        id=recipient_id,
        display_name=None,
        email=None,
        webhook_url=None,
        webhook_secret_set=False,
        opted_out_channels=[],
        opted_out_kinds=[],
        updated_at=datetime.now(UTC),
    )


# -- in-app messages ------------------------------------------------------------------------------


class InboxItem(BaseModel):
    id: uuid.UUID
    event_type: str
    kind: str
    subject: str
    body: str
    referral_id: uuid.UUID | None
    created_at: datetime
    read_at: datetime | None


class InboxPage(BaseModel):
    items: list[InboxItem]
    next_cursor: str | None
    unread_count: int


class MarkedRead(BaseModel):
    marked: int


def in_app_item(message: Notification, delivery: Delivery) -> InboxItem:
    return InboxItem(
        id=message.id,
        event_type=message.event_type,
        kind=message.kind,
        subject=delivery.subject,
        body=delivery.body,
        referral_id=message.referral_id,
        created_at=message.created_at,
        read_at=message.read_at,
    )

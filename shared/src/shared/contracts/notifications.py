"""Delivery outcomes of the notifications service (topic ``notifications.events``, key = the
message id)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID

from shared.contracts.base import EventData
from shared.contracts.topics import NOTIFICATIONS_EVENTS


class NotificationEvent(EventData):
    topic: ClassVar[str] = NOTIFICATIONS_EVENTS.name
    key_field: ClassVar[str] = "message_id"

    message_id: UUID
    delivery_id: UUID
    channel: str
    recipient_kind: str
    cause_event_id: str
    cause_event_type: str
    occurred_at: datetime


class NotificationDelivered(NotificationEvent):
    """A message reached its recipient on one channel."""

    event_type: ClassVar[str] = "coop.notification.delivered.v1"
    attempts: int


class NotificationFailed(NotificationEvent):
    """A message could not be delivered on one channel after its last attempt."""

    event_type: ClassVar[str] = "coop.notification.failed.v1"
    attempts: int
    last_error: str

"""What a channel sender gets and how it says that a try failed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol


class TransientFailure(Exception):
    """The other side is away or busy (timeout, 5xx, SMTP 4xx): retry with backoff."""


class PermanentFailure(Exception):
    """The other side refused for good (HTTP 4xx, SMTP 5xx on the recipient): no retry."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A claimed delivery, detached from the database while it is being sent."""

    delivery_id: uuid.UUID
    notification_id: uuid.UUID
    channel: str
    address: str
    subject: str
    body: str
    attempt: int
    event_type: str
    cause_id: str
    kind: str
    recipient_kind: str
    recipient_id: str
    referral_id: uuid.UUID | None = None
    #: Webhooks only: the receiver's HMAC key.
    secret: str | None = None


class Sender(Protocol):
    async def send(self, outgoing: Outgoing) -> str:
        """Deliver; return a short description of the other side's answer."""
        ...

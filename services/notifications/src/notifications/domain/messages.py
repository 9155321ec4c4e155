"""What a message is about (:class:`Cause`: an event, or a reminder), and the JSON body a webhook
receives, fixed when the message is recorded (what is signed is what was stored)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shared.contracts import EventData
from shared.envelope import CloudEvent


@dataclass(frozen=True)
class Cause:
    """What a message is about: an event, or a reminder the service decided to send."""

    trigger: str
    #: Event id, or a reminder key that makes the reminder unique.
    cause_id: str
    #: Template variables (typed values: enums keep their French ``label``).
    context: Mapping[str, Any]
    #: JSON-ready data put in webhook bodies.
    payload: Mapping[str, Any]
    occurred_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @classmethod
    def from_event(cls, event: CloudEvent, data: EventData) -> Cause:
        context = {name: getattr(data, name) for name in type(data).model_fields}
        return cls(
            trigger=event.type,
            cause_id=event.id,
            context=context,
            payload=data.model_dump(mode="json"),
            occurred_at=event.time,
        )

    @property
    def referral_id(self) -> uuid.UUID | None:
        value = self.context.get("referral_id")
        return uuid.UUID(str(value)) if value is not None else None


def webhook_body(
    *,
    delivery_id: uuid.UUID,
    message_id: uuid.UUID,
    kind: str,
    recipient_kind: str,
    recipient_id: str,
    cause: Cause,
    subject: str,
    text: str,
) -> str:
    """The JSON a webhook receives, fixed at recording time: what is signed is what was stored."""
    document = {
        "delivery_id": str(delivery_id),
        "message_id": str(message_id),
        "kind": kind,
        "event": {
            "id": cause.cause_id,
            "type": cause.trigger,
            "time": cause.occurred_at.isoformat(),
        },
        "recipient": {"kind": recipient_kind, "id": recipient_id},
        "subject": subject,
        "text": text,
        "data": dict(cause.payload),
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), sort_keys=True)

"""Recording what must be said: for one cause (an event or a reminder), one message per recipient
the routing names, and one delivery per channel, rendered now and sent later by the worker.

This runs inside the consumer's (or the reminder job's) transaction and never talks to a mail
server or a webhook: an SMTP outage cannot block the event stream.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from notifications import directory
from notifications.directory import Addressee
from notifications.models import Delivery, Notification
from notifications.rendering import Templates
from notifications.routing import RoutingTable, Rule
from shared.contracts import EventData
from shared.envelope import CloudEvent

log = structlog.get_logger(__name__)

#: Why a delivery was recorded but will not be attempted (``last_error`` of a skipped delivery).
NO_ADDRESS = "no_address: nothing on file for this channel"
OPTED_OUT = "opted_out: the recipient opted out of this channel or kind of message"


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


def salutation(addressee: Addressee) -> str:
    return f"Bonjour {addressee.name}," if addressee.name else "Bonjour,"


async def record(
    session: AsyncSession, cause: Cause, routing: RoutingTable, templates: Templates
) -> list[Notification]:
    """Create the messages and deliveries of ``cause``; return the new messages."""
    created: list[Notification] = []
    for rule in routing.rules_for(cause.trigger):
        addressee = await directory.find(session, rule.audience, cause.context)
        if addressee is None:
            log.info("nobody to tell", trigger=cause.trigger, audience=rule.audience)
            continue
        if await _already_told(session, cause.cause_id, addressee):
            continue
        created.append(_message(session, cause, rule, addressee, templates))
    await session.flush()
    return created


async def _already_told(session: AsyncSession, cause_id: str, addressee: Addressee) -> bool:
    found = await session.scalar(
        select(Notification.id).where(
            Notification.event_id == cause_id,
            Notification.recipient_kind == addressee.kind,
            Notification.recipient_id == addressee.id,
        )
    )
    return found is not None


def _message(
    session: AsyncSession, cause: Cause, rule: Rule, addressee: Addressee, templates: Templates
) -> Notification:
    now = datetime.now(UTC)
    context = {**cause.context, "salutation": salutation(addressee)}
    rendered = {
        channel: templates.render(rule.template, channel, context) for channel in rule.channels
    }
    first = rendered[rule.channels[0]]
    message = Notification(
        id=uuid.uuid4(),
        event_id=cause.cause_id,
        event_type=cause.trigger,
        kind=rule.kind,
        required=rule.required,
        recipient_kind=addressee.kind,
        recipient_id=addressee.id,
        subject=first.subject,
        body=first.body,
        referral_id=cause.referral_id,
        created_at=now,
    )
    session.add(message)
    for channel in rule.channels:
        delivery_id = uuid.uuid4()
        text = rendered[channel]
        body = text.body
        if channel == "webhook":
            body = webhook_body(delivery_id, message, cause, text.subject, text.body)
        address = addressee.address_for(channel)
        status, error = "pending", None
        if address is None:
            status, error = "skipped", NO_ADDRESS
        elif not rule.required and (
            channel in addressee.opted_out_channels or rule.kind in addressee.opted_out_kinds
        ):
            status, error = "skipped", OPTED_OUT
        session.add(
            Delivery(
                id=delivery_id,
                notification_id=message.id,
                channel=channel,
                address=address,
                subject=text.subject,
                body=body,
                status=status,
                attempts=0,
                next_attempt_at=now if status == "pending" else None,
                last_error=error,
                created_at=now,
                updated_at=now,
            )
        )
    return message


def webhook_body(
    delivery_id: uuid.UUID, message: Notification, cause: Cause, subject: str, text: str
) -> str:
    """The JSON a webhook receives, fixed at recording time: what is signed is what was stored."""
    document = {
        "delivery_id": str(delivery_id),
        "message_id": str(message.id),
        "kind": message.kind,
        "event": {
            "id": cause.cause_id,
            "type": cause.trigger,
            "time": cause.occurred_at.isoformat(),
        },
        "recipient": {"kind": message.recipient_kind, "id": message.recipient_id},
        "subject": subject,
        "text": text,
        "data": dict(cause.payload),
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), sort_keys=True)

"""Messages: recording what must be said, and the recipient marking their in-app messages read.

Recording: for one cause (an event or a reminder), one message per recipient the routing names,
and one delivery per channel, rendered now and sent later by the delivery worker
(:mod:`notifications.jobs`). This runs inside the consumer's (or the reminder job's) transaction
and never talks to a mail server or a webhook: an SMTP outage cannot block the event stream.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from notifications import access
from notifications.domain.catalog import ROUTING, TEMPLATES
from notifications.domain.delivery import (
    Channel,
    DeliveryStatus,
    check_transition,
    first_move,
)
from notifications.domain.errors import MessageNotFound
from notifications.domain.messages import Cause, webhook_body
from notifications.domain.recipients import JOB_SEEKER, Addressee, salutation
from notifications.domain.rendering import Templates
from notifications.domain.routing import RoutingTable, Rule
from notifications.domain.wording import EXTRA_VARIABLES, NAMED_TO, referral_link
from notifications.models import Delivery, KnownReferral, Notification
from notifications.use_cases import recipients
from notifications.use_cases.statements import insert_ignoring_conflicts
from shared import referentials
from shared.auth.tokens import Principal

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class RecordMessages:
    """Tell everyone the routing names about ``cause`` (once per recipient)."""

    cause: Cause
    routing: RoutingTable = ROUTING
    templates: Templates = TEMPLATES
    #: The counsellor tool's page of a referral (``…/{referral_id}``), linked from the mails.
    referral_url_template: str | None = None


async def record(
    command: RecordMessages, principal: Principal, session: AsyncSession
) -> list[Notification]:
    """Create the messages and deliveries of the cause; return the new messages.

    Statements: the directory entries the cause needs that this transaction has not read yet
    (one query, none when all are known: :func:`notifications.use_cases.recipients.load`), then
    the messages in one ``INSERT … ON CONFLICT DO NOTHING`` — the unique key (event, recipient)
    is what says a recipient was told already — and the deliveries of the new ones in one
    ``INSERT``."""
    access.ensure_platform(principal)
    cause = command.cause
    rules = command.routing.rules_for(cause.trigger, cause.context)
    if not rules:
        return []
    known = None
    if cause.referral_id is not None:
        known = await recipients.known_referral(session, cause.referral_id)
    keys = [key for key in _wording_keys(cause, known) if key is not None]
    for rule in rules:
        if (key := await recipients.key_for(session, rule.audience, cause.context)) is not None:
            keys.append(key)
    await recipients.load(session, keys)
    extras = await _wording(session, cause, known, command.referral_url_template)
    messages: list[tuple[Notification, list[Delivery]]] = []
    told: set[tuple[str, str]] = set()
    for rule in rules:
        addressee = await recipients.find(session, rule.audience, cause.context)
        if addressee is None:
            log.debug("nobody to tell", trigger=cause.trigger, audience=rule.audience)
            continue
        if (addressee.kind, addressee.id) in told:  # one message per (cause, recipient)
            continue
        told.add((addressee.kind, addressee.id))
        # An event's own field (agency_name of referral.sent…) wins when it is set.
        context = {**cause.context}
        for name, value in extras.items():
            if context.get(name) is None:
                context[name] = value
        if rule.audience not in NAMED_TO:
            context["person_name"] = None
        messages.append(_message(principal, cause, rule, addressee, command.templates, context))
    return await _insert(session, messages)


def _wording_keys(
    cause: Cause, known: KnownReferral | None
) -> tuple[recipients.Key | None, recipients.Key | None]:
    """The directory entries :func:`_wording` reads (the agency's, the job seeker's)."""
    context = cause.context
    agency_id = context.get("agency_id") or (known.agency_id if known else None)
    job_seeker_id = context.get("job_seeker_id") or (known.job_seeker_id if known else None)
    return (
        ("agency", str(agency_id)) if agency_id else None,
        (JOB_SEEKER, str(job_seeker_id)) if job_seeker_id is not None else None,
    )


async def _wording(
    session: AsyncSession,
    cause: Cause,
    known: KnownReferral | None,
    referral_url_template: str | None,
) -> dict[str, Any]:
    """The variables that make a mail read well (:mod:`notifications.domain.wording`): the
    métier's name, the agency's name and town, the job seeker's name (known only with their
    contact consent), the link to the referral. Each None when unknown."""
    context = cause.context
    rome_code = context.get("rome_code") or (known.rome_code if known else None)
    agency_id = context.get("agency_id") or (known.agency_id if known else None)
    agency_name = known.agency_name if known else None
    if agency_name is None and agency_id:
        entry = await recipients.entry(session, "agency", str(agency_id))
        agency_name = entry.display_name if entry is not None else None
    job_seeker_id = context.get("job_seeker_id") or (known.job_seeker_id if known else None)
    person = None
    if job_seeker_id is not None:
        person = await recipients.entry(session, JOB_SEEKER, str(job_seeker_id))
    extras: dict[str, Any] = {
        "rome_label": referentials.rome_label(rome_code),
        "agency_name": agency_name,
        "agency_town": known.agency_town if known else None,
        "person_name": person.display_name if person is not None else None,
        "referral_url": referral_link(referral_url_template, cause.referral_id),
    }
    return {name: extras[name] for name in EXTRA_VARIABLES}


def _message(
    principal: Principal,
    cause: Cause,
    rule: Rule,
    addressee: Addressee,
    templates: Templates,
    variables: dict[str, Any],
) -> tuple[Notification, list[Delivery]]:
    """The message and its deliveries, rendered, not yet written."""
    now = datetime.now(UTC)
    context = {**variables, "salutation": salutation(addressee)}
    rendered = {
        channel: templates.render(rule.template, channel, context) for channel in rule.channels
    }
    first = rendered[rule.channels[0]]
    actor = access.delivery_actor(principal)
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
        read_at=None,
    )
    deliveries: list[Delivery] = []
    for channel in rule.channels:
        delivery_id = uuid.uuid4()
        text = rendered[channel]
        body = text.body
        if channel == Channel.WEBHOOK:
            body = webhook_body(
                delivery_id=delivery_id,
                message_id=message.id,
                kind=message.kind,
                recipient_kind=message.recipient_kind,
                recipient_id=message.recipient_id,
                cause=cause,
                subject=text.subject,
                text=text.body,
            )
        address = addressee.address_for(channel)
        action, error = first_move(
            address, required=rule.required, opted_out=addressee.opted_out(channel, rule.kind)
        )
        status = check_transition(action, None, actor).target
        deliveries.append(
            Delivery(
                id=delivery_id,
                notification_id=message.id,
                channel=channel,
                address=address,
                subject=text.subject,
                body=body,
                status=status.value,
                attempts=0,
                next_attempt_at=now if status is DeliveryStatus.PENDING else None,
                last_error=error,
                created_at=now,
                updated_at=now,
                delivered_at=None,
            )
        )
    return message, deliveries


_NOTIFICATION_COLUMNS = tuple(column.key for column in Notification.__table__.columns)
_DELIVERY_COLUMNS = tuple(column.key for column in Delivery.__table__.columns)
_INSERT_DELIVERIES = insert(Delivery.__table__)


async def _insert(
    session: AsyncSession, messages: list[tuple[Notification, list[Delivery]]]
) -> list[Notification]:
    """Write the messages not written yet (the unique key (event, recipient) decides), then their
    deliveries; the new messages join the session as if read (with their deliveries)."""
    if not messages:
        return []
    # Parameters apart from the statement (not ``.values(rows)``): the statement is compiled
    # once and cached, whatever the number of rows.
    table = Notification.__table__
    inserted = set(
        (
            await session.execute(
                insert_ignoring_conflicts(session, table).returning(table.c.id),  # type: ignore[arg-type]
                [_row(message, _NOTIFICATION_COLUMNS) for message, _ in messages],
            )
        ).scalars()
    )
    created = [(message, deliveries) for message, deliveries in messages if message.id in inserted]
    rows = [_row(d, _DELIVERY_COLUMNS) for _, deliveries in created for d in deliveries]
    if rows:
        await session.execute(_INSERT_DELIVERIES, rows)
    for message, deliveries in created:
        make_transient_to_detached(message)
        for delivery in deliveries:
            make_transient_to_detached(delivery)
            set_committed_value(delivery, "notification", message)
        set_committed_value(message, "deliveries", sorted(deliveries, key=lambda d: d.channel))
        session.add(message)
    return [message for message, _ in created]


def _row(instance: Notification | Delivery, columns: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(instance, name) for name in columns}


# -- in-app: marking read -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MarkRead:
    message_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class InAppMessage:
    """An in-app message as its recipient reads it (text of its in-app delivery)."""

    message: Notification
    delivery: Delivery


async def mark_read(command: MarkRead, principal: Principal, session: AsyncSession) -> InAppMessage:
    """Mark one of the caller's in-app messages read (again: unchanged)."""
    row = (
        await session.execute(
            select(Notification, Delivery)
            .join(Delivery, access.in_app_delivered())
            .where(access.addressed_to(principal), Notification.id == command.message_id)
        )
    ).first()
    if row is None:  # someone else's message is as unknown as a missing one
        raise MessageNotFound("Message introuvable.")
    message, delivery = row
    if message.read_at is None:
        message.read_at = datetime.now(UTC)
    return InAppMessage(message, delivery)


@dataclass(frozen=True, slots=True)
class MarkAllRead:
    pass


async def mark_all_read(command: MarkAllRead, principal: Principal, session: AsyncSession) -> int:
    """Mark every unread message of the caller read; return how many."""
    result = await session.execute(
        update(Notification)
        .where(access.addressed_to(principal), Notification.read_at.is_(None))
        .values(read_at=datetime.now(UTC))
    )
    return int(result.rowcount)  # type: ignore[attr-defined]

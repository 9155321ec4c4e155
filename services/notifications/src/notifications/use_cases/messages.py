"""Messages: recording what must be said, and the recipient marking their in-app messages read.

Recording: for one cause (an event or a reminder), one message per recipient the routing names,
and one delivery per channel, rendered now and sent later by the delivery worker
(:mod:`notifications.jobs`). This runs inside the consumer's (or the reminder job's) transaction
and never talks to a mail server or a webhook: an SMTP outage cannot block the event stream.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import Table, insert, select, update
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
from notifications.use_cases.statements import inserted_returning
from shared import referentials
from shared.auth.tokens import Principal

log = structlog.get_logger(__name__)

_MESSAGES: Table = Notification.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class RecordMessages:
    """Tell everyone the routing names about ``cause`` (once per recipient)."""

    cause: Cause
    routing: RoutingTable = ROUTING
    templates: Templates = TEMPLATES
    #: The counsellor tool's page of a referral (``…/{referral_id}``), linked from the mails.
    referral_url_template: str | None = None


@dataclass(frozen=True)
class RecordManyMessages:
    """:class:`RecordMessages` of each of ``causes``, in order, together (a consumer batch)."""

    causes: Sequence[Cause]
    routing: RoutingTable = ROUTING
    templates: Templates = TEMPLATES
    referral_url_template: str | None = None


async def record(
    command: RecordMessages, principal: Principal, session: AsyncSession
) -> list[Notification]:
    """Create the messages and deliveries of the cause; return the new messages.

    Statements: the followed referral the cause is about if this transaction has not read it yet,
    the directory entries the cause needs that it has not read yet (one query, none when all are
    known: :func:`notifications.use_cases.recipients.load`), then the messages in one ``INSERT …
    ON CONFLICT DO NOTHING`` — the unique key (event, recipient) is what says a recipient was
    told already — and the deliveries of the new ones in one ``INSERT``."""
    access.ensure_platform(principal)
    planned = await _plan(
        session,
        principal,
        [command.cause],
        command.routing,
        command.templates,
        command.referral_url_template,
    )
    return _joined(session, await _write(session, planned))


async def record_many(
    command: RecordManyMessages, principal: Principal, session: AsyncSession
) -> int:
    """What :func:`record` of each cause in order does, in the statements of one: the followed
    referrals not read yet (one query), the directory entries not read yet (one query), the
    messages of every cause (one ``INSERT … ON CONFLICT DO NOTHING``) and the deliveries of the
    new ones (one ``INSERT``). The causes must not change what the others read (the directory,
    the followed referrals' fields): the consumer's batch of one event type. Returns how many
    messages were new; nothing is loaded into the session."""
    access.ensure_platform(principal)
    planned = await _plan(
        session,
        principal,
        command.causes,
        command.routing,
        command.templates,
        command.referral_url_template,
    )
    return len(await _write(session, planned))


#: A message's row and the rows of its deliveries, rendered, not yet written.
_Planned = tuple[dict[str, Any], list[dict[str, Any]]]


async def _plan(
    session: AsyncSession,
    principal: Principal,
    causes: Sequence[Cause],
    routing: RoutingTable,
    templates: Templates,
    referral_url_template: str | None,
) -> list[_Planned]:
    """The messages of ``causes``: their followed referrals and directory entries read in one
    query each (what the transaction has not read yet), then each rendered."""
    routed = [
        (cause, rules)
        for cause in causes
        if (rules := routing.rules_for(cause.trigger, cause.context))
    ]
    if not routed:
        return []
    referral_ids = [cause.referral_id for cause, _ in routed if cause.referral_id is not None]
    known = await recipients.known_referrals(session, referral_ids) if referral_ids else {}
    keys: list[recipients.Key] = []
    for cause, rules in routed:
        referral = known.get(cause.referral_id) if cause.referral_id is not None else None
        keys.extend(key for key in _wording_keys(cause, referral) if key is not None)
        for rule in rules:
            if (key := recipients.key_of(rule.audience, cause.context, referral)) is not None:
                keys.append(key)
    await recipients.load(session, keys)
    actor = access.delivery_actor(principal)
    planned: list[_Planned] = []
    nobody: dict[str, int] = {}
    for cause, rules in routed:
        referral = known.get(cause.referral_id) if cause.referral_id is not None else None
        extras = _wording(session, cause, referral, referral_url_template)
        told: set[tuple[str, str]] = set()
        now = datetime.now(UTC)
        for rule in rules:
            addressee = recipients.find_loaded(session, rule.audience, cause.context, referral)
            if addressee is None:
                nobody[rule.audience] = nobody.get(rule.audience, 0) + 1
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
            planned.append(_message(actor, cause, rule, addressee, templates, context, now))
    if nobody:
        log.debug("nobody to tell", trigger=routed[0][0].trigger, audiences=nobody)
    return planned


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


def _wording(
    session: AsyncSession,
    cause: Cause,
    known: KnownReferral | None,
    referral_url_template: str | None,
) -> dict[str, Any]:
    """The variables that make a mail read well (:mod:`notifications.domain.wording`): the
    métier's name, the agency's name and town, the job seeker's name (known only with their
    contact consent), the link to the referral. Each None when unknown. The directory entries
    are those :func:`_wording_keys` named, read already."""
    context = cause.context
    rome_code = context.get("rome_code") or (known.rome_code if known else None)
    agency_key, person_key = _wording_keys(cause, known)
    agency_name = known.agency_name if known else None
    if agency_name is None and agency_key is not None:
        entry = recipients.loaded_entry(session, agency_key)
        agency_name = entry.display_name if entry is not None else None
    person = recipients.loaded_entry(session, person_key) if person_key is not None else None
    extras: dict[str, Any] = {
        "rome_label": referentials.rome_label(rome_code),
        "agency_name": agency_name,
        "agency_town": known.agency_town if known else None,
        "person_name": person.display_name if person is not None else None,
        "referral_url": referral_link(referral_url_template, cause.referral_id),
    }
    return {name: extras[name] for name in EXTRA_VARIABLES}


def _message(
    actor: Any,
    cause: Cause,
    rule: Rule,
    addressee: Addressee,
    templates: Templates,
    variables: dict[str, Any],
    now: datetime,
) -> _Planned:
    """The message's row and its deliveries', rendered, not yet written."""
    context = {**variables, "salutation": salutation(addressee)}
    rendered = {
        channel: templates.render(rule.template, channel, context) for channel in rule.channels
    }
    first = rendered[rule.channels[0]]
    message_id = uuid.uuid4()
    referral_id = cause.referral_id
    message = {
        "id": message_id,
        "event_id": cause.cause_id,
        "event_type": cause.trigger,
        "kind": rule.kind,
        "required": rule.required,
        "recipient_kind": addressee.kind,
        "recipient_id": addressee.id,
        "subject": first.subject,
        "body": first.body,
        "referral_id": referral_id,
        "created_at": now,
        "read_at": None,
    }
    deliveries: list[dict[str, Any]] = []
    for channel in rule.channels:
        delivery_id = uuid.uuid4()
        text = rendered[channel]
        body = text.body
        if channel == Channel.WEBHOOK:
            body = webhook_body(
                delivery_id=delivery_id,
                message_id=message_id,
                kind=rule.kind,
                recipient_kind=addressee.kind,
                recipient_id=addressee.id,
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
            {
                "id": delivery_id,
                "notification_id": message_id,
                "channel": channel,
                "address": address,
                "subject": text.subject,
                "body": body,
                "status": status.value,
                "attempts": 0,
                "next_attempt_at": now if status is DeliveryStatus.PENDING else None,
                "last_error": error,
                "created_at": now,
                "updated_at": now,
                "delivered_at": None,
            }
        )
    return message, deliveries


_INSERT_DELIVERIES = insert(Delivery.__table__)


async def _write(session: AsyncSession, planned: list[_Planned]) -> list[_Planned]:
    """Write the messages not written yet (the unique key (event, recipient) decides), then the
    deliveries of those; return the new ones."""
    if not planned:
        return []
    # Parameters apart from the statement (not ``.values(rows)``): the statement is compiled
    # once and cached, whatever the number of rows.
    inserted = set(
        (
            await session.execute(
                inserted_returning(session, _MESSAGES, "id"), [m for m, _ in planned]
            )
        ).scalars()
    )
    created = [(m, deliveries) for m, deliveries in planned if m["id"] in inserted]
    rows = [d for _, deliveries in created for d in deliveries]
    if rows:
        await session.execute(_INSERT_DELIVERIES, rows)
    return created


def _joined(session: AsyncSession, created: list[_Planned]) -> list[Notification]:
    """The new messages in the session as if read (with their deliveries)."""
    joined: list[Notification] = []
    for row, delivery_rows in created:
        message = Notification(**row)
        deliveries = [Delivery(**d) for d in delivery_rows]
        make_transient_to_detached(message)
        for delivery in deliveries:
            make_transient_to_detached(delivery)
            set_committed_value(delivery, "notification", message)
        set_committed_value(message, "deliveries", sorted(deliveries, key=lambda d: d.channel))
        session.add(message)
        joined.append(message)
    return joined


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

"""Every read of the HTTP API: messages and deliveries (ops), the caller's in-app messages, the
directory. Each filters rows through :mod:`notifications.access`; keyset pages by
``(created_at, id)``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from notifications import access
from notifications.domain.delivery import Channel
from notifications.domain.errors import MessageNotFound, RecipientNotFound
from notifications.models import Delivery, DeliveryAttempt, Notification, Recipient
from notifications.use_cases.deliveries import delivery_with_message
from shared.auth.tokens import Principal
from shared.http.pagination import KeysetPage, fetch_page

# -- messages -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ListMessages:
    referral_id: uuid.UUID | None = None
    recipient_kind: str | None = None
    recipient_id: str | None = None
    event_type: str | None = None
    limit: int = 50
    cursor: str | None = None


async def list_messages(
    query: ListMessages, principal: Principal, session: AsyncSession
) -> KeysetPage[Notification]:
    """Messages, oldest first (one per cause and recipient)."""
    stmt = select(Notification).where(access.messages_visible_to(principal))
    if query.referral_id is not None:
        stmt = stmt.where(Notification.referral_id == query.referral_id)
    if query.recipient_kind is not None:
        stmt = stmt.where(Notification.recipient_kind == query.recipient_kind)
    if query.recipient_id is not None:
        stmt = stmt.where(Notification.recipient_id == query.recipient_id)
    if query.event_type is not None:
        stmt = stmt.where(Notification.event_type == query.event_type)
    return await fetch_page(
        session,
        stmt,
        created=Notification.created_at,
        ident=Notification.id,
        cursor=query.cursor,
        limit=query.limit,
        newest_first=False,
    )


@dataclass(frozen=True, slots=True)
class DeliveryAsSent:
    delivery: Delivery
    message: Notification
    attempts: list[DeliveryAttempt]


@dataclass(frozen=True, slots=True)
class MessageAsSent:
    message: Notification
    deliveries: list[DeliveryAsSent]


async def message_as_sent(
    message_id: uuid.UUID, principal: Principal, session: AsyncSession
) -> MessageAsSent:
    """A message with each delivery as sent (content, address, attempts)."""
    message = await session.scalar(
        select(Notification).where(
            Notification.id == message_id, access.messages_visible_to(principal)
        )
    )
    if message is None:
        raise MessageNotFound("Message introuvable.")
    deliveries = [
        DeliveryAsSent(d, message, await _attempts(session, d.id)) for d in message.deliveries
    ]
    return MessageAsSent(message, deliveries)


# -- deliveries -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ListDeliveries:
    status: str | None = None
    recipient_kind: str | None = None
    recipient_id: str | None = None
    channel: str | None = None
    limit: int = 50
    cursor: str | None = None


async def list_deliveries(
    query: ListDeliveries, principal: Principal, session: AsyncSession
) -> KeysetPage[Delivery]:
    """Deliveries, oldest first (each with its ``notification`` loaded)."""
    stmt = (
        select(Delivery)
        .join(Notification, Notification.id == Delivery.notification_id)
        .where(access.messages_visible_to(principal))
    )
    if query.status is not None:
        stmt = stmt.where(Delivery.status == query.status)
    if query.channel is not None:
        stmt = stmt.where(Delivery.channel == query.channel)
    if query.recipient_kind is not None:
        stmt = stmt.where(Notification.recipient_kind == query.recipient_kind)
    if query.recipient_id is not None:
        stmt = stmt.where(Notification.recipient_id == query.recipient_id)
    return await fetch_page(
        session,
        stmt,
        created=Delivery.created_at,
        ident=Delivery.id,
        cursor=query.cursor,
        limit=query.limit,
        newest_first=False,
    )


async def delivery_as_sent(
    delivery_id: uuid.UUID, principal: Principal, session: AsyncSession
) -> DeliveryAsSent:
    delivery, message = await delivery_with_message(session, principal, delivery_id)
    return DeliveryAsSent(delivery, message, await _attempts(session, delivery.id))


async def attempts_of(
    delivery: Delivery, message: Notification, session: AsyncSession
) -> DeliveryAsSent:
    """A delivery just changed by a use case, as sent, with its attempt log."""
    return DeliveryAsSent(delivery, message, await _attempts(session, delivery.id))


async def _attempts(session: AsyncSession, delivery_id: uuid.UUID) -> list[DeliveryAttempt]:
    return list(
        (
            await session.scalars(
                select(DeliveryAttempt)
                .where(DeliveryAttempt.delivery_id == delivery_id)
                .order_by(DeliveryAttempt.id)
            )
        ).all()
    )


# -- the caller's in-app messages -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ListInApp:
    unread_only: bool = False
    limit: int = 50
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class InAppPage:
    #: ``(message, its in-app delivery)``, newest first.
    items: list[tuple[Notification, Delivery]]
    next_cursor: str | None
    unread_count: int


async def in_app_messages(
    query: ListInApp, principal: Principal, session: AsyncSession
) -> InAppPage:
    """The caller's messages whose in-app delivery is done, newest first, with the unread count."""
    stmt = (
        select(Notification)
        .join(Delivery, access.in_app_delivered())
        .where(access.addressed_to(principal))
    )
    if query.unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    page = await fetch_page(
        session,
        stmt,
        created=Notification.created_at,
        ident=Notification.id,
        cursor=query.cursor,
        limit=query.limit,
    )
    unread = (
        select(func.count())
        .select_from(Notification)
        .join(Delivery, access.in_app_delivered())
        .where(access.addressed_to(principal), Notification.read_at.is_(None))
    )
    unread_count = int(await session.scalar(unread) or 0)
    items = [(message, _in_app_delivery(message)) for message in page.items]
    return InAppPage(items, page.next_cursor, unread_count)


def _in_app_delivery(message: Notification) -> Delivery:
    """The message's in-app delivery (one per message and channel)."""
    return next(d for d in message.deliveries if d.channel == Channel.IN_APP)


# -- directory ------------------------------------------------------------------------------------


async def recipient(
    kind: str, recipient_id: str, principal: Principal, session: AsyncSession
) -> Recipient:
    """A directory entry (ops)."""
    access.ensure_manages_directory(principal)
    row = await session.get(Recipient, (kind, recipient_id))
    if row is None:
        raise RecipientNotFound("Destinataire inconnu.")
    return row


async def own_preferences(
    principal: Principal, session: AsyncSession
) -> tuple[str, str, Recipient | None]:
    """The caller's own directory entry, if any: ``(kind, id, row or None)``."""
    kind, recipient_id = access.own_recipient(principal)
    return kind, recipient_id, await session.get(Recipient, (kind, recipient_id))

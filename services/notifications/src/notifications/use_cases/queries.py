"""Every read of the HTTP API: messages and deliveries (ops), the caller's in-app messages, the
directory. Each filters rows through :mod:`notifications.access`; keyset pages by
``(created_at, id)``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from notifications import access
from notifications.models import Delivery, DeliveryAttempt, Notification, Recipient
from notifications.use_cases.deliveries import delivery_with_message
from shared.auth.tokens import Principal
from shared.http.pagination import decode_time_cursor, encode_time_cursor
from shared.http.problems import ProblemError


@dataclass(frozen=True, slots=True)
class PageOf:
    items: list[Any]
    next_cursor: str | None


# -- messages -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ListMessages:
    referral_id: uuid.UUID | None = None
    recipient_kind: str | None = None
    recipient_id: str | None = None
    event_type: str | None = None
    limit: int = 50
    cursor: str | None = None


async def list_messages(query: ListMessages, principal: Principal, session: AsyncSession) -> PageOf:
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
    stmt = _keyset(stmt, Notification, query.cursor, newest_first=False)
    rows = list((await session.scalars(stmt.limit(query.limit + 1))).all())
    return _page(rows, query.limit, lambda row: row)


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
        raise ProblemError(404, "Message introuvable", problem="not-found")
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
) -> PageOf:
    """Deliveries, oldest first, each with its message: items are ``(delivery, message)``."""
    stmt = (
        select(Delivery, Notification)
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
    stmt = _keyset(stmt, Delivery, query.cursor, newest_first=False)
    rows = [(d, m) for d, m in (await session.execute(stmt.limit(query.limit + 1))).all()]
    return _page(rows, query.limit, lambda row: row[0])


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
        select(Notification, Delivery)
        .join(Delivery, access.in_app_delivered())
        .where(access.addressed_to(principal))
    )
    if query.unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    stmt = _keyset(stmt, Notification, query.cursor, newest_first=True)
    unread = (
        select(func.count())
        .select_from(Notification)
        .join(Delivery, access.in_app_delivered())
        .where(access.addressed_to(principal), Notification.read_at.is_(None))
    )
    rows = [(m, d) for m, d in (await session.execute(stmt.limit(query.limit + 1))).all()]
    unread_count = int(await session.scalar(unread) or 0)
    page = _page(rows, query.limit, lambda row: row[0])
    return InAppPage(page.items, page.next_cursor, unread_count)


# -- directory ------------------------------------------------------------------------------------


async def recipient(
    kind: str, recipient_id: str, principal: Principal, session: AsyncSession
) -> Recipient:
    """A directory entry (ops)."""
    access.ensure_manages_directory(principal)
    row = await session.get(Recipient, (kind, recipient_id))
    if row is None:
        raise ProblemError(404, "Destinataire inconnu", problem="not-found")
    return row


async def own_preferences(
    principal: Principal, session: AsyncSession
) -> tuple[str, str, Recipient | None]:
    """The caller's own directory entry, if any: ``(kind, id, row or None)``."""
    kind, recipient_id = access.own_recipient(principal)
    return kind, recipient_id, await session.get(Recipient, (kind, recipient_id))


# -- paging ---------------------------------------------------------------------------------------


def _keyset(
    stmt: Select[Any], model: Any, cursor: str | None, *, newest_first: bool
) -> Select[Any]:
    if newest_first:
        stmt = stmt.order_by(model.created_at.desc(), model.id.desc())
    else:
        stmt = stmt.order_by(model.created_at, model.id)
    if cursor:
        created, last_id = decode_time_cursor(cursor)
        if newest_first:
            after = or_(
                model.created_at < created, and_(model.created_at == created, model.id < last_id)
            )
        else:
            after = or_(
                model.created_at > created, and_(model.created_at == created, model.id > last_id)
            )
        stmt = stmt.where(after)
    return stmt


def _page(rows: list[Any], limit: int, keyed: Any) -> PageOf:
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = keyed(rows[-1])
        next_cursor = encode_time_cursor(last.created_at, last.id)
    return PageOf(rows, next_cursor)

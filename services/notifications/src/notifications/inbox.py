"""The in-app inbox of counsellor tools (and agency users): the caller's own messages, newest
first, cursor-paginated, with the unread count; marking read; the caller's own preferences."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlalchemy import Select, and_, func, or_, select, update

from notifications.api import (
    PreferencesIn,
    RecipientOut,
    RuntimeDep,
    parse_cursor,
    recipient_out,
    save_preferences,
)
from notifications.models import Delivery, Notification, Recipient
from shared.auth.tokens import Principal, Role
from shared.http.pagination import encode_time_cursor
from shared.http.problems import ProblemError
from shared.http.security import require_roles

router = APIRouter(prefix="/v1", tags=["inbox"])

Reader = Annotated[Principal, Depends(require_roles(Role.COUNSELLOR, Role.AGENCY))]


def recipient_of(principal: Principal) -> tuple[str, str]:
    """Whose inbox the caller reads: a counsellor's own (token subject), an agency's."""
    if principal.role is Role.AGENCY and principal.agency_id:
        return "agency", principal.agency_id
    return "counsellor", principal.subject


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


def _visible(kind: str, recipient_id: str) -> Select[Notification, Delivery]:
    """The caller's messages whose inbox delivery is done."""
    return (
        select(Notification, Delivery)
        .join(
            Delivery,
            and_(
                Delivery.notification_id == Notification.id,
                Delivery.channel == "inbox",
                Delivery.status == "delivered",
            ),
        )
        .where(Notification.recipient_kind == kind, Notification.recipient_id == recipient_id)
    )


def _item(message: Notification, delivery: Delivery) -> InboxItem:
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


@router.get("/inbox", response_model=InboxPage, summary="Mes messages (les plus récents d'abord)")
async def inbox(
    principal: Reader,
    runtime: RuntimeDep,
    unread: Annotated[bool, Query(description="Seulement les non lus")] = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query()] = None,
) -> InboxPage:
    kind, recipient_id = recipient_of(principal)
    query = _visible(kind, recipient_id).order_by(
        Notification.created_at.desc(), Notification.id.desc()
    )
    if unread:
        query = query.where(Notification.read_at.is_(None))
    if cursor:
        created, last_id = parse_cursor(cursor)
        query = query.where(
            or_(
                Notification.created_at < created,
                and_(Notification.created_at == created, Notification.id < last_id),
            )
        )
    unread_query = (
        select(func.count())
        .select_from(Notification)
        .join(
            Delivery,
            and_(
                Delivery.notification_id == Notification.id,
                Delivery.channel == "inbox",
                Delivery.status == "delivered",
            ),
        )
        .where(
            Notification.recipient_kind == kind,
            Notification.recipient_id == recipient_id,
            Notification.read_at.is_(None),
        )
    )
    async with runtime.session() as session:
        rows = list((await session.execute(query.limit(limit + 1))).all())
        unread_count = int(await session.scalar(unread_query) or 0)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1][0]
        next_cursor = encode_time_cursor(last.created_at, last.id)
    return InboxPage(
        items=[_item(message, delivery) for message, delivery in rows],
        next_cursor=next_cursor,
        unread_count=unread_count,
    )


@router.post(
    "/inbox/{message_id}/read", response_model=InboxItem, summary="Marquer un message comme lu"
)
async def mark_read(principal: Reader, runtime: RuntimeDep, message_id: uuid.UUID) -> InboxItem:
    kind, recipient_id = recipient_of(principal)
    async with runtime.database.transaction() as session:
        row = (
            await session.execute(_visible(kind, recipient_id).where(Notification.id == message_id))
        ).first()
        if row is None:  # someone else's message is as unknown as a missing one
            raise ProblemError(404, "Message introuvable", problem="not-found")
        message, delivery = row
        if message.read_at is None:
            message.read_at = datetime.now(UTC)
        return _item(message, delivery)


class MarkedRead(BaseModel):
    marked: int


@router.post("/inbox/read-all", response_model=MarkedRead, summary="Tout marquer comme lu")
async def mark_all_read(principal: Reader, runtime: RuntimeDep) -> MarkedRead:
    kind, recipient_id = recipient_of(principal)
    async with runtime.database.transaction() as session:
        result = await session.execute(
            update(Notification)
            .where(
                Notification.recipient_kind == kind,
                Notification.recipient_id == recipient_id,
                Notification.read_at.is_(None),
            )
            .values(read_at=datetime.now(UTC))
        )
    return MarkedRead(marked=int(result.rowcount))  # type: ignore[attr-defined]


@router.get("/preferences", response_model=RecipientOut, summary="Mes préférences")
async def my_preferences(principal: Reader, runtime: RuntimeDep) -> RecipientOut:
    kind, recipient_id = recipient_of(principal)
    async with runtime.session() as session:
        row = await session.get(Recipient, (kind, recipient_id))
    if row is None:
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
    return recipient_out(row)


@router.put(
    "/preferences",
    response_model=RecipientOut,
    summary="Me désinscrire d'un canal ou d'un type de message",
    description="Les messages exigés par la procédure (ex. la copie d'une orientation adressée à "
    "l'agence) sont envoyés quelles que soient les préférences.",
)
async def set_my_preferences(
    principal: Reader, runtime: RuntimeDep, body: PreferencesIn
) -> RecipientOut:
    kind, recipient_id = recipient_of(principal)
    return await save_preferences(runtime, kind, recipient_id, body)

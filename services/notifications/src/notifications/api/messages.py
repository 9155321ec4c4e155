"""Ops: the messages produced (one per cause and recipient) and a message as sent, channel by
channel."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from notifications.api.deps import Cursor, Ops, OpsLimit, RecipientKind, Runtime
from notifications.api.schemas import (
    NotificationDetail,
    NotificationOut,
    delivery_detail,
    notification_out,
)
from notifications.use_cases import queries
from shared.http.pagination import Page

router = APIRouter(prefix="/v1", tags=["notifications"])


@router.get(
    "/notifications",
    response_model=Page[NotificationOut],
    summary="Messages produits (un par événement et destinataire)",
)
async def list_notifications(
    principal: Ops,
    runtime: Runtime,
    referral_id: Annotated[uuid.UUID | None, Query()] = None,
    recipient_kind: Annotated[RecipientKind | None, Query()] = None,
    recipient_id: Annotated[str | None, Query()] = None,
    event_type: Annotated[str | None, Query()] = None,
    limit: OpsLimit = 50,
    cursor: Cursor = None,
) -> dict[str, object]:
    query = queries.ListMessages(
        referral_id=referral_id,
        recipient_kind=recipient_kind,
        recipient_id=recipient_id,
        event_type=event_type,
        limit=limit,
        cursor=cursor,
    )
    async with runtime.session() as session:
        page = await queries.list_messages(query, principal, session)
        return page.map(notification_out)


@router.get(
    "/notifications/{notification_id}",
    response_model=NotificationDetail,
    summary="Un message tel qu'envoyé, canal par canal",
)
async def get_notification(
    principal: Ops, runtime: Runtime, notification_id: uuid.UUID
) -> NotificationDetail:
    async with runtime.session() as session:
        sent = await queries.message_as_sent(notification_id, principal, session)
        details = [delivery_detail(d) for d in sent.deliveries]
        summary = notification_out(sent.message)
    return NotificationDetail(**summary.model_dump(), deliveries_as_sent=details)

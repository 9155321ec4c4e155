"""Ops HTTP API of the notifications service (``/v1``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel
from sqlalchemy import and_, or_, select

from notifications.models import Notification
from shared.auth.tokens import Principal, Role
from shared.http.pagination import Page, decode_cursor, encode_cursor
from shared.http.security import require_roles
from shared.runtime import ServiceRuntime

router = APIRouter(prefix="/v1", tags=["notifications"])

Ops = Annotated[Principal, Depends(require_roles(Role.OPS))]


def _runtime(request: Request) -> ServiceRuntime:
    return request.app.state.runtime  # type: ignore[no-any-return]


class NotificationOut(BaseModel):
    id: uuid.UUID
    event_id: str
    event_type: str
    recipient_kind: str
    recipient_id: str
    channel: str
    subject: str
    body: str
    referral_id: uuid.UUID | None
    created_at: datetime


@router.get("/notifications", response_model=Page[NotificationOut], summary="Messages produits")
async def list_notifications(
    _principal: Ops,
    runtime: Annotated[ServiceRuntime, Depends(_runtime)],
    referral_id: Annotated[uuid.UUID | None, Query()] = None,
    recipient_id: Annotated[str | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query()] = None,
) -> dict[str, object]:
    query = select(Notification).order_by(Notification.created_at, Notification.id)
    if referral_id is not None:
        query = query.where(Notification.referral_id == referral_id)
    if recipient_id is not None:
        query = query.where(Notification.recipient_id == recipient_id)
    if cursor:
        created_text, last_id = decode_cursor(cursor, size=2)
        created = datetime.fromisoformat(created_text)
        query = query.where(
            or_(
                Notification.created_at > created,
                and_(Notification.created_at == created, Notification.id > uuid.UUID(last_id)),
            )
        )
    async with runtime.session() as session:
        rows = list((await session.scalars(query.limit(limit + 1))).all())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor([rows[-1].created_at.isoformat(), str(rows[-1].id)])
    return {
        "items": [NotificationOut.model_validate(r, from_attributes=True) for r in rows],
        "next_cursor": next_cursor,
    }

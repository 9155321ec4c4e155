"""The in-app messages of counsellor tools (and agency users), served at ``/v1/inbox``: the
caller's own messages, newest first, cursor-paginated, with the unread count; marking read; the
caller's own preferences. Whose messages they are is :mod:`notifications.access`'s decision."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from notifications import access
from notifications.api.deps import Cursor, InAppLimit, Reader, Runtime
from notifications.api.schemas import (
    InboxItem,
    InboxPage,
    MarkedRead,
    PreferencesIn,
    RecipientOut,
    in_app_item,
    nobody_on_file,
    recipient_out,
)
from notifications.use_cases import messages, preferences, queries

router = APIRouter(prefix="/v1", tags=["inbox"])


@router.get("/inbox", response_model=InboxPage, summary="Mes messages (les plus récents d'abord)")
async def inbox(
    principal: Reader,
    runtime: Runtime,
    unread: Annotated[bool, Query(description="Seulement les non lus")] = False,
    limit: InAppLimit = 50,
    cursor: Cursor = None,
) -> InboxPage:
    query = queries.ListInApp(unread_only=unread, limit=limit, cursor=cursor)
    async with runtime.session() as session:
        page = await queries.in_app_messages(query, principal, session)
    return InboxPage(
        items=[in_app_item(message, delivery) for message, delivery in page.items],
        next_cursor=page.next_cursor,
        unread_count=page.unread_count,
    )


@router.post(
    "/inbox/{message_id}/read", response_model=InboxItem, summary="Marquer un message comme lu"
)
async def mark_read(principal: Reader, runtime: Runtime, message_id: uuid.UUID) -> InboxItem:
    async with runtime.database.transaction() as session:
        read = await messages.mark_read(messages.MarkRead(message_id), principal, session)
        return in_app_item(read.message, read.delivery)


@router.post("/inbox/read-all", response_model=MarkedRead, summary="Tout marquer comme lu")
async def mark_all_read(principal: Reader, runtime: Runtime) -> MarkedRead:
    async with runtime.database.transaction() as session:
        marked = await messages.mark_all_read(messages.MarkAllRead(), principal, session)
    return MarkedRead(marked=marked)


@router.get("/preferences", response_model=RecipientOut, summary="Mes préférences")
async def my_preferences(principal: Reader, runtime: Runtime) -> RecipientOut:
    async with runtime.session() as session:
        kind, recipient_id, row = await queries.own_preferences(principal, session)
    return recipient_out(row) if row is not None else nobody_on_file(kind, recipient_id)


@router.put(
    "/preferences",
    response_model=RecipientOut,
    summary="Me désinscrire d'un canal ou d'un type de message",
    description="Les messages exigés par la procédure (ex. la copie d'une orientation adressée à "
    "l'agence) sont envoyés quelles que soient les préférences.",
)
async def set_my_preferences(
    principal: Reader, runtime: Runtime, body: PreferencesIn
) -> RecipientOut:
    kind, recipient_id = access.own_recipient(principal)
    command = preferences.SavePreferences(
        kind, recipient_id, tuple(body.opted_out_channels), tuple(body.opted_out_kinds)
    )
    async with runtime.database.transaction() as session:
        return recipient_out(await preferences.save(command, principal, session))

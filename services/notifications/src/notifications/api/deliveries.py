"""Ops: deliveries by status and recipient, one delivery as sent with its attempts, and the retry
of a failed or skipped one (:func:`notifications.use_cases.deliveries.retry`)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from notifications.api.deps import (
    Cursor,
    DeliveryStatusName,
    Ops,
    OpsLimit,
    RecipientKind,
    Runtime,
)
from notifications.api.schemas import DeliveryDetail, DeliveryOut, delivery_detail, delivery_out
from notifications.use_cases import deliveries, queries
from shared.http.pagination import Page

router = APIRouter(prefix="/v1", tags=["notifications"])


@router.get(
    "/deliveries",
    response_model=Page[DeliveryOut],
    summary="Envois par statut et destinataire",
)
async def list_deliveries(
    principal: Ops,
    runtime: Runtime,
    status: Annotated[DeliveryStatusName | None, Query()] = None,
    recipient_kind: Annotated[RecipientKind | None, Query()] = None,
    recipient_id: Annotated[str | None, Query()] = None,
    channel: Annotated[str | None, Query()] = None,
    limit: OpsLimit = 50,
    cursor: Cursor = None,
) -> dict[str, object]:
    query = queries.ListDeliveries(
        status=status,
        recipient_kind=recipient_kind,
        recipient_id=recipient_id,
        channel=channel,
        limit=limit,
        cursor=cursor,
    )
    async with runtime.session() as session:
        page = await queries.list_deliveries(query, principal, session)
        return page.map(lambda delivery: delivery_out(delivery, delivery.notification))


@router.get(
    "/deliveries/{delivery_id}",
    response_model=DeliveryDetail,
    summary="Un envoi tel qu'envoyé, avec ses tentatives",
)
async def get_delivery(principal: Ops, runtime: Runtime, delivery_id: uuid.UUID) -> DeliveryDetail:
    async with runtime.session() as session:
        return delivery_detail(await queries.delivery_as_sent(delivery_id, principal, session))


@router.post(
    "/deliveries/{delivery_id}/retry",
    response_model=DeliveryDetail,
    summary="Relancer un envoi en échec ou non tenté",
    description=(
        "Remet l'envoi en file (statut pending, tentatives remises à zéro, historique conservé). "
        "L'adresse est relue dans l'annuaire : corriger l'adresse puis relancer suffit."
    ),
)
async def retry_delivery(
    principal: Ops, runtime: Runtime, delivery_id: uuid.UUID
) -> DeliveryDetail:
    command = deliveries.RetryDelivery(delivery_id)
    async with runtime.database.transaction() as session:
        delivery, message = await deliveries.retry(command, principal, session)
        return delivery_detail(await queries.attempts_of(delivery, message, session))

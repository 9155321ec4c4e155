"""Ops HTTP API of the notifications service (``/v1``, role ops): messages, deliveries with their
attempts and content as sent, retry of a failed delivery, and the recipients directory."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field, HttpUrl
from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from notifications import directory
from notifications.models import Delivery, DeliveryAttempt, Notification, Recipient
from notifications.routing import AUDIENCES
from shared.auth.tokens import Principal, Role
from shared.http.app import RuntimeDep
from shared.http.pagination import (
    Page,
    decode_time_cursor,
    encode_time_cursor,
)
from shared.http.problems import FieldError, ProblemError
from shared.http.security import require_roles
from shared.runtime import ServiceRuntime

router = APIRouter(prefix="/v1", tags=["notifications"])

Ops = Annotated[Principal, Depends(require_roles(Role.OPS))]
DeliveryStatus = Literal["pending", "delivered", "failed", "skipped"]
RecipientKind = Literal["agency", "counsellor", "tutor", "job_seeker"]
assert set(RecipientKind.__args__) == set(AUDIENCES)  # type: ignore[attr-defined]


# -- messages -------------------------------------------------------------------------------------


class DeliverySummary(BaseModel):
    id: uuid.UUID
    channel: str
    status: str
    attempts: int


class NotificationOut(BaseModel):
    id: uuid.UUID
    event_id: str
    event_type: str
    kind: str
    required: bool
    recipient_kind: str
    recipient_id: str
    subject: str
    body: str
    referral_id: uuid.UUID | None
    created_at: datetime
    read_at: datetime | None
    deliveries: list[DeliverySummary]


@router.get(
    "/notifications",
    response_model=Page[NotificationOut],
    summary="Messages produits (un par événement et destinataire)",
)
async def list_notifications(
    _principal: Ops,
    runtime: RuntimeDep,
    referral_id: Annotated[uuid.UUID | None, Query()] = None,
    recipient_kind: Annotated[RecipientKind | None, Query()] = None,
    recipient_id: Annotated[str | None, Query()] = None,
    event_type: Annotated[str | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query()] = None,
) -> dict[str, object]:
    query = select(Notification).order_by(Notification.created_at, Notification.id)
    if referral_id is not None:
        query = query.where(Notification.referral_id == referral_id)
    if recipient_kind is not None:
        query = query.where(Notification.recipient_kind == recipient_kind)
    if recipient_id is not None:
        query = query.where(Notification.recipient_id == recipient_id)
    if event_type is not None:
        query = query.where(Notification.event_type == event_type)
    if cursor:
        created, last_id = parse_cursor(cursor)
        query = query.where(
            or_(
                Notification.created_at > created,
                and_(Notification.created_at == created, Notification.id > last_id),
            )
        )
    async with runtime.session() as session:
        rows = list((await session.scalars(query.limit(limit + 1))).all())
    return _page(rows, limit, NotificationOut)


class DeliveryOut(BaseModel):
    id: uuid.UUID
    notification_id: uuid.UUID
    channel: str
    address: str | None
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None
    recipient_kind: str
    recipient_id: str
    event_type: str


class AttemptOut(BaseModel):
    number: int
    started_at: datetime
    finished_at: datetime
    outcome: str
    error: str | None
    response: str | None


class DeliveryDetail(DeliveryOut):
    subject: str
    body: str = Field(
        description="Texte envoyé (courriel, boîte de réception) ou corps JSON signé."
    )
    event_id: str
    attempt_log: list[AttemptOut]


class NotificationDetail(NotificationOut):
    deliveries_as_sent: list[DeliveryDetail]


@router.get(
    "/notifications/{notification_id}",
    response_model=NotificationDetail,
    summary="Un message tel qu'envoyé, canal par canal",
)
async def get_notification(
    _principal: Ops, runtime: RuntimeDep, notification_id: uuid.UUID
) -> NotificationDetail:
    async with runtime.session() as session:
        message = await session.get(Notification, notification_id)
        if message is None:
            raise ProblemError(404, "Message introuvable", problem="not-found")
        details = [await _delivery_detail(session, d, message) for d in message.deliveries]
    summary = NotificationOut.model_validate(message, from_attributes=True)
    return NotificationDetail(**summary.model_dump(), deliveries_as_sent=details)


# -- deliveries -----------------------------------------------------------------------------------


@router.get(
    "/deliveries",
    response_model=Page[DeliveryOut],
    summary="Envois par statut et destinataire",
)
async def list_deliveries(
    _principal: Ops,
    runtime: RuntimeDep,
    status: Annotated[DeliveryStatus | None, Query()] = None,
    recipient_kind: Annotated[RecipientKind | None, Query()] = None,
    recipient_id: Annotated[str | None, Query()] = None,
    channel: Annotated[str | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query()] = None,
) -> dict[str, object]:
    query = (
        select(Delivery, Notification)
        .join(Notification, Notification.id == Delivery.notification_id)
        .order_by(Delivery.created_at, Delivery.id)
    )
    if status is not None:
        query = query.where(Delivery.status == status)
    if channel is not None:
        query = query.where(Delivery.channel == channel)
    if recipient_kind is not None:
        query = query.where(Notification.recipient_kind == recipient_kind)
    if recipient_id is not None:
        query = query.where(Notification.recipient_id == recipient_id)
    if cursor:
        created, last_id = parse_cursor(cursor)
        query = query.where(
            or_(
                Delivery.created_at > created,
                and_(Delivery.created_at == created, Delivery.id > last_id),
            )
        )
    async with runtime.session() as session:
        rows = list((await session.execute(query.limit(limit + 1))).all())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1][0]
        next_cursor = encode_time_cursor(last.created_at, last.id)
    return {
        "items": [_delivery_out(delivery, message) for delivery, message in rows],
        "next_cursor": next_cursor,
    }


@router.get(
    "/deliveries/{delivery_id}",
    response_model=DeliveryDetail,
    summary="Un envoi tel qu'envoyé, avec ses tentatives",
)
async def get_delivery(
    _principal: Ops, runtime: RuntimeDep, delivery_id: uuid.UUID
) -> DeliveryDetail:
    async with runtime.session() as session:
        delivery, message = await _delivery_or_404(session, delivery_id)
        return await _delivery_detail(session, delivery, message)


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
    _principal: Ops, runtime: RuntimeDep, delivery_id: uuid.UUID
) -> DeliveryDetail:
    async with runtime.database.transaction() as session:
        delivery, message = await _delivery_or_404(session, delivery_id)
        if delivery.status not in ("failed", "skipped"):
            raise ProblemError(
                409,
                "Conflit",
                "Seul un envoi en échec ou non tenté peut être relancé "
                f"(statut : {delivery.status}).",
                problem="delivery-not-retryable",
            )
        found = await directory.addressee(session, message.recipient_kind, message.recipient_id)
        address = found.address_for(delivery.channel)
        if address is None:
            raise ProblemError(
                409,
                "Conflit",
                f"Aucune adresse {delivery.channel} pour {message.recipient_kind} "
                f"{message.recipient_id} : enregistrez-la d'abord (PUT /v1/recipients/…).",
                problem="no-address",
            )
        now = datetime.now(UTC)
        delivery.address = address
        delivery.status = "pending"
        delivery.attempts = 0
        delivery.next_attempt_at = now
        delivery.last_error = None
        delivery.updated_at = now
        await session.flush()
        return await _delivery_detail(session, delivery, message)


async def _delivery_or_404(
    session: AsyncSession, delivery_id: uuid.UUID
) -> tuple[Delivery, Notification]:
    row = (
        await session.execute(
            select(Delivery, Notification)
            .join(Notification, Notification.id == Delivery.notification_id)
            .where(Delivery.id == delivery_id)
        )
    ).first()
    if row is None:
        raise ProblemError(404, "Envoi introuvable", problem="not-found")
    return row[0], row[1]


def _delivery_out(delivery: Delivery, message: Notification) -> DeliveryOut:
    return DeliveryOut(
        id=delivery.id,
        notification_id=delivery.notification_id,
        channel=delivery.channel,
        address=delivery.address,
        status=delivery.status,
        attempts=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at,
        last_error=delivery.last_error,
        created_at=delivery.created_at,
        updated_at=delivery.updated_at,
        delivered_at=delivery.delivered_at,
        recipient_kind=message.recipient_kind,
        recipient_id=message.recipient_id,
        event_type=message.event_type,
    )


async def _delivery_detail(
    session: AsyncSession, delivery: Delivery, message: Notification
) -> DeliveryDetail:
    attempts = (
        await session.scalars(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.delivery_id == delivery.id)
            .order_by(DeliveryAttempt.id)
        )
    ).all()
    return DeliveryDetail(
        **_delivery_out(delivery, message).model_dump(),
        subject=delivery.subject,
        body=delivery.body,
        event_id=message.event_id,
        attempt_log=[AttemptOut.model_validate(a, from_attributes=True) for a in attempts],
    )


# -- recipients directory -------------------------------------------------------------------------


class RecipientIn(BaseModel):
    display_name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    webhook_url: HttpUrl | None = None
    webhook_secret: str | None = Field(
        default=None,
        min_length=32,
        max_length=255,
        description="Clé HMAC partagée avec le récepteur ; générée si absente avec une URL.",
    )


class PreferencesIn(BaseModel):
    opted_out_channels: list[Literal["email", "webhook", "inbox"]] = Field(default_factory=list)
    opted_out_kinds: list[str] = Field(
        default_factory=list, description="Types de messages refusés (ex. referral.update)."
    )


class RecipientOut(BaseModel):
    kind: str
    id: str
    display_name: str | None
    email: str | None
    webhook_url: str | None
    webhook_secret_set: bool
    opted_out_channels: list[str]
    opted_out_kinds: list[str]
    updated_at: datetime


class RecipientCreated(RecipientOut):
    webhook_secret: str | None = Field(
        default=None, description="Montrée une seule fois, quand elle vient d'être générée."
    )


KindPath = Annotated[RecipientKind, Path(description="agency | counsellor | tutor | job_seeker")]


@router.put(
    "/recipients/{kind}/{recipient_id}",
    response_model=RecipientCreated,
    summary="Enregistrer le contact d'un destinataire (courriel, webhook)",
)
async def put_recipient(
    _principal: Ops, runtime: RuntimeDep, kind: KindPath, recipient_id: str, body: RecipientIn
) -> RecipientCreated:
    if kind == "job_seeker":
        raise ProblemError(
            422,
            "Requête invalide",
            "Aucun contact de demandeur d'emploi n'est enregistré sans consentement recueilli.",
            problem="validation-error",
            errors=[FieldError("kind", "job_seeker non joignable", "path")],
        )
    generated = None
    secret = body.webhook_secret
    async with runtime.database.transaction() as session:
        existing = await session.get(Recipient, (kind, recipient_id))
        if body.webhook_url and not secret and not (existing and existing.webhook_secret):
            secret = generated = secrets.token_urlsafe(32)
        values: dict[str, object] = {
            "display_name": body.display_name,
            "email": body.email,
            "webhook_url": str(body.webhook_url) if body.webhook_url else None,
        }
        if secret:
            values["webhook_secret"] = secret
        row = await directory.upsert(session, kind, recipient_id, **values)
        out = recipient_out(row)
    return RecipientCreated(**out.model_dump(), webhook_secret=generated)


@router.get("/recipients/{kind}/{recipient_id}", response_model=RecipientOut, summary="Un contact")
async def get_recipient(
    _principal: Ops, runtime: RuntimeDep, kind: KindPath, recipient_id: str
) -> RecipientOut:
    async with runtime.session() as session:
        row = await session.get(Recipient, (kind, recipient_id))
    if row is None:
        raise ProblemError(404, "Destinataire inconnu", problem="not-found")
    return recipient_out(row)


@router.put(
    "/recipients/{kind}/{recipient_id}/preferences",
    response_model=RecipientOut,
    summary="Préférences d'un destinataire (désinscription d'un canal ou d'un type de message)",
)
async def put_recipient_preferences(
    _principal: Ops, runtime: RuntimeDep, kind: KindPath, recipient_id: str, body: PreferencesIn
) -> RecipientOut:
    return await save_preferences(runtime, kind, recipient_id, body)


async def save_preferences(
    runtime: ServiceRuntime, kind: str, recipient_id: str, body: PreferencesIn
) -> RecipientOut:
    async with runtime.database.transaction() as session:
        row = await directory.upsert(
            session,
            kind,
            recipient_id,
            opted_out_channels=sorted(set(body.opted_out_channels)),
            opted_out_kinds=sorted(set(body.opted_out_kinds)),
        )
        return recipient_out(row)


def recipient_out(row: Recipient) -> RecipientOut:
    return RecipientOut(
        kind=row.kind,
        id=row.id,
        display_name=row.display_name,
        email=row.email,
        webhook_url=row.webhook_url,
        webhook_secret_set=bool(row.webhook_secret),
        opted_out_channels=list(row.opted_out_channels or []),
        opted_out_kinds=list(row.opted_out_kinds or []),
        updated_at=row.updated_at,
    )


# -- paging ---------------------------------------------------------------------------------------


def parse_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    return decode_time_cursor(cursor)


def _page(rows: list[Notification], limit: int, model: type[NotificationOut]) -> dict[str, object]:
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_time_cursor(rows[-1].created_at, rows[-1].id)
    return {
        "items": [model.model_validate(r, from_attributes=True) for r in rows],
        "next_cursor": next_cursor,
    }

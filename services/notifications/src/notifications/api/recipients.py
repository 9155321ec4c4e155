"""Ops: the recipients directory (contacts, webhooks) and a recipient's preferences."""

from __future__ import annotations

from fastapi import APIRouter

from notifications.api.deps import KindPath, Ops, RecipientIdPath, Runtime, webhook_targets
from notifications.api.schemas import (
    PreferencesIn,
    RecipientCreated,
    RecipientIn,
    RecipientOut,
    recipient_out,
)
from notifications.use_cases import preferences, queries, recipients

router = APIRouter(prefix="/v1", tags=["notifications"])


@router.put(
    "/recipients/{kind}/{recipient_id}",
    response_model=RecipientCreated,
    summary="Enregistrer le contact d'un destinataire (courriel, webhook)",
)
async def put_recipient(
    principal: Ops,
    runtime: Runtime,
    kind: KindPath,
    recipient_id: RecipientIdPath,
    body: RecipientIn,
) -> RecipientCreated:
    command = recipients.RegisterRecipient(
        kind=kind,
        recipient_id=recipient_id,
        display_name=body.display_name,
        email=body.email,
        webhook_url=str(body.webhook_url) if body.webhook_url else None,
        webhook_secret=body.webhook_secret,
    )
    async with runtime.database.transaction() as session:
        registered = await recipients.register(
            command, principal, session, targets=webhook_targets(runtime)
        )
        out = recipient_out(registered.recipient)
    return RecipientCreated(**out.model_dump(), webhook_secret=registered.generated_secret)


@router.get("/recipients/{kind}/{recipient_id}", response_model=RecipientOut, summary="Un contact")
async def get_recipient(
    principal: Ops, runtime: Runtime, kind: KindPath, recipient_id: RecipientIdPath
) -> RecipientOut:
    async with runtime.session() as session:
        return recipient_out(await queries.recipient(kind, recipient_id, principal, session))


@router.put(
    "/recipients/{kind}/{recipient_id}/preferences",
    response_model=RecipientOut,
    summary="Préférences d'un destinataire (désinscription d'un canal ou d'un type de message)",
)
async def put_recipient_preferences(
    principal: Ops,
    runtime: Runtime,
    kind: KindPath,
    recipient_id: RecipientIdPath,
    body: PreferencesIn,
) -> RecipientOut:
    command = preferences.SavePreferences(
        kind, recipient_id, tuple(body.opted_out_channels), tuple(body.opted_out_kinds)
    )
    async with runtime.database.transaction() as session:
        return recipient_out(await preferences.save(command, principal, session))

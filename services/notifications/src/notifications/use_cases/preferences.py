"""A recipient's preferences: the channels and kinds of message they opted out of (a message
required by the process is sent whatever they say, see :func:`notifications.domain.delivery.
first_status`). A caller changes their own; ops anyone's."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from notifications import access
from notifications.models import Recipient
from notifications.use_cases.recipients import upsert
from shared.auth.tokens import Principal


@dataclass(frozen=True, slots=True)
class SavePreferences:
    kind: str
    recipient_id: str
    opted_out_channels: tuple[str, ...] = ()
    opted_out_kinds: tuple[str, ...] = ()


async def save(command: SavePreferences, principal: Principal, session: AsyncSession) -> Recipient:
    access.ensure_may_change_preferences(principal, command.kind, command.recipient_id)
    return await upsert(
        session,
        command.kind,
        command.recipient_id,
        opted_out_channels=sorted(set(command.opted_out_channels)),
        opted_out_kinds=sorted(set(command.opted_out_kinds)),
    )

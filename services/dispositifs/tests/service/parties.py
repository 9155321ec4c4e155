"""What the tests add to a convention so each party can sign by its own link, and how they take
each party's link from the staged ``signature_requested`` events (as the mail would carry it)."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dispositifs.models import PLATFORM
from dispositifs.settings import DispositifsSettings
from dispositifs.use_cases import signatures

DECLARATIONS = {
    "not_permanent_post": True,
    "not_activity_peak": True,
    "not_seasonal_job": True,
    "not_replacing_employee": True,
}

#: The parties and declarations, as the HTTP API nests them.
PARTIES_BODY: dict[str, Any] = {
    "host_representative": {
        "name": "Paul Durand",
        "function": "Directeur",
        "email": "p.durand@entrepots.example",
    },
    "host_declarations": DECLARATIONS,
}
BENEFICIARY_EMAIL = "camille.martin@example.org"
TUTOR_EMAIL = "n.benali@entrepots.example"

#: The same, as a use case's content (dotted keys).
PARTIES_CONTENT: dict[str, Any] = {
    "beneficiary.email": BENEFICIARY_EMAIL,
    "tutor.email": TUTOR_EMAIL,
    "host_representative.name": "Paul Durand",
    "host_representative.function": "Directeur",
    "host_representative.email": "p.durand@entrepots.example",
    "host_declarations": DECLARATIONS,
}


async def staged(
    session: AsyncSession, convention_id: uuid.UUID | str, event_type: str
) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(PLATFORM.outbox.c.data)
        .where(
            PLATFORM.outbox.c.key == str(convention_id),
            PLATFORM.outbox.c.event_type == event_type,
        )
        .order_by(PLATFORM.outbox.c.id)
    )
    return [row.data for row in rows]


async def current_links(session: AsyncSession, convention_id: uuid.UUID | str) -> dict[str, str]:
    """Role → URL of each party's latest signing link."""
    links: dict[str, str] = {}
    for data in await staged(session, convention_id, "coop.immersion.signature_requested.v1"):
        if data["reason"] != "resent":
            links = {}
        for link in data["links"]:
            links[link["role"]] = link["url"]
    return links


def token_of(url: str) -> str:
    return urlsplit(url).path.rsplit("/", 1)[-1]


def path_of(url: str) -> str:
    return urlsplit(url).path


async def sign_all(
    session: AsyncSession, settings: DispositifsSettings, convention_id: uuid.UUID
) -> None:
    """Every party signs through its own link (use cases, no HTTP)."""
    for url in (await current_links(session, convention_id)).values():
        caller = signatures.read_caller(token_of(url), settings)
        await signatures.sign(session, caller, signatures.SignByLink(consent=True))

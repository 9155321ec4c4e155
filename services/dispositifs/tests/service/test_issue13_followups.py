"""Issue 13's last rules over HTTP on the real store: the validated convention tells the
reminders its département; further follow-ups below."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
from fastapi import FastAPI

from dispositifs.models import KnownReferral

from .conftest import COUNSELLOR
from .parties import staged
from .test_immersion_signing import _ready
from .test_immersions_api import sign_by_links

KnownFactory = Callable[..., Awaitable[KnownReferral]]


async def test_the_validated_event_carries_the_immersions_departement(
    client: httpx.AsyncClient, app: FastAPI, known_referral: KnownFactory
) -> None:
    cid = await _ready(client, known_referral, departement="57")
    await sign_by_links(client, app, cid)
    validated = await client.post(f"/v1/immersions/{cid}/validate", headers=COUNSELLOR)
    assert validated.status_code == 200, validated.text
    async with app.state.runtime.session() as session:
        [event] = await staged(session, cid, "coop.immersion.validated.v1")
    assert event["departement"] == "57"

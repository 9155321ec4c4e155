"""The job seeker's own page (issue 11, item 7) in a real browser (Debian's Chromium): the signed
link given after the contact consent shows who holds the data and each referral, and the
withdraw button withdraws the consent and tells the agency; a forged link is refused."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import select

from localkafka import free_port
from referral.models import PLATFORM
from shared.auth.tokens import Role
from shared.testing_browser import PHONE, screenshot

from ..conftest import bearer

COUNSELLOR = bearer(Role.COUNSELLOR, "conseiller.dupont", ft_structure="75101")
LILLE = "agc-interim-nord-lille"


def _key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


@pytest.fixture
async def served(app: FastAPI) -> AsyncIterator[str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:  # noqa: ASYNC110 (uvicorn offers no started event)
            await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def test_the_job_seeker_sees_their_data_and_withdraws_a_consent(
    client: httpx.AsyncClient, app: FastAPI, served: str, browser_page: Any
) -> None:
    seeker = (
        await client.post(
            "/v1/job-seekers",
            json={"ft_identifier": "3333333P", "first_name": "Inès", "last_name": "Carpentier"},
            headers={**COUNSELLOR, **_key()},
        )
    ).json()
    consents = f"/v1/job-seekers/{seeker['id']}/consents"
    link = f"/v1/job-seekers/{seeker['id']}/personal-link"
    assert (await client.post(link, headers=COUNSELLOR)).status_code == 422  # no contact consent
    for body in ({"agency_id": LILLE, "scope": "identity"}, {"scope": "contact"}):
        created = await client.post(
            consents, json={**body, "channel": "in_person"}, headers={**COUNSELLOR, **_key()}
        )
        assert created.status_code == 201, created.text
    referral = await client.post(
        "/v1/referrals",
        json={
            "job_seeker_id": seeker["id"],
            "agency_id": LILLE,
            "rome_code": "H2913",
            "message": "Profil motivé.",
            "share_identity": True,
        },
        headers={**COUNSELLOR, **_key()},
    )
    assert referral.status_code == 201, referral.text
    url = (await client.post(link, headers=COUNSELLOR)).json()["url"]

    page = browser_page
    await page.goto(served + url)
    assert await page.title() == "Mes données et mes orientations"
    assert await page.get_attribute("html", "lang") == "fr"
    holders = await page.locator("#holders + ul").inner_text()
    assert "Intérim Nord" in holders or "Lille" in holders
    row = page.locator("tbody tr").first
    assert "Envoyée" in await row.inner_text()
    assert "Identité et coordonnées" in await row.inner_text()
    await screenshot(page, "job-seeker-page-desktop")
    await screenshot(page, "job-seeker-page-phone", width=PHONE["width"])

    await page.get_by_role("button", name="Retirer le consentement : Être contacté").click()
    await page.wait_for_url("**retire=1")
    assert "Votre consentement est retiré" in await page.get_by_role("status").inner_text()
    await page.get_by_role("button", name="Retirer le consentement : Identité").click()
    await page.wait_for_url("**retire=1")
    assert "Aucun consentement en cours." in await page.locator("main").inner_text()
    assert "Rien d'identifiant" in await page.locator("tbody tr").first.inner_text()
    async with app.state.runtime.session() as session:
        told = (
            await session.execute(
                select(PLATFORM.outbox.c.data).where(
                    PLATFORM.outbox.c.event_type == "coop.agency.candidate_identity_withdrawn.v1"
                )
            )
        ).all()
    assert [t.data["referral_id"] for t in told] == [referral.json()["id"]]

    forged = await client.get(url[:-4] + "0000")
    assert forged.status_code == 403

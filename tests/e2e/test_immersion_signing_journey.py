"""Issue 13 in a real browser against the real services and broker: a counsellor's convention goes
ready to sign; the counsellor's attempt to sign for the beneficiary is refused; each party opens
its own link in headless Chromium, taken from the mail it received in the stack's local SMTP
store (the notifications service mails each party its link), ticks the box and signs; the
counsellor pre-validates and another counsellor of the structure, the validator (its token says
``pmsmp_validator``), validates (the structure reviews in two steps; the counsellor who
pre-validated cannot decide); the tutor
assesses through the link mailed on the last day (the convention is dated in the past so that its
last day is today); the referral's timeline and the indicators show it. Screenshots of the
signing page at phone and desktop widths are saved in ``.data/screenshots/``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from devstack.mailbox import Mailbox
from shared.auth.tokens import Role, mint_token
from shared.settings import DEVELOPMENT_JWT_SECRET
from shared.testing_browser import DESKTOP, PHONE, screenshot

from .conftest import TWO_STEP_STRUCTURE, Stack
from .dispositifs_steps import (
    COUNSELLOR_COMPLETION,
    link_on,
    links_in_mails,
    timeline_entry,
)
from .steps import eventually, send_referral

pytestmark = pytest.mark.e2e


def _counsellor(subject: str, *, pmsmp_validator: bool = False) -> dict[str, str]:
    """A counsellor of the two-step structure (the journey's counsellor, or its validator: the
    token's ``pmsmp_validator`` claim)."""
    token = mint_token(
        key=DEVELOPMENT_JWT_SECRET,
        subject=subject,
        role=Role.COUNSELLOR,
        issuer="coop-platform-dev",
        audience="coop-platform",
        ft_structure=TWO_STEP_STRUCTURE,
        pmsmp_validator=pmsmp_validator,
    )
    return {"Authorization": f"Bearer {token}"}


def _convention(referral_id: str, start: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        **COUNSELLOR_COMPLETION,
        "referral_id": referral_id,
        "objet": "confirm_project",
        "start_date": start.isoformat(),
        "end_date": (start + timedelta(days=13)).isoformat(),
        "schedule_plan": [
            {
                "day": day,
                "periods": [{"start": "08:30", "end": "12:00"}, {"start": "13:00", "end": "16:30"}],
            }
            for day in ("monday", "tuesday", "wednesday", "thursday", "friday")
        ],
        "objectives": "Confirmer le projet de préparateur de commandes",
        "tasks": "Préparation de commandes, inventaire",
        "host": {
            **COUNSELLOR_COMPLETION["host"],
            "name": "Entrepôts du Nord",
            "siret": "73282932000074",
            "address": "3 rue de l'Industrie, 59810 Lesquin",
        },
        "tutor": {
            "name": "Nadia Benali",
            "function": "Cheffe d'équipe",
            "email": "n.benali@entrepots.example",
        },
    }
    return body


async def test_each_party_signs_in_the_browser_and_the_tutor_assesses(
    stack: Stack,
    ops_headers: dict[str, str],
    browser_page: Any,
    mailbox: Mailbox,
) -> None:
    counsellor_headers = _counsellor("e2e-conseillere-signature")
    validator_headers = _counsellor("e2e-valideur-signature", pmsmp_validator=True)
    today = datetime.now(UTC).date()
    start = today - timedelta(days=13)  # its last day is today
    dispositifs = stack.url("dispositifs")
    page = browser_page
    async with httpx.AsyncClient(timeout=10) as client:
        referral = await send_referral(
            client, stack.url("referral"), counsellor_headers, ft_identifier="6666666F"
        )
        rid = referral["id"]

        async def known() -> bool:
            response = await client.get(
                f"{dispositifs}/v1/referrals/{rid}", headers=counsellor_headers
            )
            return response.status_code == 200

        await eventually(known, timeout=15)
        created = await client.post(
            f"{dispositifs}/v1/immersions",
            json=_convention(rid, start),
            headers={**counsellor_headers, "Idempotency-Key": f"e2e-sign-{rid}"},
        )
        assert created.status_code == 201, created.text
        cid = created.json()["id"]
        assert created.json()["weekly_hours"] == 35
        ready = await client.post(
            f"{dispositifs}/v1/immersions/{cid}/ready", headers=counsellor_headers
        )
        assert ready.status_code == 200, ready.text

        # The counsellor may not sign for the beneficiary.
        refused = await client.post(
            f"{dispositifs}/v1/immersions/{cid}/signatures",
            json={"signatory": "beneficiary"},
            headers=counsellor_headers,
        )
        assert refused.status_code == 403
        assert "propre lien" in refused.json()["detail"]

        mailed = await links_in_mails(mailbox, cid, "Convention d'immersion à signer", 3)
        by_address = {
            "camille.martin@example.org": "beneficiary",
            "p.durand@entrepots.example": "host_representative",
            "n.benali@entrepots.example": "tutor",
        }
        assert set(mailed) == set(by_address)
        links = {by_address[address]: url for address, url in mailed.items()}
        for role, url in links.items():
            await page.set_viewport_size(DESKTOP)
            await page.goto(link_on(dispositifs, url))
            assert await page.locator("html").get_attribute("lang") == "fr"
            assert await page.locator("main h1").text_content() == "Convention d'immersion à signer"
            if role == "beneficiary":
                await screenshot(page, "immersion-signing-desktop")
                await screenshot(page, "immersion-signing-phone", width=PHONE["width"])
                # Mobile first: the sign button fills the phone's width.
                box = await page.get_by_role("button", name="Signer la convention").bounding_box()
                assert box is not None
                assert box["width"] > PHONE["width"] * 0.7
            await page.get_by_label("J'ai lu la convention et je l'accepte").check()
            await page.get_by_role("button", name="Signer la convention").click()
            await page.wait_for_load_state()
            assert "Votre signature est enregistrée" in (await page.locator("main").inner_text())
        await screenshot(page, "immersion-signed-desktop")

        detail = (
            await client.get(f"{dispositifs}/v1/immersions/{cid}", headers=counsellor_headers)
        ).json()
        assert detail["status"] == "signed"
        assert {s["role"] for s in detail["signatories"] if s["signed_at"]} == set(links)

        # Two-step review: the counsellor pre-validates, cannot decide as well (not a validator);
        # the validator (another counsellor of the structure, with the validator claim) validates.
        pre = await client.post(
            f"{dispositifs}/v1/immersions/{cid}/validate", headers=counsellor_headers
        )
        assert pre.status_code == 200, pre.text
        assert pre.json()["status"] == "signed"
        assert pre.json()["pre_validation"]["by"] == "e2e-conseillere-signature"
        same = await client.post(
            f"{dispositifs}/v1/immersions/{cid}/validate", headers=counsellor_headers
        )
        assert same.status_code == 403
        assert same.json()["type"].endswith("/validator-required")
        assert "valideur" in same.json()["detail"]
        validated = await client.post(
            f"{dispositifs}/v1/immersions/{cid}/validate", headers=validator_headers
        )
        assert validated.status_code == 200, validated.text
        assert validated.json()["status"] == "validated"
        assert validated.json()["validated_by"] == "e2e-valideur-signature"

        # The last day has come: the tutor is sent the assessment link (the periodic job does
        # it too; the counsellor asks now rather than wait for its next run).
        asked = await client.post(
            f"{dispositifs}/v1/immersions/{cid}/assessment-request", headers=counsellor_headers
        )
        assert asked.status_code == 200, asked.text
        [tutor_link] = (await links_in_mails(mailbox, cid, "bilan de l'immersion", 1)).values()
        await page.set_viewport_size(DESKTOP)
        await page.goto(link_on(dispositifs, tutor_link))
        assert await page.locator("main h1").text_content() == "Bilan de l'immersion"
        await page.get_by_label("Oui, en totalité").check()
        await page.locator("#obj-yes").check()
        await page.locator("#job-yes").check()
        await page.get_by_label("Si oui : type de contrat").select_option("cdi")
        await page.get_by_label("Si oui : date de début").fill(
            (today + timedelta(days=7)).isoformat()
        )
        await screenshot(page, "immersion-assessment-desktop")
        await page.get_by_role("button", name="Enregistrer le bilan").click()
        await page.wait_for_load_state()
        assert "Votre bilan est enregistré" in (await page.locator("main").inner_text())

        done = (
            await client.get(f"{dispositifs}/v1/immersions/{cid}", headers=counsellor_headers)
        ).json()
        assert done["status"] == "completed"
        assert done["assessment"]["assessed_by"] == "tutor"

        entry = await timeline_entry(
            client, stack.url("referral"), counsellor_headers, rid, mentioning="Immersion terminée"
        )
        assert "embauche" in str(entry)

        params = {"from": start.isoformat(), "to": today.isoformat(), "region": "32"}

        async def counted() -> dict[str, Any] | None:
            body = (
                await client.get(f"{dispositifs}/v1/indicators", params=params, headers=ops_headers)
            ).json()
            rows = body["regions"]
            return rows[0] if rows and rows[0]["immersions"]["completed"] >= 1 else None

        region = await eventually(counted, timeout=10)
        assert region["immersions"]["booked"] >= 1
        assert region["immersions"]["hired_after"] >= 1

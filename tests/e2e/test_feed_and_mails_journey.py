"""Issue 12 through the real services, broker and SMTP server:

- every event of ``dispositifs.events`` about a referral reaches that referral's network feed,
  read by the reference client (``coop-agency follow``), one readable line each;
- an agency's training request (POEI) reaches the dispositifs service as a training request;
- the mails of the journey name the métier, the agency and, with the job seeker's contact
  consent, the person; the job seeker gets theirs only with that consent, with the agency's
  decline said plainly; the counsellor's mail carries the agency's comment and the link to the
  referral.

The dispositifs events are put on ``dispositifs.events`` as the dispositifs service would (each
contract's own example data, with the referral's id): driving every convention step through its
signing links is the dispositifs journeys' business (``test_dispositifs_journey.py``,
``test_immersion_signing_journey.py``); here what is tested is that each one reaches the agency.
"""

from __future__ import annotations

import asyncio
import re
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from agency_client.client import FEED_LINES
from devstack.mailbox import Mailbox
from notifications.domain.examples import example_event
from referral.use_cases.scheme_events import FEED_OF
from shared.contracts import declared_event_types
from shared.contracts.agency import ReferralDeclined
from shared.contracts.agency_requests import TrainingRequested
from shared.contracts.topics import DISPOSITIFS_EVENTS
from shared.contracts.vocabulary import DeclineReason
from shared.testing_kafka import publish

from .conftest import REFERRAL_URL, Stack
from .steps import agency_answers, eventually, now

pytestmark = pytest.mark.e2e

AGENCY = "agc-interim-nord-lille"
AGENCY_NAME = "Intérim Nord — Lille"
ROME = "H2913"  # Soudeur / Soudeuse (ROME 4.0)
COUNSELLOR = "e2e-counsellor"
COUNSELLOR_EMAIL = "conseiller@francetravail.example"
FRENCH_DATE = (
    r"Mise à jour du (lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche) (1er|[0-9]{1,2})"
    r" (janvier|février|mars|avril|mai|juin|juillet|août|septembre|octobre|novembre|décembre)"
    r" 20[0-9]{2}\."
)


def _dispositifs_types_about_referrals() -> list[type[Any]]:
    return [
        model
        for model in declared_event_types().values()
        if model.topic == DISPOSITIFS_EVENTS.name and "referral_id" in model.model_fields
    ]


async def _referral(
    client: httpx.AsyncClient,
    stack: Stack,
    headers: dict[str, str],
    ft_identifier: str,
    first_name: str,
    email: str | None = None,
) -> dict[str, Any]:
    job_seeker: dict[str, Any] = {
        "ft_identifier": ft_identifier,
        "first_name": first_name,
        "last_name": "Lefebvre",
    }
    if email:
        job_seeker["email"] = email
    response = await client.post(
        f"{stack.url('referral')}/v1/referrals",
        json={
            "job_seeker": job_seeker,
            "agency_id": AGENCY,
            "rome_code": ROME,
            "message": "Profil expérimenté, disponible.",
        },
        headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_every_dispositifs_event_about_a_referral_reaches_its_network_feed(
    stack: Stack, counsellor_headers: dict[str, str], tmp_path: Path
) -> None:
    models = _dispositifs_types_about_referrals()
    assert set(models) <= set(FEED_OF), "a dispositifs event type has no feed entry"
    async with httpx.AsyncClient(timeout=10) as client:
        referral = await _referral(client, stack, counsellor_headers, "5512001A", "Nadia")
    for model in models:
        data = example_event(model, full=True).model_copy(
            update={"referral_id": uuid.UUID(referral["id"])}
        )
        await publish(stack.bootstrap_servers, DISPOSITIFS_EVENTS.name, data, source="/dispositifs")
    feed_types = {
        FEED_OF[model](example_event(model, full=True), _routing()).event_type for model in models
    }

    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agency_client",
        "--bootstrap",
        stack.bootstrap_servers,
        "--network",
        "interim-nord",
        "--group",
        f"agency.interim-nord.erp-{uuid.uuid4().hex[:6]}",
        "follow",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    lines: list[str] = []
    try:
        assert process.stdout is not None
        expected = len(models) + 1  # and the referral itself

        async def read() -> None:
            while sum(referral["id"] in line for line in lines) < expected:
                raw = await process.stdout.readline()  # type: ignore[union-attr]
                if not raw:
                    return
                lines.append(raw.decode())

        await asyncio.wait_for(read(), timeout=90)
    finally:
        process.terminate()
        await process.wait()
    ours = [line for line in lines if referral["id"] in line]
    # One line per event, each read through the client's table (never the raw fallback).
    assert len(ours) == len(models) + 1, ours
    assert not [line for line in ours if line.startswith("[coop.")], ours
    assert any(line.startswith("[immersion validée]") for line in ours)
    assert any(line.startswith("[immersion terminée]") for line in ours)
    assert any(line.startswith("[MRS]") for line in ours)
    assert sum(line.startswith("[formation]") for line in ours) == 2
    assert feed_types <= set(FEED_LINES)


def _routing() -> dict[str, Any]:
    return {"referral_id": uuid.uuid4(), "agency_id": AGENCY, "network_id": "interim-nord"}


async def test_an_agency_training_request_opens_a_training_request_in_dispositifs(
    stack: Stack, counsellor_headers: dict[str, str]
) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        referral = await _referral(client, stack, counsellor_headers, "5512002A", "Yanis")
        await agency_answers(
            stack.bootstrap_servers,
            TrainingRequested(
                referral_id=uuid.UUID(referral["id"]),
                agency_id=AGENCY,
                occurred_at=now(),
                hours=280,
                training_organisation="AFPA Lille",
            ),
            source="/agencies/interim-nord",
        )

        async def proposal() -> dict[str, Any] | None:
            response = await client.get(
                f"{stack.url('dispositifs')}/v1/pathway-proposals",
                params={"referral_id": referral["id"]},
                headers=counsellor_headers,
            )
            if response.status_code != 200:
                return None
            items = response.json().get("items", [])
            return items[0] if items else None

        found = await eventually(proposal, timeout=30)
        assert found["trigger"] == "training_requested"


def _mails_to(mailbox: Mailbox, address: str, referral_id: str) -> list[Any]:
    return [
        mail
        for mail in mailbox.messages
        if address in (mail.header("To") or "") and mail.header("X-Coop-Referral-Id") == referral_id
    ]


async def test_the_mails_name_the_metier_the_agency_and_with_consent_the_person(
    stack: Stack,
    counsellor_headers: dict[str, str],
    ops_headers: dict[str, str],
    mailbox: Mailbox,
) -> None:
    notifications = stack.url("notifications")
    async with httpx.AsyncClient(timeout=10) as client:
        registered = await client.put(
            f"{notifications}/v1/recipients/counsellor/{COUNSELLOR}",
            json={"display_name": "Julie Conseil", "email": COUNSELLOR_EMAIL},
            headers=ops_headers,
        )
        assert registered.status_code == 200, registered.text
        # Inès consents to be contacted; Hugo does not.
        ines_email = f"ines.{uuid.uuid4().hex[:6]}@example.org"
        hugo_email = f"hugo.{uuid.uuid4().hex[:6]}@example.org"
        ines = await _referral(
            client, stack, counsellor_headers, "5512003A", "Inès", email=ines_email
        )
        consent = await client.post(
            f"{stack.url('referral')}/v1/job-seekers/{ines['job_seeker_id']}/consents",
            json={"scope": "contact", "channel": "in_person"},
            headers={**counsellor_headers, "Idempotency-Key": str(uuid.uuid4())},
        )
        assert consent.status_code == 201, consent.text

        async def known() -> bool:
            response = await client.get(
                f"{notifications}/v1/recipients/job_seeker/{ines['job_seeker_id']}",
                headers=ops_headers,
            )
            return response.status_code == 200

        await eventually(known, timeout=30)
        hugo = await _referral(
            client, stack, counsellor_headers, "5512004A", "Hugo", email=hugo_email
        )
        for referral in (ines, hugo):
            await agency_answers(
                stack.bootstrap_servers,
                ReferralDeclined(
                    referral_id=uuid.UUID(referral["id"]),
                    agency_id=AGENCY,
                    occurred_at=now(),
                    reason=DeclineReason.LACKING_SKILLS,
                    comment="Il manque la qualification TIG ; à revoir après formation.",
                ),
                source="/agencies/interim-nord",
            )

    async def counsellor_mails() -> list[Any] | None:
        mails = [
            mail
            for referral in (ines, hugo)
            for mail in _mails_to(mailbox, COUNSELLOR_EMAIL, referral["id"])
            if mail.header("X-Coop-Event-Type") == "coop.referral.status_changed.v1"
        ]
        return mails if len({m.header("X-Coop-Referral-Id") for m in mails}) == 2 else None

    mails = await eventually(counsellor_mails, timeout=60)
    by_referral = {m.header("X-Coop-Referral-Id"): m for m in mails}
    for referral in (ines, hugo):
        text = by_referral[referral["id"]].text
        assert "Soudeur / Soudeuse" in text  # the métier's ROME 4.0 name, not only H2913
        assert AGENCY_NAME in text  # the agency's name, not its id
        assert "Il manque la qualification TIG" in text  # the agency's comment
        assert "Compétences insuffisantes pour le poste" in text
        # The link to the referral in the counsellor's tool (a setting).
        assert REFERRAL_URL.replace("{referral_id}", referral["id"]) in text
        # Dates in French (« mardi 1er décembre 2026 »), not ISO.
        assert re.search(FRENCH_DATE, text), text
    assert "Inès Lefebvre" in by_referral[ines["id"]].text  # consented: named
    assert "Hugo" not in by_referral[hugo["id"]].text  # not consented: not named

    async def ines_mails() -> list[Any] | None:
        found = [
            mail
            for mail in _mails_to(mailbox, ines_email, ines["id"])
            if mail.header("X-Coop-Event-Type") == "coop.referral.status_changed.v1"
        ]
        return found or None

    (answer,) = await eventually(ines_mails, timeout=60)
    assert answer.header("X-Coop-Event-Type") == "coop.referral.status_changed.v1"
    assert "Bonjour Inès Lefebvre," in answer.text
    assert AGENCY_NAME in answer.text
    assert "Soudeur / Soudeuse" in answer.text
    # The decline reason phrased for her; the agency's internal comment is not hers.
    assert "des compétences que vous pourrez acquérir" in answer.text
    assert "qualification TIG" not in answer.text
    # Hugo never consented: nothing is ever addressed to him.
    await asyncio.sleep(2)
    assert not [m for m in mailbox.messages if hugo_email in (m.header("To") or "")]

"""Steps of the dispositifs journeys, as a counsellor or an agency ERP would take them."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from aiokafka import AIOKafkaConsumer

from devstack.mailbox import Mailbox, ReceivedMail
from shared.contracts.agency import ImmersionRequested
from shared.contracts.vocabulary import ImmersionObjet

from .steps import eventually, now

AGENCY = "agc-interim-nord-lille"


def immersion_request(referral_id: str, start: date, **overrides: Any) -> ImmersionRequested:
    """What an agency ERP sends to ask for an immersion of the candidate at a client company."""
    values: dict[str, Any] = {
        "referral_id": uuid.UUID(referral_id),
        "agency_id": AGENCY,
        "occurred_at": now(),
        "objet": ImmersionObjet.START_RECRUITMENT,
        "start_date": start,
        "end_date": start + timedelta(days=13),
        "weekly_hours": 35,
        "host_name": "Entrepôts du Nord",
        "host_siret": "73282932000074",
        "host_address": "3 rue de l'Industrie, 59810 Lesquin",
        "tutor_name": "Nadia Benali",
        "tutor_function": "Cheffe d'équipe",
        "tutor_email": "n.benali@entrepots.example",
        "objectives": "Vérifier l'aisance à la préparation de commandes avant une mission",
        "tasks": "Préparation de commandes, inventaire",
    }
    values.update(overrides)
    return ImmersionRequested(**values)


#: The host declares the uses L5135-4 excludes (issue 13).
HOST_DECLARATIONS = {
    "not_permanent_post": True,
    "not_activity_peak": True,
    "not_seasonal_job": True,
    "not_replacing_employee": True,
}

#: What the counsellor completes before the convention can be signed (D5135-2), with the
#: parties who sign by their own link.
COUNSELLOR_COMPLETION: dict[str, Any] = {
    "schedule": "Du lundi au vendredi, 8h-12h et 13h-16h",
    "place": "Entrepôt de Lesquin",
    "evaluation_method": "Grille d'évaluation remplie par la tutrice en fin d'immersion",
    "prescriber": {"kind": "france_travail", "name": "France Travail Paris 1er"},
    "beneficiary": {
        "first_name": "Camille",
        "last_name": "Martin",
        "birth_date": "1995-04-12",
        "professional_situation": "Demandeuse d'emploi",
        "email": "camille.martin@example.org",
    },
    "host": {
        "legal_form": "SAS",
        "activity": "Logistique",
        "collective_agreement": "Transports routiers (IDCC 16)",
    },
    "support": {"structure": "France Travail Paris 1er", "referent": "Mme Leroy"},
    "host_representative": {
        "name": "Paul Durand",
        "function": "Directeur d'entrepôt",
        "email": "p.durand@entrepots.example",
    },
    "host_declarations": HOST_DECLARATIONS,
}


def link_on(base_url: str, url: str) -> str:
    """A party's link as served by the stack's dispositifs process (the links name the
    configured public address; the test stack listens on a free port)."""
    return base_url.rstrip("/") + urlsplit(url).path


_LINK = re.compile(r"https?://\S+/conventions/lien/[A-Za-z0-9_.-]+")


async def links_in_mails(
    mailbox: Mailbox, convention_id: str, subject: str, count: int, timeout: float = 30
) -> dict[str, str]:
    """Recipient address → the link in each mail about the convention (the local SMTP store of
    the stack: what the party received)."""

    def about(mail: ReceivedMail) -> bool:
        return subject in mail.subject and convention_id in mail.text

    mails = await asyncio.to_thread(mailbox.wait_for, about, count, timeout)
    found = {}
    for mail in mails:
        match = _LINK.search(mail.text)
        assert match is not None, mail.text
        found[mail.rcpt_tos[0]] = match.group(0)
    return found


async def signing_links(bootstrap: str, referral_id: str) -> dict[str, str]:
    """Role → URL of each party's link, from the ``signature_requested`` event (what the mail
    carries)."""
    [event] = await dispositifs_events_about(
        bootstrap, referral_id, "coop.immersion.signature_requested.v1"
    )
    return {link["role"]: link["url"] for link in event["links"]}


async def sign_by_every_party(
    client: httpx.AsyncClient, base_url: str, links: dict[str, str]
) -> None:
    """Each party opens its own link and signs on its page (the form the page posts)."""
    for url in links.values():
        page = await client.get(link_on(base_url, url))
        assert page.status_code == 200, page.text
        signed = await client.post(
            link_on(base_url, url) + "/signer",
            content="consent=oui",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert signed.status_code == 303, signed.text


async def convention_of(
    client: httpx.AsyncClient, base_url: str, headers: dict[str, str], referral_id: str
) -> dict[str, Any]:
    """The convention the dispositifs service made of the referral's immersion request."""

    async def probe() -> dict[str, Any] | None:
        response = await client.get(
            f"{base_url}/v1/immersions", params={"referral_id": referral_id}, headers=headers
        )
        items = response.json()["items"]
        return items[0] if items else None

    return await eventually(probe, timeout=20)


async def counsellor_step(
    client: httpx.AsyncClient,
    base_url: str,
    headers: dict[str, str],
    convention_id: str,
    step: str,
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    response = await client.post(
        f"{base_url}/v1/immersions/{convention_id}/{step}", json=body, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def timeline_entry(
    client: httpx.AsyncClient,
    base_url: str,
    headers: dict[str, str],
    referral_id: str,
    *,
    mentioning: str,
) -> dict[str, Any]:
    """The first entry of the referral's timeline (referral service) that mentions ``mentioning``
    (a label or an event type): the shape of scheme entries is the referral service's."""

    async def probe() -> dict[str, Any] | None:
        response = await client.get(f"{base_url}/v1/referrals/{referral_id}", headers=headers)
        for entry in response.json().get("timeline", []):
            if mentioning in json.dumps(entry, ensure_ascii=False):
                return entry  # type: ignore[no-any-return]
        return None

    return await eventually(probe, timeout=20)


async def dispositifs_events_about(
    bootstrap: str, referral_id: str, event_type: str, timeout: float = 20
) -> list[dict[str, Any]]:
    """Every ``event_type`` on ``dispositifs.events`` whose data names ``referral_id``."""
    consumer = AIOKafkaConsumer(
        "dispositifs.events",
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:

        async def probe() -> list[dict[str, Any]]:
            found = []
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                for record in batch:
                    headers = {k: v.decode() for k, v in record.headers}
                    data = json.loads(record.value)
                    if headers.get("ce_type") == event_type and data.get("referral_id") == (
                        referral_id
                    ):
                        found.append(data)
            matched.extend(found)
            return matched

        matched: list[dict[str, Any]] = []
        return await eventually(probe, timeout=timeout)
    finally:
        await consumer.stop()

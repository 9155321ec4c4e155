"""The job seeker's consent to be contacted reaches the notifications service, and only it
(issue 12, item 8): recording it stages ``coop.job_seeker.contact_consented.v1`` with the name and
the address on ``referral.events``; withdrawing it stages ``contact_withdrawn``; an identity
consent to an agency stages neither. A sent referral names its agency and town for the mails."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from referral.models import PLATFORM
from shared.auth.tokens import Role
from shared.referentials import town_of

from ..conftest import bearer

COUNSELLOR = bearer(Role.COUNSELLOR, "conseiller.dupont", ft_structure="75101")
LILLE = "agc-interim-nord-lille"


def _key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


async def _staged(app: FastAPI, event_type: str) -> list[tuple[str, dict[str, Any]]]:
    async with app.state.runtime.session() as session:
        rows = await session.execute(
            select(PLATFORM.outbox.c.topic, PLATFORM.outbox.c.data)
            .where(PLATFORM.outbox.c.event_type == event_type)
            .order_by(PLATFORM.outbox.c.id)
        )
        return [(row.topic, row.data) for row in rows]


async def test_the_contact_consent_and_its_withdrawal_reach_the_notifications_directory(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    seeker = await client.post(
        "/v1/job-seekers",
        json={
            "ft_identifier": "4444555K",
            "first_name": "Inès",
            "last_name": "Lefebvre",
            "email": "ines.lefebvre@example.org",
            "phone": "06 12 34 56 78",
        },
        headers={**COUNSELLOR, **_key()},
    )
    assert seeker.status_code == 201, seeker.text
    seeker_id = seeker.json()["id"]
    identity = await client.post(
        f"/v1/job-seekers/{seeker_id}/consents",
        json={"channel": "in_person", "scope": "identity", "agency_id": LILLE},
        headers={**COUNSELLOR, **_key()},
    )
    assert identity.status_code == 201
    assert await _staged(app, "coop.job_seeker.contact_consented.v1") == []

    contact = await client.post(
        f"/v1/job-seekers/{seeker_id}/consents",
        json={"channel": "phone", "scope": "contact"},
        headers={**COUNSELLOR, **_key()},
    )
    assert contact.status_code == 201, contact.text
    ((topic, data),) = await _staged(app, "coop.job_seeker.contact_consented.v1")
    assert topic == "referral.events"
    assert data["job_seeker_id"] == seeker_id
    assert (data["first_name"], data["last_name"]) == ("Inès", "Lefebvre")
    assert data["email"] == "ines.lefebvre@example.org"
    assert data["phone"].startswith("+33")
    assert "ft_identifier" not in data
    assert "birth_date" not in data
    assert "rqth" not in data

    withdrawn = await client.post(
        f"/v1/job-seekers/{seeker_id}/consents/{contact.json()['id']}/withdraw",
        headers=COUNSELLOR,
    )
    assert withdrawn.status_code == 200, withdrawn.text
    ((topic, data),) = await _staged(app, "coop.job_seeker.contact_withdrawn.v1")
    assert data["job_seeker_id"] == seeker_id
    assert set(data) == {"job_seeker_id", "withdrawn_at"}


async def test_a_sent_referral_names_its_agency_for_the_mails(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    response = await client.post(
        "/v1/referrals",
        json={
            "job_seeker": {"ft_identifier": "4444666K", "first_name": "Léo", "last_name": "Roy"},
            "agency_id": LILLE,
            "rome_code": "H2913",
            "message": "Profil motivé.",
        },
        headers={**COUNSELLOR, **_key()},
    )
    assert response.status_code == 201, response.text
    ((_topic, sent),) = [
        s
        for s in await _staged(app, "coop.referral.sent.v1")
        if s[1]["referral_id"] == response.json()["id"]
    ]
    assert sent["agency_name"] == "Intérim Nord — Lille"
    assert "first_name" not in sent  # the internal event never names the person


def test_the_town_is_read_from_a_french_postal_address() -> None:
    assert town_of("12 rue de la Paix, 59000 Lille") == "Lille"
    assert town_of("3 place Bellecour 69002 Lyon CEDEX 02") == "Lyon"
    assert town_of("Zone artisanale") is None
    assert town_of(None) is None

"""``referral.sent`` carries the job seeker's priority publics for the dispositifs service (the
POEI's 600 h cap, issue 13 item 6), never RQTH (health data, GDPR art. 9)."""

from __future__ import annotations

import uuid

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from referral.models import PLATFORM
from shared.auth.tokens import Role

from ..conftest import bearer

COUNSELLOR = bearer(Role.COUNSELLOR, "conseiller.dupont", ft_structure="75101")


async def test_referral_sent_carries_the_priority_publics_but_never_rqth(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    body = {
        "job_seeker": {
            "ft_identifier": "7654321B",
            "first_name": "Camille",
            "last_name": "Martin",
            "rqth": True,
            "brsa": True,
            "deld": True,
        },
        "agency_id": "agc-interim-nord-lille",
        "rome_code": "H2913",
        "message": "Profil motivé, soudure MIG validée en formation.",
    }
    headers = {**COUNSELLOR, "Idempotency-Key": str(uuid.uuid4())}
    created = await client.post("/v1/referrals", json=body, headers=headers)
    assert created.status_code == 201, created.text
    async with app.state.runtime.session() as session:
        rows = (
            await session.execute(
                select(PLATFORM.outbox).where(
                    PLATFORM.outbox.c.event_type == "coop.referral.sent.v1"
                )
            )
        ).all()
    [sent] = rows
    assert sent.data["priority_publics"] == ["brsa", "deld"]
    assert "rqth" not in str(sent.data)

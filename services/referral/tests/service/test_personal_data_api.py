"""Consent per referral and erasure (issue 11) through the API over the real store."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import Text, cast, select

from referral.models import PLATFORM, Consent, JobSeeker, Referral, ReferralTransition
from shared.auth.tokens import Role

from ..conftest import bearer

COUNSELLOR = bearer(Role.COUNSELLOR, "conseiller.dupont", ft_structure="75101")
OPS = bearer(Role.OPS, "dpo")
LILLE = "agc-interim-nord-lille"
ARRAS = "agc-interim-nord-arras"


def _key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


async def _seeker(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    body = {
        "ft_identifier": "4444444K",
        "first_name": "Noémie",
        "last_name": "Verbrugghe",
        "email": "noemie.verbrugghe@example.org",
        "phone": "06 12 34 56 78",
        "birth_date": "1991-04-17",
        "rqth": True,
        **fields,
    }
    response = await client.post("/v1/job-seekers", json=body, headers={**COUNSELLOR, **_key()})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def _consent(
    client: httpx.AsyncClient, seeker: dict[str, Any], **body: Any
) -> httpx.Response:
    return await client.post(
        f"/v1/job-seekers/{seeker['id']}/consents",
        json={"channel": "in_person", **body},
        headers={**COUNSELLOR, **_key()},
    )


async def _refer(client: httpx.AsyncClient, seeker: dict[str, Any], **body: Any) -> httpx.Response:
    return await client.post(
        "/v1/referrals",
        json={
            "job_seeker_id": seeker["id"],
            "agency_id": LILLE,
            "rome_code": "H2913",
            "message": "Profil motivé, disponible rapidement.",
            **body,
        },
        headers={**COUNSELLOR, **_key()},
    )


async def _feed(app: FastAPI, event_type: str) -> list[dict[str, Any]]:
    async with app.state.runtime.session() as session:
        rows = await session.execute(
            select(PLATFORM.outbox.c.data)
            .where(PLATFORM.outbox.c.event_type == event_type)
            .order_by(PLATFORM.outbox.c.id)
        )
        return [row.data for row in rows]


async def test_rqth_without_identity_is_refused_and_never_recorded_as_shared(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    seeker = await _seeker(client)
    assert (await _consent(client, seeker, agency_id=LILLE, scope="rqth")).status_code == 201
    refused = await _refer(client, seeker, share_rqth=True)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "share_rqth"
    assert "identité" in refused.json()["detail"]
    async with app.state.runtime.session() as session:
        assert (await session.scalars(select(Referral))).all() == []


async def test_consent_evidence_is_the_servers(client: httpx.AsyncClient) -> None:
    seeker = await _seeker(client)
    dated = await _consent(
        client, seeker, agency_id=LILLE, scope="identity", granted_at="2020-01-01T00:00:00Z"
    )
    assert dated.status_code == 422  # no client-chosen date
    no_channel = await client.post(
        f"/v1/job-seekers/{seeker['id']}/consents",
        json={"agency_id": LILLE, "scope": "identity"},
        headers={**COUNSELLOR, **_key()},
    )
    assert no_channel.status_code == 422
    assert no_channel.json()["errors"][0]["field"] == "channel"
    consent = (await _consent(client, seeker, agency_id=LILLE, scope="identity")).json()
    assert consent["recorded_by"] == "conseiller.dupont"
    assert consent["channel"] == "in_person"
    assert consent["text_version"] == "2026-11-v1"
    assert consent["granted_at"].startswith("20")
    contact = await _consent(client, seeker, scope="contact", channel="written")
    assert contact.status_code == 201, contact.text
    assert contact.json()["agency_id"] is None


async def test_consent_serves_one_referral_rqth_explicit_each_time(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    seeker = await _seeker(client)
    await _consent(client, seeker, agency_id=LILLE, scope="identity")
    await _consent(client, seeker, agency_id=LILLE, scope="rqth")
    first = await _refer(client, seeker, share_identity=True, share_rqth=True)
    assert first.status_code == 201, first.text
    assert first.json()["rqth_shared"] is True
    received = await _feed(app, "coop.agency.referral_received.v1")
    assert received[-1]["candidate"]["rqth"] is True
    await client.post(
        f"/v1/referrals/{first.json()['id']}/withdraw", json={"reason": "test"}, headers=COUNSELLOR
    )
    # The consents were taken by the first referral: a second one needs new ones.
    again = await _refer(client, seeker, share_identity=True, share_rqth=True)
    assert again.status_code == 422
    assert again.json()["errors"][0]["field"] == "share_identity"
    await _consent(client, seeker, agency_id=LILLE, scope="identity")
    identity_only = await _refer(client, seeker, share_identity=True)
    assert identity_only.status_code == 201
    assert identity_only.json()["rqth_shared"] is False
    assert (await _feed(app, "coop.agency.referral_received.v1"))[-1]["candidate"]["rqth"] is None


async def test_identity_shared_after_sending_then_withdrawn_tells_the_agency(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    seeker = await _seeker(client)
    referral = (await _refer(client, seeker)).json()
    assert referral["identity_shared"] is False
    rqth_first = await _consent(client, seeker, scope="rqth", referral_id=referral["id"])
    assert rqth_first.status_code == 422  # RQTH only with the identity
    consent = await _consent(client, seeker, scope="identity", referral_id=referral["id"])
    assert consent.status_code == 201, consent.text
    assert consent.json()["agency_id"] == LILLE
    shared = await _feed(app, "coop.agency.candidate_identity_shared.v1")
    assert len(shared) == 1
    assert shared[0]["referral_id"] == referral["id"]
    assert shared[0]["candidate"]["last_name"] == "Verbrugghe"
    assert shared[0]["candidate"]["rqth"] is None
    got = (await client.get(f"/v1/referrals/{referral['id']}", headers=COUNSELLOR)).json()
    assert got["identity_shared"] is True

    other_agency = await _consent(
        client, seeker, scope="identity", agency_id=ARRAS, referral_id=referral["id"]
    )
    assert other_agency.status_code == 422

    withdrawn = await client.post(
        f"/v1/job-seekers/{seeker['id']}/consents/{consent.json()['id']}/withdraw",
        headers=COUNSELLOR,
    )
    assert withdrawn.status_code == 200
    told = await _feed(app, "coop.agency.candidate_identity_withdrawn.v1")
    assert [(e["referral_id"], e["withdrawn"]) for e in told] == [(referral["id"], ["identity"])]
    got = (await client.get(f"/v1/referrals/{referral['id']}", headers=COUNSELLOR)).json()
    assert got["identity_shared"] is False


async def test_erasure_is_for_ops_and_erases_every_copy_here(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    seeker = await _seeker(client)
    await _consent(client, seeker, agency_id=LILLE, scope="identity")
    referral = (await _refer(client, seeker, share_identity=True)).json()
    url = f"/v1/job-seekers/{seeker['id']}/erasure"

    assert (
        await client.post(url, json={"reason": "art. 17"}, headers=COUNSELLOR)
    ).status_code == 403
    nir = await client.post(url, json={"reason": "NIR 1 85 05 75 123 456 73"}, headers=OPS)
    assert nir.status_code == 422

    created = await client.post(url, json={"reason": "Demande de la personne"}, headers=OPS)
    assert created.status_code == 202, created.text
    body = created.json()
    assert body["status"] == "in_progress"
    assert body["networks_instructed"] == ["interim-nord"]
    assert body["waiting_for"] == ["dispositifs", "notifications"]
    assert created.headers["location"] == f"/v1/erasure-requests/{body['id']}"
    again = await client.post(url, json={"reason": "Demande de la personne"}, headers=OPS)
    assert again.status_code == 409

    needles = ["4444444K", "Verbrugghe", "Noémie", "noemie.verbrugghe", "1991-04-17", "12 34 56"]
    async with app.state.runtime.session() as session:
        for table in (
            JobSeeker.__table__,
            Consent.__table__,
            Referral.__table__,
            ReferralTransition.__table__,
            PLATFORM.outbox,
            PLATFORM.idempotency_keys,
        ):
            for column in table.columns:
                for needle in needles:
                    found = await session.scalar(
                        select(cast(column, Text)).where(cast(column, Text).like(f"%{needle}%"))
                    )
                    assert found is None, (table.name, column.name, needle)
    instructions = await _feed(app, "coop.agency.erasure_requested.v1")
    assert [(i["network_id"], i["referral_ids"]) for i in instructions] == [
        ("interim-nord", [referral["id"]])
    ]
    assert len(await _feed(app, "coop.job_seeker.erasure_requested.v1")) == 1
    progress = await client.get(f"/v1/erasure-requests/{body['id']}", headers=OPS)
    assert progress.status_code == 200
    referral_report = progress.json()["services"][0]
    assert referral_report["service"] == "referral"
    assert {line["table"] for line in referral_report["report"]} >= {
        "job_seekers",
        "consents",
        "outbox",
        "idempotency_keys",
    }

"""The counsellor API over the real store: validation, idempotency, scopes, outbox."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from referral.models import PLATFORM
from shared.auth.tokens import Role

from ..conftest import bearer

COUNSELLOR = bearer(Role.COUNSELLOR, "conseiller.dupont", ft_structure="75101")


def _body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "job_seeker": {"ft_identifier": "1234567A", "first_name": "Camille", "last_name": "Martin"},
        "agency_id": "agc-interim-nord-lille",
        "rome_code": "H2913",
        "message": "Profil motivé, soudure MIG validée en formation.",
    }
    body.update(overrides)
    return body


def _post(client: httpx.AsyncClient, body: dict[str, Any], key: str | None = None, **kw: Any):
    headers = {**COUNSELLOR, "Idempotency-Key": key or str(uuid.uuid4()), **kw.pop("headers", {})}
    return client.post("/v1/referrals", json=body, headers=headers, **kw)


async def test_counsellor_creates_a_referral_and_its_event_waits_in_the_outbox(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    response = await _post(client, _body())
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["status"] == "sent"
    assert created["network_id"] == "interim-nord"
    assert response.headers["Location"] == f"/v1/referrals/{created['id']}"

    detail = (await client.get(response.headers["Location"], headers=COUNSELLOR)).json()
    assert [step["to_status"] for step in detail["timeline"]] == ["sent"]
    assert detail["timeline"][0]["comment"] == _body()["message"]

    async with app.state.runtime.session() as session:
        rows = (await session.execute(select(PLATFORM.outbox).order_by(PLATFORM.outbox.c.id))).all()
    assert [(row.event_type, row.key, row.topic) for row in rows] == [
        ("coop.referral.sent.v1", created["id"], "referral.events"),
        ("coop.agency.referral_received.v1", created["id"], "agency.interim-nord.feed"),
    ]
    assert "first_name" not in rows[0].data  # no identity on the internal topic
    feed = rows[1].data
    # No consent recorded: the agency gets the referral and the message, not who it is.
    assert (feed["identity_shared"], feed["candidate"]) == (False, None)
    assert feed["message"] == _body()["message"]
    assert feed["rome_label"] == "Soudeur / Soudeuse"
    assert feed["answer_before"] is not None


async def test_same_idempotency_key_creates_one_referral(client: httpx.AsyncClient) -> None:
    key = str(uuid.uuid4())
    first = await _post(client, _body(), key)
    second = await _post(client, _body(), key)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert second.headers["Idempotent-Replayed"] == "true"
    listing = (await client.get("/v1/referrals", headers=COUNSELLOR)).json()
    assert len(listing["items"]) == 1


async def test_reusing_an_idempotency_key_for_another_body_is_refused(
    client: httpx.AsyncClient,
) -> None:
    key = str(uuid.uuid4())
    assert (await _post(client, _body(), key)).status_code == 201
    response = await _post(client, _body(message="Autre message"), key)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"


async def test_missing_idempotency_key_is_a_field_error(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/referrals", json=_body(), headers=COUNSELLOR)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0] == {
        "field": "Idempotency-Key",
        "location": "header",
        "message": "Champ obligatoire.",
    }


async def test_bad_rome_code_is_a_problem_naming_the_field(client: httpx.AsyncClient) -> None:
    malformed = await _post(client, _body(rome_code="H29"))
    assert malformed.status_code == 422
    assert malformed.headers["content-type"] == "application/problem+json"
    assert malformed.json()["errors"][0]["field"] == "rome_code"

    unknown = await _post(client, _body(rome_code="N9999"))
    assert unknown.status_code == 422
    assert unknown.json()["errors"] == [
        {"field": "rome_code", "location": "body", "message": "code ROME inconnu"}
    ]


async def test_unknown_agency_and_bad_identifier_name_their_fields(
    client: httpx.AsyncClient,
) -> None:
    response = await _post(client, _body(agency_id="agc-nowhere"))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "agency_id"
    seeker = {"ft_identifier": "12AB", "first_name": "A", "last_name": "B"}
    response = await _post(client, _body(job_seeker=seeker))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "job_seeker.ft_identifier"


async def test_eleven_digit_identifier_is_accepted(client: httpx.AsyncClient) -> None:
    seeker = {"ft_identifier": "12345678901", "first_name": "Léa", "last_name": "Roux"}
    assert (await _post(client, _body(job_seeker=seeker))).status_code == 201


async def test_requests_without_a_valid_token_are_refused(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/referrals")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    response = await client.get("/v1/referrals", headers={"Authorization": "Bearer nonsense"})
    assert response.status_code == 401
    assert response.json()["title"] == "Jeton invalide"


async def test_agency_role_cannot_use_the_counsellor_api(client: httpx.AsyncClient) -> None:
    agency = bearer(Role.AGENCY, agency_id="agc-interim-nord-lille", network_id="interim-nord")
    response = await client.post(
        "/v1/referrals", json=_body(), headers={**agency, "Idempotency-Key": str(uuid.uuid4())}
    )
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"


async def test_counsellor_sees_only_the_referrals_of_their_structure(
    client: httpx.AsyncClient,
) -> None:
    created = (await _post(client, _body())).json()
    other = bearer(Role.COUNSELLOR, "conseiller.autre", ft_structure="13055")
    assert (await client.get(f"/v1/referrals/{created['id']}", headers=other)).status_code == 404
    assert (await client.get("/v1/referrals", headers=other)).json()["items"] == []
    ops = bearer(Role.OPS)
    assert (await client.get(f"/v1/referrals/{created['id']}", headers=ops)).status_code == 200


async def test_listing_pages_with_a_cursor(client: httpx.AsyncClient) -> None:
    ids = []
    for i in range(5):
        seeker = {"ft_identifier": f"765432{i}X", "first_name": "P", "last_name": str(i)}
        ids.append((await _post(client, _body(job_seeker=seeker))).json()["id"])
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/referrals", params=params, headers=COUNSELLOR)).json()
        seen.extend(item["id"] for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))
    bad = await client.get("/v1/referrals", params={"cursor": "%%%"}, headers=COUNSELLOR)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "cursor"


async def test_health_endpoints_need_no_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health/live")).json() == {"status": "live"}
    ready = await client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"]["ok"] is True
    metrics = await client.get("/metrics")
    assert "coop_http_request_seconds" in metrics.text

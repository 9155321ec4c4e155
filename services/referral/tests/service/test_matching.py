"""Explained matching (issue 16, item 7) on the real store: for an offer, the counsellor's own
job seekers whose trade, mobility and pathway fit, each with the reasons; for a job seeker, the
hard-to-fill offers nearby."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import event

from referral.use_cases.agency_answers import apply_agency_response
from shared.auth.tokens import Role
from shared.contracts.agency import ReferralAccepted

from ..conftest import bearer

COUNSELLOR = bearer(Role.COUNSELLOR, "conseiller.dupont", ft_structure="75101")
OTHER = bearer(Role.COUNSELLOR, "conseiller.cap", org_kind="cap_emploi", org_code="CE059")


def _key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


async def _seeker(client: httpx.AsyncClient, n: int, departement: str) -> str:
    response = await client.post(
        "/v1/job-seekers",
        json={
            "ft_identifier": f"{7510400 + n}B",
            "first_name": "Alex",
            "last_name": f"T{n}",
            "departement": departement,
        },
        headers={**COUNSELLOR, **_key()},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _refer(client: httpx.AsyncClient, seeker: str, agency: str, rome: str) -> str:
    response = await client.post(
        "/v1/referrals",
        json={"job_seeker_id": seeker, "agency_id": agency, "rome_code": rome, "message": "x"},
        headers={**COUNSELLOR, **_key()},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_an_offer_finds_the_organisations_job_seekers_who_fit_with_reasons(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    welder = await _seeker(client, 1, "59")
    nearby = await _seeker(client, 2, "62")
    far = await _seeker(client, 3, "13")
    referral = await _refer(client, welder, "agc-interim-nord-lille", "H2913")
    await _refer(client, nearby, "agc-interim-nord-arras", "H2909")
    now = datetime.now(UTC)
    async with app.state.runtime.database.transaction() as session:
        await apply_agency_response(
            session,
            ReferralAccepted(
                referral_id=referral, agency_id="agc-interim-nord-lille", occurred_at=now
            ),
            network_id="interim-nord",
            event_id=str(uuid.uuid4()),
            received_at=now,
        )
    offer = await client.post(
        "/v1/offers",
        json={
            "title": "Soudeur TIG",
            "rome_code": "H2913",
            "departement": "59",
            "contract_type": "mission",
            "hard_to_fill": True,
            "hard_to_fill_source": "bmo",
        },
        headers={**COUNSELLOR, **_key()},
    )
    assert offer.status_code == 201, offer.text
    offer_id = offer.json()["id"]

    response = await client.get(f"/v1/offers/{offer_id}/matches", headers=COUNSELLOR)
    assert response.status_code == 200, response.text
    matches = response.json()
    assert [m["job_seeker_id"] for m in matches][:2] == [welder, nearby]
    assert far not in [m["job_seeker_id"] for m in matches]
    first = {p["name"]: p for p in matches[0]["parts"]}
    assert (first["trade"]["value"], first["mobility"]["value"], first["pathway"]["value"]) == (
        1.0,
        1.0,
        0.5,
    )
    assert first["trade"]["explanation"] == "déjà orienté(e) vers le métier H2913"
    assert first["pathway"]["explanation"] == "déjà accepté(e) par une agence dans le domaine H29"
    second = {p["name"]: p for p in matches[1]["parts"]}
    assert (second["trade"]["value"], second["mobility"]["explanation"]) == (
        0.5,
        "même région (32)",
    )
    assert "Alex" not in response.text  # ids and reasons, never a name

    # Another organisation's counsellor gets none of these job seekers.
    theirs = await client.get(f"/v1/offers/{offer_id}/matches", headers=OTHER)
    assert theirs.status_code == 200
    assert theirs.json() == []

    offers = await client.get(f"/v1/job-seekers/{welder}/hard-to-fill-offers", headers=COUNSELLOR)
    assert offers.status_code == 200, offers.text
    ids = [o["offer_id"] for o in offers.json()]
    assert offer_id in ids
    mine = next(o for o in offers.json() if o["offer_id"] == offer_id)
    assert mine["hard_to_fill_source"] == "bmo"
    assert {p["name"] for p in mine["parts"]} == {"trade", "mobility", "pathway"}
    assert all(o["departement"] in {"59", "62", "02", "60", "80"} for o in offers.json())
    hidden = await client.get(f"/v1/job-seekers/{welder}/hard-to-fill-offers", headers=OTHER)
    assert hidden.status_code == 404


async def test_an_offer_finds_a_job_seeker_of_another_region_through_the_trades_domain(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """Outside the offer's région, only a referral in the offer's ROME domain brings a job seeker
    in (H2909 for an H2913 offer); a code of the next domain (H3101) or a code that
    merely sorts nearby (H2805) does not. The domain is looked up per visible job seeker through
    the referrals' job seeker index, never by scanning every referral (SQLite's plan, below)."""
    same_domain = await _seeker(client, 11, "13")
    other_domain = await _seeker(client, 12, "13")
    just_below = await _seeker(client, 13, "13")
    await _refer(client, same_domain, "agc-interim-nord-lille", "H2909")
    await _refer(client, other_domain, "agc-interim-nord-lille", "H3101")
    await _refer(client, just_below, "agc-interim-nord-lille", "H2805")
    offer = await client.post(
        "/v1/offers",
        json={
            "title": "Soudeur TIG",
            "rome_code": "H2913",
            "departement": "59",
            "contract_type": "mission",
        },
        headers={**COUNSELLOR, **_key()},
    )
    assert offer.status_code == 201, offer.text

    engine = app.state.runtime.database.engine.sync_engine
    seen: list[tuple[str, Any]] = []

    def listen(_c: Any, _cur: Any, statement: str, parameters: Any, _ctx: Any, _m: bool) -> None:
        if "FROM job_seekers" in statement and "referrals" in statement:
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", listen)
    try:
        response = await client.get(f"/v1/offers/{offer.json()['id']}/matches", headers=COUNSELLOR)
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    assert response.status_code == 200, response.text
    found = {m["job_seeker_id"] for m in response.json()}
    assert same_domain in found
    assert not {other_domain, just_below} & found

    (statement, parameters) = seen[0]
    if engine.dialect.name == "sqlite":
        async with app.state.runtime.database.engine.connect() as connection:
            raw = await connection.get_raw_connection()
            cursor = raw.driver_connection
            explained = await cursor.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)
            plan = await explained.fetchall()
        details = [str(row[-1]) for row in plan]
        assert not any(d.startswith("SCAN referrals") for d in details), details
        assert any(
            d.startswith("SEARCH referrals USING INDEX ix_referrals_job_seeker_id") for d in details
        ), details

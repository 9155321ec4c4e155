"""Agencies' requests for a scheme on a hard-to-fill offer (issue 16, item 5), on the real store:
opened once per applied answer, listed for the offer's structure's counsellors (and ops), taken on
or dismissed once; another structure neither sees nor decides them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
from fastapi import FastAPI

from dispositifs.models import OfferSchemeRequest
from dispositifs.use_cases.offer_requests import receive_offer_scheme_request
from shared.contracts.territory import OfferScheme, OfferSchemeRequested

from .conftest import COUNSELLOR, OPS, OTHER_COUNSELLOR, STRUCTURE

_ANSWERS = iter(range(1000, 100000))


def scheme_requested(structure_code: str | None, scheme: OfferScheme) -> OfferSchemeRequested:
    return OfferSchemeRequested(
        offer_id=uuid.uuid4(),
        answer_id=next(_ANSWERS),
        scheme=scheme,
        agency_id="agc-interim-nord-lille",
        network_id="interim-nord",
        title="Soudeur / soudeuse (H/F)",
        rome_code="H2913",
        departement="59",
        region="32",
        hard_to_fill_source="bmo",
        structure_code=structure_code,
        requested_at=datetime.now(UTC),
    )


async def offer_scheme_request(
    app: FastAPI, structure_code: str | None, scheme: OfferScheme = OfferScheme.PMSMP
) -> OfferSchemeRequest:
    async with app.state.runtime.database.transaction() as session:
        return await receive_offer_scheme_request(session, scheme_requested(structure_code, scheme))


async def test_a_request_is_opened_once_listed_for_its_structure_and_decided_once(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    event = scheme_requested(STRUCTURE, OfferScheme.MRS)
    async with app.state.runtime.database.transaction() as session:
        first = await receive_offer_scheme_request(session, event)
    async with app.state.runtime.database.transaction() as session:
        again = await receive_offer_scheme_request(session, event)
    assert again.id == first.id
    elsewhere = await offer_scheme_request(app, "13055", OfferScheme.POEI)
    from_ft_api = await offer_scheme_request(app, None, OfferScheme.PMSMP)

    mine = await client.get("/v1/offer-scheme-requests", headers=COUNSELLOR)
    assert mine.status_code == 200, mine.text
    assert [(r["id"], r["scheme"], r["status"]) for r in mine.json()] == [
        (str(first.id), "mrs", "open")
    ]
    everything = await client.get("/v1/offer-scheme-requests", headers=OPS)
    assert {r["id"] for r in everything.json()} == {
        str(first.id),
        str(elsewhere.id),
        str(from_ft_api.id),
    }

    refused = await client.post(
        f"/v1/offer-scheme-requests/{first.id}/take", headers=OTHER_COUNSELLOR
    )
    assert refused.status_code == 404
    taken = await client.post(f"/v1/offer-scheme-requests/{first.id}/take", headers=COUNSELLOR)
    assert taken.status_code == 200, taken.text
    assert taken.json()["status"] == "taken"
    twice = await client.post(f"/v1/offer-scheme-requests/{first.id}/dismiss", headers=COUNSELLOR)
    assert twice.status_code in (409, 422), twice.text
    assert "impossible" in twice.text
    open_ones = await client.get(
        "/v1/offer-scheme-requests", params={"status": "open"}, headers=COUNSELLOR
    )
    assert open_ones.json() == []

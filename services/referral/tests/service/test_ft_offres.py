"""The France Travail Offres d'emploi v2 adapter against a local server speaking the same JSON
(a real HTTP server on 127.0.0.1, no network): OAuth2 client credentials, paging by ``range``
with ``Content-Range``, the mapping to the platform's offers; then the sync route records them
once and publishes the hard-to-fill ones (issue 16, item 5)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from localkafka import free_port
from referral.adapters.ft_offres import (
    FtOffresClient,
    FtOffresConfig,
    FtOffresError,
    departement_of,
    fetch_offers,
)
from referral.models import PLATFORM
from shared.auth.tokens import Role

from ..conftest import bearer

CLIENT_ID, CLIENT_SECRET = "PAR_coop_test", "s3cret-de-test"


def _offer(n: int, **overrides: Any) -> dict[str, Any]:
    offer: dict[str, Any] = {
        "id": f"FT{n:05d}",
        "intitule": f"Soudeur MIG-MAG {n}",
        "romeCode": "H2913",
        "lieuTravail": {
            "libelle": "80 - AMIENS",
            "latitude": 49.894,
            "longitude": 2.2957,
            "codePostal": "80000",
            "commune": "80021",
        },
        "typeContrat": "MIS",
        "nombrePostes": 2,
        "offresManqueCandidats": n % 2 == 0,
        "dateCreation": "2026-11-30T08:00:00.000Z",
    }
    offer.update(overrides)
    return offer


class FakeFranceTravail:
    """Token endpoint and offer search, as francetravail.io answers them."""

    def __init__(self, offers: list[dict[str, Any]]) -> None:
        self.offers = offers
        self.tokens_issued = 0
        self.ranges: list[str] = []
        self.criteria: list[dict[str, str]] = []
        self.app = Starlette(
            routes=[
                Route("/connexion/oauth2/access_token", self.token, methods=["POST"]),
                Route("/partenaire/offresdemploi/v2/offres/search", self.search),
            ]
        )

    async def token(self, request: Request) -> Response:
        # The form parsed by hand (python-multipart is not a dependency of the project).
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        if request.query_params.get("realm") != "/partenaire":
            return JSONResponse({"error": "invalid_realm"}, status_code=400)
        if (form.get("grant_type"), form.get("client_id"), form.get("client_secret")) != (
            "client_credentials",
            CLIENT_ID,
            CLIENT_SECRET,
        ) or "api_offresdemploiv2" not in str(form.get("scope")):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        self.tokens_issued += 1
        return JSONResponse(
            {
                "access_token": f"token-{self.tokens_issued}",
                "scope": form.get("scope"),
                "token_type": "Bearer",
                "expires_in": 1499,
            }
        )

    async def search(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer token-{self.tokens_issued}":
            return JSONResponse({"message": "Unauthorized"}, status_code=401)
        self.ranges.append(request.query_params["range"])
        self.criteria.append(dict(request.query_params))
        selected = self.offers
        if request.query_params.get("offresManqueCandidats") == "true":
            selected = [o for o in selected if o["offresManqueCandidats"]]
        start, end = (int(x) for x in request.query_params["range"].split("-"))
        if end - start + 1 > 150:
            return JSONResponse({"message": "range trop grand"}, status_code=400)
        page = selected[start : end + 1]
        if not page:
            return Response(status_code=204)
        last = start + len(page) - 1
        status = 200 if last + 1 >= len(selected) else 206
        return JSONResponse(
            {"resultats": page, "filtresPossibles": []},
            status_code=status,
            headers={"Content-Range": f"offres {start}-{last}/{len(selected)}"},
        )


@pytest.fixture
async def fake_ft() -> AsyncIterator[tuple[FakeFranceTravail, str]]:
    offers = [_offer(n) for n in range(1, 321)]
    offers.append(_offer(999, romeCode="Z9999"))  # not a ROME 4.0 code: skipped
    fake = FakeFranceTravail(offers)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(fake.app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn has no started event
        await asyncio.sleep(0.02)
    try:
        yield fake, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def _config(base: str, secret: str = CLIENT_SECRET) -> FtOffresConfig:
    return FtOffresConfig(
        base_url=f"{base}/partenaire/offresdemploi/v2",
        token_url=f"{base}/connexion/oauth2/access_token?realm=%2Fpartenaire",
        client_id=CLIENT_ID,
        client_secret=secret,
    )


async def test_the_adapter_pages_by_range_and_maps_the_offers(
    fake_ft: tuple[FakeFranceTravail, str],
) -> None:
    fake, base = fake_ft
    client = FtOffresClient(_config(base))
    try:
        offers, skipped = await fetch_offers(client, departement="80")
    finally:
        await client.aclose()
    assert fake.ranges == ["0-149", "150-299", "300-449"]
    assert fake.tokens_issued == 1  # one token for the three pages
    assert (len(offers), skipped) == (320, 1)
    first, second = offers[0], offers[1]
    assert (first.ft_offer_id, first.rome_code, first.departement) == ("FT00001", "H2913", "80")
    assert (first.contract_type.value, first.posts, first.commune) == ("mission", 2, "Amiens")
    assert (first.latitude, first.longitude) == (49.894, 2.2957)
    assert (first.hard_to_fill, first.hard_to_fill_source) == (False, None)
    assert (second.hard_to_fill, second.hard_to_fill_source) == (True, "offer_flag")


async def test_bad_credentials_are_an_error_without_the_secret(
    fake_ft: tuple[FakeFranceTravail, str],
) -> None:
    _, base = fake_ft
    client = FtOffresClient(_config(base, secret="faux"))
    try:
        with pytest.raises(FtOffresError) as raised:
            await fetch_offers(client)
    finally:
        await client.aclose()
    assert "faux" not in str(raised.value)
    assert "401" in str(raised.value)


def test_the_departement_comes_from_the_commune_code_then_the_label() -> None:
    assert departement_of({"commune": "97411", "libelle": "974 - ST DENIS"}) == "974"
    assert departement_of({"commune": "2A004"}) == "2A"
    assert departement_of({"libelle": "59 - LILLE"}) == "59"
    assert departement_of({"libelle": "France"}) is None


async def test_the_sync_route_records_each_offer_once_and_publishes_the_hard_to_fill_ones(
    fake_ft: tuple[FakeFranceTravail, str], app: FastAPI, client: httpx.AsyncClient
) -> None:
    _, base = fake_ft
    settings = app.state.settings
    settings.ft_offres_base_url = f"{base}/partenaire/offresdemploi/v2"
    settings.ft_offres_token_url = f"{base}/connexion/oauth2/access_token?realm=%2Fpartenaire"
    settings.ft_offres_client_id, settings.ft_offres_client_secret = CLIENT_ID, CLIENT_SECRET
    ops = bearer(Role.OPS)
    # An agency of the seeded directory in the Somme, knowing the trade.
    agency = {
        "id": "agc-somme-soudure",
        "name": "Somme Soudure",
        "network_id": "somme-interim",
        "siret": "73282932000082",
        "departement": "80",
        "rome_codes": ["H2913"],
    }
    created = await client.post(
        "/v1/agencies", json=agency, headers={**ops, "Idempotency-Key": "ft-sync-agency-1"}
    )
    assert created.status_code == 201, created.text
    response = await client.post(
        "/v1/offers/france-travail-sync", json={"departement": "80"}, headers=ops
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["received"], report["created"], report["skipped"]) == (160, 160, 0)
    assert report["published_to"] == ["somme-interim"]
    again = await client.post(
        "/v1/offers/france-travail-sync", json={"departement": "80"}, headers=ops
    )
    assert (again.json()["created"], again.json()["already_known"]) == (0, 160)
    runtime = app.state.runtime
    async with runtime.session() as session:
        outbox = PLATFORM.outbox
        topics = list(
            await session.scalars(
                select(outbox.c.topic).where(
                    outbox.c.event_type == "coop.agency.hard_to_fill_offer_published.v1"
                )
            )
        )
    assert topics == ["agency.somme-interim.feed"] * 160
    listed = await client.get(
        "/v1/offers", params={"hard_to_fill": "true", "departement": "80"}, headers=ops
    )
    assert all(o["hard_to_fill_source"] == "offer_flag" for o in listed.json()["items"])
    unconfigured = await client.post(
        "/v1/offers/france-travail-sync",
        json={},
        headers=bearer(Role.COUNSELLOR, ft_structure="75101"),
    )
    assert unconfigured.status_code == 403

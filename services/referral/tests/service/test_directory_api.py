"""Agency directory (ops endpoints, search, suggestion), job seekers and consents, offers: over
the real store."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from shared.auth.tokens import Role

from ..conftest import bearer

OPS = bearer(Role.OPS)
COUNSELLOR = bearer(Role.COUNSELLOR, "conseiller.dupont", ft_structure="75101")


def _key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def _agency(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "agc-test-amiens",
        "name": "Test Intérim — Amiens",
        "network_id": "test-interim",
        "siret": "73282932000082",  # Luhn-valid
        "departement": "80",
        "address": "1 rue de la République, 80000 Amiens",
        "email": "amiens@test-interim.example",
        "rome_codes": ["H2913", "N1103"],
    }
    body.update(overrides)
    return body


async def _create_agency(client: httpx.AsyncClient, **overrides: Any) -> httpx.Response:
    return await client.post("/v1/agencies", json=_agency(**overrides), headers={**OPS, **_key()})


async def test_ops_add_an_agency_with_its_region_from_the_referential(
    client: httpx.AsyncClient,
) -> None:
    response = await _create_agency(client)
    assert response.status_code == 201, response.text
    agency = response.json()
    assert agency["region"] == "32"
    assert agency["region_name"] == "Hauts-de-France"
    assert agency["rome_codes"] == ["H2913", "N1103"]
    assert response.headers["Location"] == "/v1/agencies/agc-test-amiens"
    again = await _create_agency(client)
    assert again.status_code == 409


async def test_bad_siret_unknown_departement_and_rome_name_their_fields(
    client: httpx.AsyncClient,
) -> None:
    cases = [
        ({"siret": "73282932000083"}, "siret"),  # Luhn fails
        ({"siret": "7328293200008A"}, "siret"),
        ({"departement": "00"}, "departement"),  # well-formed, not in the referential
        ({"rome_codes": ["H2913", "Z9999"]}, "rome_codes.1"),
        ({"rome_codes": ["H2913", "N9999"]}, "rome_codes.1"),
        ({"siret": "73282932000074"}, "siret"),  # already the Lille agency's
    ]
    for overrides, field in cases:
        response = await _create_agency(client, **overrides)
        assert response.status_code == 422, (overrides, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"][0]["field"] == field, overrides


async def test_la_poste_siret_follows_its_own_rule(client: httpx.AsyncClient) -> None:
    # SIREN 356000000: valid when the digit sum is a multiple of 5, not by Luhn.
    # 35600000000010 fails Luhn; its digit sum is 15.
    response = await _create_agency(client, siret="35600000000010")
    assert response.status_code == 201, response.text


async def test_only_ops_manage_the_directory(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/agencies", json=_agency(), headers={**COUNSELLOR, **_key()})
    assert response.status_code == 403
    patch = await client.patch(
        "/v1/agencies/agc-interim-nord-lille", json={"name": "X"}, headers=COUNSELLOR
    )
    assert patch.status_code == 403


async def test_ops_update_an_agency(client: httpx.AsyncClient) -> None:
    url = "/v1/agencies/agc-interim-nord-lille"
    response = await client.patch(
        url, json={"departement": "80", "rome_codes": ["N4101"], "active": False}, headers=OPS
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["departement"], body["region"], body["rome_codes"], body["active"]) == (
        "80",
        "32",
        ["N4101"],
        False,
    )
    bad = await client.patch(url, json={"siret": "12345678901234"}, headers=OPS)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "siret"
    missing = await client.patch("/v1/agencies/agc-nowhere", json={"name": "X"}, headers=OPS)
    assert missing.status_code == 404


async def test_agency_search_by_region_rome_and_network_with_a_cursor(
    client: httpx.AsyncClient,
) -> None:
    async def ids(**params: Any) -> list[str]:
        response = await client.get("/v1/agencies", params=params, headers=COUNSELLOR)
        assert response.status_code == 200, response.text
        return [a["id"] for a in response.json()["items"]]

    assert await ids(region="32") == [
        "agc-interim-nord-arras",
        "agc-interim-nord-lille",
    ]
    assert await ids(departement="35") == ["agc-emploi-ouest-rennes"]
    assert "agc-batipro-interim-toulouse" in await ids(rome_code="F1703")
    assert all(a.startswith("agc-travail-plus") for a in await ids(network_id="travail-plus"))
    everything = await ids(limit=500)
    regions = {
        a["region"]
        for a in (await client.get("/v1/agencies", params={"limit": 500}, headers=OPS)).json()[
            "items"
        ]
    }
    assert len(regions) == 18  # the seed covers every région

    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 7, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/agencies", params=params, headers=OPS)).json()
        seen += [a["id"] for a in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == everything


async def test_suggestion_ranks_by_specialisation_proximity_and_results_with_its_parts(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(
        "/v1/agencies/suggestions",
        params={"rome_code": "H2913", "departement": "59"},
        headers=COUNSELLOR,
    )
    assert response.status_code == 200, response.text
    ranked = response.json()
    assert [s["agency_id"] for s in ranked[:2]] == [
        "agc-interim-nord-lille",  # specialised, same département
        "agc-interim-nord-arras",  # specialised, same région
    ]
    lille = ranked[0]
    parts = {p["name"]: p for p in lille["parts"]}
    assert set(parts) == {"specialisation", "proximity", "acceptance", "placement"}
    assert parts["specialisation"]["value"] == 1.0
    assert parts["proximity"]["value"] == 1.0
    # No history yet: the prior, not zero.
    assert parts["acceptance"]["value"] == 0.5
    assert parts["placement"]["value"] == 0.3
    assert lille["score"] == round(sum(p["weighted"] for p in lille["parts"]), 4)
    assert all(p["explanation"] for p in lille["parts"])
    strasbourg = next(s for s in ranked if s["agency_id"] == "agc-interim-nord-strasbourg")
    assert {p["name"]: p["value"] for p in strasbourg["parts"]}["proximity"] == 0.0

    bad = await client.get(
        "/v1/agencies/suggestions", params={"rome_code": "H2913"}, headers=COUNSELLOR
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "departement"


# -- job seekers and consent -----------------------------------------------------------------


def _seeker(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "ft_identifier": "5555555E",
        "first_name": "Nadia",
        "last_name": "Haddad",
        "birth_date": "2003-06-01",
        "departement": "59",
        "rqth": True,
        "qpv": True,
    }
    body.update(overrides)
    return body


async def test_job_seeker_record_with_computed_priority_publics(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/v1/job-seekers", json=_seeker(), headers={**COUNSELLOR, **_key()}
    )
    assert response.status_code == 201, response.text
    seeker = response.json()
    assert seeker["priority_publics"] == ["jeune", "qpv", "rqth"]
    assert "nir" not in seeker
    duplicate = await client.post(
        "/v1/job-seekers", json=_seeker(), headers={**COUNSELLOR, **_key()}
    )
    assert duplicate.status_code == 409
    assert duplicate.json()["existing_job_seeker_id"] == seeker["id"]

    patched = await client.patch(
        f"/v1/job-seekers/{seeker['id']}", json={"brsa": True, "qpv": False}, headers=COUNSELLOR
    )
    assert patched.json()["priority_publics"] == ["brsa", "jeune", "rqth"]
    found = await client.get("/v1/job-seekers", params={"ft_identifier": "5555555E"}, headers=OPS)
    assert [s["id"] for s in found.json()["items"]] == [seeker["id"]]

    bad = await client.post(
        "/v1/job-seekers",
        json=_seeker(ft_identifier="6666666F", nir="1850575123456"),
        headers={**COUNSELLOR, **_key()},
    )
    assert bad.status_code == 422  # no NIR, not even accepted and ignored
    assert bad.json()["errors"][0]["field"] == "nir"


async def test_consents_are_recorded_listed_and_withdrawn(client: httpx.AsyncClient) -> None:
    seeker = (
        await client.post("/v1/job-seekers", json=_seeker(), headers={**COUNSELLOR, **_key()})
    ).json()
    url = f"/v1/job-seekers/{seeker['id']}/consents"
    created = await client.post(
        url,
        json={"agency_id": "agc-interim-nord-lille", "scope": "rqth", "channel": "in_person"},
        headers={**COUNSELLOR, **_key()},
    )
    assert created.status_code == 201, created.text
    consent = created.json()
    assert consent["recorded_by"] == "conseiller.dupont"
    assert consent["scope_label"].startswith("Reconnaissance")
    unknown = await client.post(
        url,
        json={"agency_id": "agc-nowhere", "scope": "identity", "channel": "in_person"},
        headers={**COUNSELLOR, **_key()},
    )
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "agency_id"

    withdrawn = await client.post(f"{url}/{consent['id']}/withdraw", headers=COUNSELLOR)
    assert withdrawn.json()["withdrawn_at"] is not None
    listed = (await client.get(url, headers=OPS)).json()
    assert [c["id"] for c in listed] == [consent["id"]]


# -- offers ------------------------------------------------------------------------------------


def _offer(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Conducteur PL",
        "rome_code": "N4101",
        "departement": "62",
        "contract_type": "cdi_interimaire",
        "posts": 2,
        "hard_to_fill": True,
        "hard_to_fill_source": "bmo",
        "ft_offer_id": "190ABCD",
    }
    body.update(overrides)
    return body


async def test_offers_validate_rome_and_the_source_of_the_hard_to_fill_flag(
    client: httpx.AsyncClient,
) -> None:
    created = await client.post("/v1/offers", json=_offer(), headers={**COUNSELLOR, **_key()})
    assert created.status_code == 201, created.text
    offer = created.json()
    assert (offer["region"], offer["rome_label"]) == (
        "32",
        "Conducteur / Conductrice de poids lourd",
    )
    assert offer["hard_to_fill_source_label"].startswith("Enquête BMO")
    cases = [
        (_offer(rome_code="N9999", ft_offer_id=None), "rome_code"),
        (_offer(rome_code="N41", ft_offer_id=None), "rome_code"),
        (_offer(hard_to_fill_source=None, ft_offer_id=None), "hard_to_fill_source"),
        (_offer(hard_to_fill=False, ft_offer_id=None), "hard_to_fill_source"),
        (_offer(hard_to_fill_source="gossip", ft_offer_id=None), "hard_to_fill_source"),
        (_offer(), "ft_offer_id"),  # already registered
    ]
    for body, field in cases:
        response = await client.post("/v1/offers", json=body, headers={**COUNSELLOR, **_key()})
        assert response.status_code == 422, (body, response.text)
        assert response.json()["errors"][0]["field"] == field
    tense = await client.get(
        "/v1/offers", params={"hard_to_fill": "true", "rome_code": "N4101"}, headers=OPS
    )
    ids = [o["id"] for o in tense.json()["items"]]
    assert offer["id"] in ids

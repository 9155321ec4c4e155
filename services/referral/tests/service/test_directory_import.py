"""A network's directory at its real scale (issue 16, item 6): bulk import and re-sync from CSV
and JSON, idempotent, the rejected lines reported in French; contacts kept by the network
itself; proximity by distance across a régional border — on the real store."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text
from stdnum import luhn

from referral.use_cases import directory_import
from shared.auth.tokens import Role

from ..conftest import bearer

OPS = bearer(Role.OPS)
COUNSELLOR = bearer(Role.COUNSELLOR, "conseiller.dupont", ft_structure="75101")
NORD_ERP = bearer(
    Role.AGENCY, "erp-nord", agency_id="agc-interim-nord-lille", network_id="interim-nord"
)
OTHER_ERP = bearer(Role.AGENCY, "erp-autre", agency_id="agc-x", network_id="autre-reseau")
CSV = {"Content-Type": "text/csv"}

HEADER = "id;name;siret;departement;commune;postcode;latitude;longitude;email;phone;rome_codes"


def siret(n: int) -> str:
    """A valid SIRET built from ``n``: a Luhn-valid SIREN, then a NIC making the 14 digits
    Luhn-valid."""
    siren = f"4{n:07d}"
    siren += luhn.calc_check_digit(siren)
    body = f"{siren}0001"
    return body + luhn.calc_check_digit(body)


def _line(n: int, **overrides: str) -> str:
    values = {
        "id": f"agc-tn-{n:05d}",
        "name": f"Test Nord {n}",
        "siret": siret(n),
        "departement": "59",
        "commune": "Lille",
        "postcode": "59000",
        "latitude": "50,6292",
        "longitude": "3.0573",
        "email": f"agence{n}@interim-nord.example",
        "phone": "03 20 00 00 00",
        "rome_codes": "H2913 N1103",
    }
    values.update(overrides)
    return ";".join(values[k] for k in HEADER.split(";"))


async def _put(
    client: httpx.AsyncClient, body: str, headers: dict[str, str], **query: Any
) -> httpx.Response:
    return await client.put(
        "/v1/networks/interim-nord/agencies",
        content=body.encode(),
        headers={**headers, **CSV},
        params=query,
    )


async def test_a_csv_import_reports_its_rejected_lines_and_is_idempotent(
    client: httpx.AsyncClient,
) -> None:
    good = [_line(n) for n in range(1, 6)]
    bad = [
        _line(6, siret="12345678901234"),
        _line(7, departement="00"),
        _line(8, latitude="", longitude="3.1"),
        _line(9, rome_codes="H2913 Z9999"),
        _line(10, email="pas-une-adresse"),
        _line(1, name="Doublon"),  # id already on line 2
        _line(11, siret=siret(2)),  # SIRET already on line 3
    ]
    body = "\n".join([HEADER, *good, *bad]) + "\n"
    response = await _put(client, body, OPS)
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["received"], report["created"], report["updated"], report["unchanged"]) == (
        12,
        5,
        0,
        0,
    )
    rejected = {(r["line"], r["field"]) for r in report["rejected"]}
    assert rejected == {
        (7, "siret"),
        (8, "departement"),
        (9, "latitude"),
        (10, "rome_codes"),
        (11, "email"),
        (12, "id"),
        (13, "siret"),
    }
    reasons = {r["line"]: r["reason"] for r in report["rejected"]}
    assert reasons[7] == "SIRET invalide (14 chiffres, clé de Luhn)"
    assert reasons[8] == "département 00 inconnu"
    assert reasons[10] == "code ROME Z9999 inconnu du référentiel ROME 4.0"
    assert reasons[12] == "identifiant en double dans le fichier"

    agency = (await client.get("/v1/agencies/agc-tn-00001", headers=COUNSELLOR)).json()
    assert (agency["commune"], agency["postcode"], agency["region"]) == ("Lille", "59000", "32")
    assert (agency["latitude"], agency["longitude"]) == (50.6292, 3.0573)
    assert agency["rome_codes"] == ["H2913", "N1103"]

    again = (await _put(client, "\n".join([HEADER, *good]), OPS)).json()
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 5)

    seeded = await client.get(
        "/v1/agencies", params={"network_id": "interim-nord", "active": "true"}, headers=OPS
    )
    seeded_active = len(seeded.json()["items"]) - 5
    changed = [
        *good[:3],
        _line(4, siret="12345678901234"),  # at fault: reported, neither changed nor deactivated
        _line(5, commune="Roubaix", postcode="59100", rome_codes="H2913"),
    ]
    resync = (
        await _put(client, "\n".join([HEADER, *changed[1:]]), OPS, deactivate_missing="true")
    ).json()
    assert (resync["updated"], resync["unchanged"], resync["deactivated"]) == (
        1,
        2,
        1 + seeded_active,
    )
    assert [(r["agency_id"], r["field"]) for r in resync["rejected"]] == [("agc-tn-00004", "siret")]
    fourth = (await client.get("/v1/agencies/agc-tn-00004", headers=COUNSELLOR)).json()
    assert (fourth["active"], fourth["siret"]) == (True, siret(4))
    fifth = (await client.get("/v1/agencies/agc-tn-00005", headers=COUNSELLOR)).json()
    assert (fifth["commune"], fifth["rome_codes"]) == ("Roubaix", ["H2913"])
    first = (await client.get("/v1/agencies/agc-tn-00001", headers=COUNSELLOR)).json()
    assert first["active"] is False
    # The seeded agencies of the network were absent from the file too: deactivated, kept.
    lille = (await client.get("/v1/agencies/agc-interim-nord-lille", headers=COUNSELLOR)).json()
    assert lille["active"] is False


async def test_a_network_imports_its_own_agencies_in_json_and_never_another_networks(
    client: httpx.AsyncClient,
) -> None:
    agencies = [
        {
            "id": "agc-tn-json-1",
            "name": "Test JSON 1",
            "siret": siret(101),
            "departement": "62",
            "latitude": 50.29,
            "longitude": 2.78,
            "rome_codes": ["H2913"],
        },
        # An id of another network's agency (seeded): refused, that agency untouched.
        {"id": "agc-travail-plus-lyon", "name": "Pris", "siret": siret(102), "departement": "69"},
        {
            "id": "agc-tn-json-3",
            "name": "Autre réseau",
            "siret": siret(103),
            "departement": "59",
            "network_id": "autre-reseau",
        },
    ]
    response = await client.put(
        "/v1/networks/interim-nord/agencies", json={"agencies": agencies}, headers=NORD_ERP
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["created"] == 1
    rejected = {r["line"]: (r["field"], r["reason"]) for r in report["rejected"]}
    assert rejected[2][0] == "id"
    assert "réseau" in rejected[2][1]
    assert rejected[3] == ("network_id", "la ligne est du réseau autre-reseau, pas interim-nord")

    # Another network's token does not touch this network's directory.
    refused = await client.put(
        "/v1/networks/interim-nord/agencies", json=agencies[:1], headers=OTHER_ERP
    )
    assert refused.status_code == 403
    contact = await client.patch(
        "/v1/networks/interim-nord/agencies/agc-tn-json-1/contacts",
        json={"email": "pirate@example.org"},
        headers=OTHER_ERP,
    )
    assert contact.status_code == 403
    # Its own contacts, yes; an agency of another network through its own path: unknown.
    ok = await client.patch(
        "/v1/networks/interim-nord/agencies/agc-tn-json-1/contacts",
        json={
            "email": "arras@interim-nord.example",
            "phone": "03 21 00 00 00",
            "contact_name": "Accueil Arras",
        },
        headers=NORD_ERP,
    )
    assert ok.status_code == 200, ok.text
    assert (ok.json()["email"], ok.json()["contact_name"]) == (
        "arras@interim-nord.example",
        "Accueil Arras",
    )
    elsewhere = await client.patch(
        "/v1/networks/interim-nord/agencies/agc-travail-temp-paris/contacts",
        json={"phone": "01 00 00 00 00"},
        headers=NORD_ERP,
    )
    assert elsewhere.status_code == 404
    bad = await client.patch(
        "/v1/networks/interim-nord/agencies/agc-tn-json-1/contacts",
        json={"phone": "appelez-moi"},
        headers=NORD_ERP,
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "phone"


async def test_an_unreadable_file_is_refused_as_a_whole_in_french(
    client: httpx.AsyncClient,
) -> None:
    missing = await _put(client, "id;name\nagc-a;A\n", OPS)
    assert missing.status_code == 422
    assert "siret" in missing.json()["detail"]
    xml = await client.put(
        "/v1/networks/interim-nord/agencies",
        content=b"<agencies/>",
        headers={**OPS, "Content-Type": "application/xml"},
    )
    assert xml.status_code == 422
    assert xml.json()["errors"][0]["field"] == "content-type"
    counsellor = await _put(client, HEADER, COUNSELLOR)
    assert counsellor.status_code == 403


async def test_a_neighbouring_departement_across_a_regional_border_ranks_by_distance(
    client: httpx.AsyncClient,
) -> None:
    # Origin: Creil (Oise, Hauts-de-France). Cergy (Val-d'Oise, Île-de-France) is ~37 km away;
    # Maubeuge (Nord, the same région) ~150 km. By région the Nord agency would win.
    rows = [
        _line(
            201,
            departement="95",
            commune="Cergy",
            postcode="95000",
            latitude="49.0364",
            longitude="2.0761",
            rome_codes="H2913",
        ),
        _line(
            202,
            departement="59",
            commune="Maubeuge",
            postcode="59600",
            latitude="50.2775",
            longitude="3.9734",
            rome_codes="H2913",
        ),
        _line(
            203,
            departement="60",
            commune="Beauvais",
            postcode="60000",
            latitude="49.4295",
            longitude="2.0807",
            rome_codes="N1103",
        ),
    ]
    assert (await _put(client, "\n".join([HEADER, *rows]), OPS)).status_code == 200
    response = await client.get(
        "/v1/agencies/suggestions",
        params={
            "rome_code": "H2913",
            "departement": "60",
            "latitude": "49.2583",
            "longitude": "2.4833",
            "limit": "50",
        },
        headers=COUNSELLOR,
    )
    assert response.status_code == 200, response.text
    ranked = [s["agency_id"] for s in response.json()]
    assert ranked.index("agc-tn-00201") < ranked.index("agc-tn-00202")
    cergy = next(s for s in response.json() if s["agency_id"] == "agc-tn-00201")
    assert 30 < cergy["distance_km"] < 45
    proximity = next(p for p in cergy["parts"] if p["name"] == "proximity")
    assert proximity["value"] > 0.5
    assert proximity["explanation"].startswith("à ")
    maubeuge = next(s for s in response.json() if s["agency_id"] == "agc-tn-00202")
    assert next(p for p in maubeuge["parts"] if p["name"] == "proximity")["value"] < 0.1

    # Without coordinates the origin is the centre of the département's geolocated agencies
    # (Beauvais here): Cergy (~45 km) still before Maubeuge.
    by_departement = await client.get(
        "/v1/agencies/suggestions",
        params={"rome_code": "H2913", "departement": "60", "limit": "50"},
        headers=COUNSELLOR,
    )
    ranked = [s["agency_id"] for s in by_departement.json()]
    assert ranked.index("agc-tn-00201") < ranked.index("agc-tn-00202")
    half = await client.get(
        "/v1/agencies/suggestions",
        params={"rome_code": "H2913", "departement": "60", "latitude": "49.2"},
        headers=COUNSELLOR,
    )
    assert half.status_code == 422
    assert half.json()["errors"][0]["field"] == "longitude"


async def test_ops_set_an_agencys_coordinates_by_hand(client: httpx.AsyncClient) -> None:
    response = await client.patch(
        "/v1/agencies/agc-interim-nord-lille",
        json={"latitude": 50.63},
        headers=OPS,
    )
    assert response.status_code == 422
    response = await client.patch(
        "/v1/agencies/agc-interim-nord-lille",
        json={"latitude": 50.63, "longitude": 3.06, "commune": "Lille", "postcode": "59000"},
        headers={**OPS, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert response.status_code == 200, response.text
    assert response.json()["commune"] == "Lille"


async def _statistics(app: FastAPI) -> dict[str, tuple[int, float]]:
    """Each table's (manual ANALYZE count, the planner's row estimate), as PostgreSQL reports
    them to another connection after the import's commit."""
    async with app.state.runtime.database.engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT s.relname, s.analyze_count, c.reltuples FROM pg_stat_user_tables s"
                " JOIN pg_class c ON c.oid = s.relid"
                " WHERE s.relname IN ('agencies', 'agency_specialisations')"
            )
        )
        return {name: (int(count), float(tuples)) for name, count, tuples in rows}


async def test_a_bulk_import_refreshes_the_planners_statistics_on_postgresql(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """From ``ANALYZE_AFTER_ROWS`` agencies written, the import ends with ``ANALYZE``: the planner
    estimates the agencies just imported instead of the empty table's one row. A small import
    leaves the statistics to autovacuum; on SQLite no statistics table is ever written."""
    postgresql = app.state.runtime.database.engine.dialect.name == "postgresql"
    small = "\n".join([HEADER, *(_line(n) for n in range(1, 6))])
    assert (await _put(client, small, OPS)).status_code == 200
    before = await _statistics(app) if postgresql else {}

    size = directory_import.ANALYZE_AFTER_ROWS
    bulk = "\n".join([HEADER, *(_line(n) for n in range(10, 10 + size))])
    response = await _put(client, bulk, OPS)
    assert response.status_code == 200, response.text
    assert response.json()["created"] == size

    if postgresql:
        after = await _statistics(app)
        for table in ("agencies", "agency_specialisations"):
            assert after[table][0] == before[table][0] + 1, (table, before, after)
        assert after["agencies"][1] >= size
        assert after["agency_specialisations"][1] >= 2 * size  # two trades per line
        # The small import did not analyze: a second small one changes no count either.
        again = "\n".join([HEADER, _line(1, name="Renommée")])
        assert (await _put(client, again, OPS)).json()["updated"] == 1
        assert {t: c for t, (c, _) in (await _statistics(app)).items()} == {
            t: c for t, (c, _) in after.items()
        }
    else:
        async with app.state.runtime.database.engine.connect() as connection:
            tables = await connection.execute(
                text("SELECT name FROM sqlite_master WHERE name = 'sqlite_stat1'")
            )
            assert tables.all() == []

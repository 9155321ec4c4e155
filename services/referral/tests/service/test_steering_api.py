"""Regional conventions with their targets and the indicators by every dimension they use
(issue 16, items 1 and 2), over the real store: progress equals the hand-computed figures, the
exports (CSV, ODS read back with odfpy) carry the same numbers as the JSON."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from odf.opendocument import load
from odf.table import Table, TableCell, TableRow
from odf.text import P
from sqlalchemy import event, text

from referral.domain import PriorityPublic, Scheme
from referral.use_cases.indicators import IndicatorFilters, indicator_facts
from shared.auth.tokens import Principal, Role
from shared.contracts.vocabulary import ContractType

from ..answers import accepted, answer, at, placed, scheme_event
from ..conftest import bearer

COUNSELLOR = bearer(Role.COUNSELLOR, "conseiller.dupont", ft_structure="59350")
STEERING = bearer(Role.STEERING, "copil.hdf")
OPS = bearer(Role.OPS)


def _key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


async def _send(
    client: httpx.AsyncClient,
    agency: str,
    ft: str,
    *,
    rome: str = "H2913",
    offer_id: str | None = None,
    birth: str = "1990-05-01",
    rqth: bool = False,
) -> dict[str, Any]:
    response = await client.post(
        "/v1/referrals",
        json={
            "job_seeker": {
                "ft_identifier": ft,
                "first_name": "A",
                "last_name": "B",
                "birth_date": birth,
                "rqth": rqth,
            },
            "agency_id": agency,
            "rome_code": rome,
            "offer_id": offer_id,
            "message": "Bonjour",
        },
        headers={**COUNSELLOR, **_key()},
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def _activity(client: httpx.AsyncClient, app: FastAPI) -> dict[str, Any]:
    """Four referrals in Hauts-de-France (three by Intérim Nord, one of them on a hard-to-fill
    offer), one in Auvergne-Rhône-Alpes; a placement, an MRS recruit, a POEC start, an
    immersion."""
    database = app.state.runtime.database
    offers = (await client.get("/v1/offers", headers=COUNSELLOR)).json()["items"]
    welder = next(o for o in offers if o["ft_offer_id"] == "DEMO0001")  # 59, BMO
    lille = await _send(client, "agc-interim-nord-lille", "3000001A", offer_id=welder["id"])
    arras = await _send(client, "agc-interim-nord-arras", "3000002A", rqth=True)
    young = await _send(client, "agc-interim-nord-lille", "3000003A", birth="2005-01-01")
    lyon = await _send(client, "agc-travail-plus-lyon", "3000004A", rome="N4101")
    when = datetime.fromisoformat(lille["created_at"])
    lille_id = uuid.UUID(lille["id"])
    await answer(database, accepted(lille_id, at(when, hours=2)))
    await answer(
        database, placed(lille_id, at(when, hours=3), ContractType.CDI, when.date() + timedelta(1))
    )
    await scheme_event(
        database,
        uuid.UUID(arras["id"]),
        "coop.mrs.evaluated.v1",
        Scheme.MRS,
        at(when, days=1),
        hired=True,
        data={"positive": True, "hired": True},
    )
    await scheme_event(
        database,
        uuid.UUID(young["id"]),
        "coop.training.enrolled.v1",
        Scheme.POEC,
        at(when, days=1),
    )
    await scheme_event(
        database,
        uuid.UUID(lyon["id"]),
        "coop.immersion.validated.v1",
        Scheme.IMMERSION,
        at(when, days=1),
    )
    return {"lille": lille, "arras": arras, "young": young, "lyon": lyon, "welder": welder}


def _convention(**overrides: Any) -> dict[str, Any]:
    today = datetime.now(UTC).date()
    return {
        "name": "Convention régionale Hauts-de-France",
        "scope": "regional",
        "region": "32",
        "period_start": (today - timedelta(days=30)).isoformat(),
        "period_end": (today + timedelta(days=335)).isoformat(),
        "networks": ["interim-nord"],
        "targets": {
            "referrals": 30,
            "placements": 10,
            "durable_placements": 5,
            "immersions": 4,
            "mrs_recruits": 2,
            "training_starts": 2,
            "priority_public_share": 50,
        },
        **overrides,
    }


async def test_a_regional_convention_shows_its_progress_from_the_indicator_facts(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    await _activity(client, app)
    created = await client.post(
        "/v1/conventions", json=_convention(), headers={**STEERING, **_key()}
    )
    assert created.status_code == 201, created.text
    convention_id = created.json()["id"]
    assert created.headers["location"] == f"/v1/conventions/{convention_id}"

    body = (await client.get(f"/v1/conventions/{convention_id}", headers=STEERING)).json()
    assert body["region_name"] == "Hauts-de-France"
    lines = {line["axis"]: (line["achieved"], line["target"]) for line in body["progress"]["lines"]}
    # Région 32, network interim-nord: Lille (placed, CDI), Arras (RQTH, MRS recruit), the young
    # one (POEC start). Lyon is another région and another network: not counted.
    assert lines == {
        "referrals": (3, 30),
        "placements": (1, 10),
        "durable_placements": (1, 5),
        "immersions": (0, 4),
        "mrs_recruits": (1, 2),
        "training_starts": (1, 2),
        "priority_public_share": (66.7, 50),  # Arras (RQTH) and the young one, of three
    }
    ratios = {line["axis"]: line["ratio"] for line in body["progress"]["lines"]}
    assert ratios["referrals"] == 0.1
    assert ratios["mrs_recruits"] == 0.5
    assert 0 < body["progress"]["elapsed"] < 0.2

    # The dashboard's filters narrow the progress too (here: the trade of the Lyon referral).
    trucking = (
        await client.get(
            f"/v1/conventions/{convention_id}", params={"rome_code": "N4101"}, headers=OPS
        )
    ).json()
    assert trucking["progress"]["lines"][0]["achieved"] == 0

    listed = (await client.get("/v1/conventions", headers=OPS)).json()["items"]
    mine = next(c for c in listed if c["id"] == convention_id)
    assert mine["progress"] == body["progress"]

    # Amending the targets (PUT replaces the terms).
    amended = await client.put(
        f"/v1/conventions/{convention_id}",
        json=_convention(targets={"referrals": 3}),
        headers=OPS,
    )
    assert amended.status_code == 200, amended.text
    again = (await client.get(f"/v1/conventions/{convention_id}", headers=STEERING)).json()
    assert [(x["axis"], x["ratio"]) for x in again["progress"]["lines"]] == [("referrals", 1.0)]


async def test_conventions_are_checked_and_kept_to_ops_and_steering(
    client: httpx.AsyncClient,
) -> None:
    cases = [
        (_convention(region=None), "region"),
        (_convention(region="99"), "region"),
        (_convention(scope="national"), "region"),
        (_convention(networks=["nowhere"]), "networks.0"),
        (_convention(period_end="2020-01-01"), "period_end"),
        (_convention(targets={"priority_public_share": 140}), "targets.priority_public_share"),
    ]
    for body, field in cases:
        response = await client.post("/v1/conventions", json=body, headers={**OPS, **_key()})
        assert response.status_code == 422, response.text
        assert field in [e["field"] for e in response.json()["errors"]], response.json()
    refused = await client.post(
        "/v1/conventions", json=_convention(), headers={**COUNSELLOR, **_key()}
    )
    assert refused.status_code == 403
    assert (await client.get("/v1/conventions", headers=COUNSELLOR)).status_code == 403
    national = await client.post(
        "/v1/conventions",
        json=_convention(scope="national", region=None, networks=[], name="Convention nationale"),
        headers={**OPS, **_key()},
    )
    assert national.status_code == 201, national.text
    missing = await client.get(f"/v1/conventions/{uuid.uuid4()}", headers=OPS)
    assert missing.status_code == 404


async def test_indicators_by_every_dimension_of_the_conventions(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    rows = await _activity(client, app)
    month = datetime.fromisoformat(rows["lille"]["created_at"]).strftime("%Y-%m")

    async def groups(group_by: str, **params: str) -> dict[str, int]:
        response = await client.get(
            "/v1/indicators", params={"group_by": group_by, **params}, headers=STEERING
        )
        assert response.status_code == 200, response.text
        return {g["group"]: g["referrals_sent"] for g in response.json()["groups"]}

    assert await groups("region") == {"32": 3, "84": 1}
    assert await groups("departement") == {"59": 2, "62": 1, "69": 1}
    assert await groups("agency") == {
        "agc-interim-nord-arras": 1,
        "agc-interim-nord-lille": 2,
        "agc-travail-plus-lyon": 1,
    }
    assert await groups("rome_code") == {"H2913": 3, "N4101": 1}
    assert await groups("hard_to_fill") == {"bmo": 1, "sans_offre": 3}
    assert await groups("month") == {month: 4}
    sectors = await groups("sector")
    assert sectors
    assert all(count in (1, 3) for count in sectors.values())
    assert await groups("scheme") == {"aucun": 1, "immersion": 1, "mrs": 1, "poec": 1}
    # Filters: a priority public, a scheme, a trade, the hard-to-fill source.
    assert await groups("region", priority_public="rqth") == {"32": 1}
    assert await groups("region", scheme="poec") == {"32": 1}
    assert await groups("region", rome_code="N4101") == {"84": 1}
    assert await groups("region", hard_to_fill="bmo") == {"32": 1}
    assert await groups("region", hard_to_fill="non") == {}
    bad = await client.get("/v1/indicators", params={"hard_to_fill": "maybe"}, headers=OPS)
    assert bad.status_code == 422

    schemes = (
        await client.get("/v1/indicators/schemes", params={"group_by": "region"}, headers=OPS)
    ).json()
    assert schemes["total"]["mrs"] == {"referrals": 1, "started": 1, "completed": 1, "recruited": 1}
    assert schemes["total"]["poec"] == {
        "referrals": 1,
        "started": 1,
        "completed": 0,
        "recruited": 0,
    }
    assert schemes["total"]["immersion"]["started"] == 1
    by_region = {g["group"]: g for g in schemes["groups"]}
    assert by_region["84"]["immersion"]["started"] == 1
    assert by_region["32"]["mrs"]["recruited"] == 1

    scheme_csv = await client.get(
        "/v1/indicators/schemes.csv", params={"group_by": "region"}, headers=OPS
    )
    assert scheme_csv.headers["content-type"].startswith("text/csv")
    lines = {r["group"]: r for r in csv.DictReader(io.StringIO(scheme_csv.text))}
    assert lines["total"]["mrs_recruited"] == "1"
    assert lines["84"]["immersion_started"] == "1"


def _ods_rows(content: bytes, sheet_name: str | None = None) -> list[list[str]]:
    """The text of every cell of the only sheet (or of the one named ``sheet_name``)."""
    document = load(io.BytesIO(content))
    sheets = document.spreadsheet.getElementsByType(Table)
    if sheet_name is None:
        (sheet,) = sheets
    else:
        (sheet,) = [s for s in sheets if s.getAttribute("name") == sheet_name]
    rows = []
    for row in sheet.getElementsByType(TableRow):
        cells = []
        for cell in row.getElementsByType(TableCell):
            cells.append("".join(str(p) for p in cell.getElementsByType(P)))
        rows.append(cells)
    return rows


async def test_the_ods_export_opens_and_matches_the_csv(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    await _activity(client, app)
    params = {"group_by": "region"}
    as_csv = await client.get("/v1/indicators.csv", params=params, headers=STEERING)
    as_ods = await client.get("/v1/indicators.ods", params=params, headers=STEERING)
    by_format = await client.get(
        "/v1/indicators", params={**params, "format": "ods"}, headers=STEERING
    )
    assert as_ods.status_code == 200, as_ods.text
    assert as_ods.headers["content-type"] == "application/vnd.oasis.opendocument.spreadsheet"
    assert as_ods.content[:2] == b"PK"  # a zip package, as ODF requires
    rows = _ods_rows(as_ods.content)
    assert rows == list(csv.reader(io.StringIO(as_csv.text)))
    assert _ods_rows(by_format.content) == rows
    header, *body = rows
    total = dict(zip(header, body[-1], strict=True))
    assert (total["group"], total["referrals_sent"], total["placements"]) == ("total", "4", "1")
    # Numbers are numeric cells (a spreadsheet sums them), secrets and labels are text.
    document = load(io.BytesIO(as_ods.content))
    first = document.spreadsheet.getElementsByType(TableRow)[1].getElementsByType(TableCell)
    assert first[0].getAttribute("valuetype") == "string"
    assert first[1].getAttribute("valuetype") == "float"


async def test_the_indicator_facts_are_one_indexed_query(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    """Whatever the filters and the grouping, the facts are read in one statement (referrals,
    their offer and their scheme events joined); on SQLite the région filter over a period
    uses the région index (PostgreSQL chooses by its statistics)."""
    await _activity(client, app)
    database = app.state.runtime.database
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    filters = IndicatorFilters(
        period_from=datetime.now(UTC).date() - timedelta(days=30),
        region="32",
        priority_public=PriorityPublic.RQTH,
        hard_to_fill="sans_offre",
        sector="10",
    )
    engine = database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        async with database.transaction() as session:
            facts = await indicator_facts(session, Principal("copil", Role.STEERING), filters)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 1, statements
    assert all(f.region == "32" for f in facts)
    if database.engine.dialect.name == "sqlite":
        async with database.transaction() as session:
            plan = await session.execute(
                text(
                    "EXPLAIN QUERY PLAN SELECT id FROM referrals"
                    " WHERE region = '32' AND created_at >= '2026-01-01'"
                )
            )
            details = " ".join(str(row[-1]) for row in plan)
        assert "ix_referrals_region_created" in details, details

"""Indicators checked end to end through the API over the real store, against hand-computed
figures (the pure computation: unit/test_indicators.py)."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from referral.domain import Scheme
from shared.auth.tokens import Role
from shared.contracts.vocabulary import ContractType, DeclineReason

from ..answers import accepted, acknowledged, answer, at, declined, placed, scheme_event
from ..conftest import bearer
from ..unit.test_indicators import _rate, _reasons

# -- through the API, over the real store ----------------------------------------------------

COUNSELLOR = bearer(Role.COUNSELLOR, "conseiller.dupont", ft_structure="75101")
OPS = bearer(Role.OPS)


async def _send(client: httpx.AsyncClient, agency: str, ft: str) -> dict[str, Any]:
    response = await client.post(
        "/v1/referrals",
        json={
            "job_seeker": {
                "ft_identifier": ft,
                "first_name": "A",
                "last_name": "B",
                "birth_date": "2004-05-01",
            },
            "agency_id": agency,
            "rome_code": "H2913",
            "message": "Bonjour",
        },
        headers={**COUNSELLOR, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_indicators_over_the_store_match_the_hand_computed_figures(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    database = app.state.runtime.database
    lille = await _send(client, "agc-interim-nord-lille", "2000001A")
    lyon = await _send(client, "agc-travail-plus-lyon", "2000002A")
    rennes = await _send(client, "agc-emploi-ouest-rennes", "2000003A")
    sent = {r["agency_id"]: datetime.fromisoformat(r["created_at"]) for r in (lille, lyon, rennes)}

    lille_id, lyon_id = uuid.UUID(lille["id"]), uuid.UUID(lyon["id"])
    base = sent["agc-interim-nord-lille"]
    await answer(database, acknowledged(lille_id, at(base, hours=1)))
    await answer(database, accepted(lille_id, at(base, hours=2)))
    await answer(database, placed(lille_id, at(base, hours=3), ContractType.CDI, date(2026, 3, 1)))
    await answer(
        database,
        declined(
            lyon_id,
            at(sent["agc-travail-plus-lyon"], hours=50),
            DeclineReason.NO_POSITION,
            agency="agc-travail-plus-lyon",
        ),
    )
    await scheme_event(
        database,
        uuid.UUID(rennes["id"]),
        "coop.mrs.evaluated.v1",
        Scheme.MRS,
        at(sent["agc-emploi-ouest-rennes"], days=5),
        hired=True,
        data={"positive": True, "hired": True},
    )

    body = (await client.get("/v1/indicators", headers=OPS)).json()
    assert body["total"] == {
        "referrals_sent": 3,
        "acknowledged_within_48h": 1,
        "accepted": 1,
        "declined": 1,
        "declined_by_reason": _reasons(no_position=1),
        "median_hours_to_first_answer": 25.5,  # 1 h and 50 h
        "closed_no_news": 0,
        "placements": 1,
        "durable_placements": 1,
        "placement_after_immersion": _rate(0, 0),
        "placement_after_mrs": _rate(1, 1),
        "placement_after_poei": _rate(0, 0),
        "placement_after_poec": _rate(0, 0),
    }

    by_network = (
        await client.get("/v1/indicators", params={"group_by": "network"}, headers=OPS)
    ).json()["groups"]
    assert [(g["group"], g["referrals_sent"], g["placements"]) for g in by_network] == [
        ("emploi-ouest", 1, 0),
        ("interim-nord", 1, 1),
        ("travail-plus", 1, 0),
    ]
    by_public = (
        await client.get("/v1/indicators", params={"group_by": "priority_public"}, headers=OPS)
    ).json()["groups"]
    assert [(g["group"], g["referrals_sent"]) for g in by_public] == [("jeune", 3)]

    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    empty = (await client.get("/v1/indicators", params={"to": yesterday}, headers=OPS)).json()
    assert empty["total"]["referrals_sent"] == 0

    other = bearer(Role.COUNSELLOR, "conseiller.autre", ft_structure="13055")
    theirs = (await client.get("/v1/indicators", headers=other)).json()
    assert theirs["total"]["referrals_sent"] == 0  # a counsellor sees their structure's figures


async def test_indicators_export_as_csv(client: httpx.AsyncClient, app: FastAPI) -> None:
    created = await _send(client, "agc-interim-nord-lille", "2000004A")
    await answer(
        app.state.runtime.database,
        declined(
            uuid.UUID(created["id"]),
            datetime.fromisoformat(created["created_at"]) + timedelta(hours=5),
            DeclineReason.NOT_MOBILE,
        ),
    )
    by_format = {"format": "csv", "group_by": "region"}
    for response in (
        await client.get("/v1/indicators", params=by_format, headers=OPS),
        await client.get("/v1/indicators.csv", params={"group_by": "region"}, headers=OPS),
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert [row["group"] for row in rows] == ["32", "total"]
        assert rows[1]["referrals_sent"] == "1"
        assert rows[1]["declined_not_mobile"] == "1"
        assert rows[1]["median_hours_to_first_answer"] == "5.0"
        assert rows[1]["after_mrs_rate"] == ""


async def test_bad_period_and_grouping_name_their_field(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/indicators", params={"group_by": "planet"}, headers=OPS)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "group_by"
    response = await client.get(
        "/v1/indicators", params={"from": "2026-02-02", "to": "2026-01-01"}, headers=OPS
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "from"

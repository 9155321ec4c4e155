"""Job datings and open days as a dimension of the convention's indicators (issue 16, item 4:
"job datings: invited, came, hired"): ``GET /v1/indicators?group_by=job_dating`` in JSON, CSV and
ODS, one group per event the caller's indicators count (another organisation's are not), the
people under statistical secrecy as the other dimensions."""

from __future__ import annotations

import csv
import io

import httpx
from fastapi import FastAPI
from odf.opendocument import load
from odf.table import Table, TableCell, TableRow

from referral.use_cases.local_actions import _protect_people
from shared.auth.tokens import Role

from ..conftest import bearer
from .test_job_datings import COUNSELLOR, OTHER, _job_dating, hold_job_dating

PERIOD = {"from": "2027-01-01", "to": "2027-01-31"}
STEERING = bearer(Role.STEERING, "copil")


async def test_indicators_grouped_by_job_dating_in_json_csv_and_ods(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    held = await hold_job_dating(app, client)
    # An open day of the same organisation without invitations yet, in Hauts-de-France too.
    open_day = await _job_dating(client, kind="open_day", title="Portes ouvertes logistique")
    assert open_day.status_code == 201, open_day.text

    for reader in (COUNSELLOR, STEERING, bearer(Role.OPS)):
        response = await client.get(
            "/v1/indicators", params={**PERIOD, "group_by": "job_dating"}, headers=reader
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["group_by"] == "job_dating"
        by_id = {g["group"]: g for g in body["groups"]}
        assert set(by_id) == {held["id"], open_day.json()["id"]}
        dating = by_id[held["id"]]
        assert (dating["kind"], dating["starts_on"], dating["region"]) == (
            "job_dating",
            "2027-01-14",
            "32",
        )
        counts = ("invited", "came", "did_not_come", "hired")
        assert [dating[c] for c in counts] == [10, 7, 3, 2]
        assert [by_id[open_day.json()["id"]][c] for c in counts] == [0, 0, 0, 0]
        assert by_id[open_day.json()["id"]]["kind"] == "open_day"
        assert [body["total"][c] for c in counts] == [10, 7, 3, 2]
        assert body["labels"]["kind"]["open_day"] == "Portes ouvertes"

    # Another organisation's counsellor counts none of them (``access.counted_job_datings``).
    theirs = await client.get(
        "/v1/indicators", params={**PERIOD, "group_by": "job_dating"}, headers=OTHER
    )
    assert theirs.status_code == 200
    assert theirs.json()["groups"] == []
    assert theirs.json()["total"]["invited"] == 0
    # The period and territory filters apply to the events.
    later = await client.get(
        "/v1/indicators",
        params={"from": "2027-02-01", "group_by": "job_dating"},
        headers=STEERING,
    )
    assert later.json()["groups"] == []
    elsewhere = await client.get(
        "/v1/indicators",
        params={**PERIOD, "group_by": "job_dating", "region": "84"},
        headers=STEERING,
    )
    assert elsewhere.json()["groups"] == []

    # The same figures in CSV (both paths) and ODS, read back.
    as_csv = await client.get(
        "/v1/indicators.csv", params={**PERIOD, "group_by": "job_dating"}, headers=STEERING
    )
    assert as_csv.status_code == 200, as_csv.text
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    line = next(r for r in rows if r["group"] == held["id"])
    assert (line["kind"], line["invited"], line["came"], line["did_not_come"], line["hired"]) == (
        "job_dating",
        "10",
        "7",
        "3",
        "2",
    )
    assert rows[-1]["group"] == "total"
    assert rows[-1]["hired"] == "2"
    same = await client.get(
        "/v1/indicators",
        params={**PERIOD, "group_by": "job_dating", "format": "csv"},
        headers=STEERING,
    )
    assert same.text == as_csv.text
    ods = await client.get(
        "/v1/indicators.ods", params={**PERIOD, "group_by": "job_dating"}, headers=STEERING
    )
    assert ods.status_code == 200
    (sheet,) = load(io.BytesIO(ods.content)).spreadsheet.getElementsByType(Table)
    lines = [
        [str(cell) for cell in row.getElementsByType(TableCell)]
        for row in sheet.getElementsByType(TableRow)
    ]
    assert lines == list(csv.reader(io.StringIO(as_csv.text)))

    # The other dimensions are unchanged, and the value is documented in the OpenAPI.
    by_region = await client.get("/v1/indicators", params={"group_by": "region"}, headers=STEERING)
    assert by_region.status_code == 200
    assert by_region.json()["group_by"] == "region"
    assert "32" in {g["group"] for g in by_region.json()["groups"]}
    unknown = await client.get("/v1/indicators", params={"group_by": "rien"}, headers=STEERING)
    assert unknown.status_code == 422
    openapi = (await client.get("/openapi.json")).json()
    parameters = openapi["paths"]["/v1/indicators"]["get"]["parameters"]
    group_by = next(p for p in parameters if p["name"] == "group_by")
    assert "job_dating" in str(group_by["schema"])
    assert "job_dating" in group_by["description"]


def test_job_dating_groups_are_under_statistical_secrecy() -> None:
    """Threshold 5 (the service tests run with 1): every count of people from 1 to 4 is secret
    (primary), and no column holds a single secret cell, which its total would give away
    (secondary); the events are not people."""
    counts = [[1, 10, 7, 3, 2], [1, 12, 11, 1, 0], [1, 3, 2, 1, 1]]
    groups, total = _protect_people(counts, threshold=5)
    raw = {"came": 2, "did_not_come": 3, "hired": 4}
    for group, line in zip(groups, counts, strict=True):
        for name, index in raw.items():
            if 0 < line[index] < 5:
                assert group[name] == "secret", (name, line)
    for name in (*raw, "invited"):
        secret = sum(1 for group in groups if group[name] == "secret")
        assert secret != 1, name
    assert groups[2]["invited"] == "secret"
    assert total["invited"] == 25

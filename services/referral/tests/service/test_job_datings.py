"""Job datings and open days end to end on the real store (issue 16, item 4, "Done when"): a job
dating with three agencies, ten job seekers invited in bulk (one referral each, consent rules
applied by the referral use case), attendance recorded, two hires reported by the agencies'
usual answers — and the figures invited / came / hired show it."""

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
from sqlalchemy import select

from referral.models import PLATFORM
from referral.use_cases.agency_answers import apply_agency_response
from referral.use_cases.local_actions import protect_by_region
from shared.auth.tokens import Role
from shared.contracts.agency import PlacementStarted, ReferralAccepted
from shared.contracts.vocabulary import ContractType

from ..conftest import bearer

COUNSELLOR = bearer(Role.COUNSELLOR, "conseiller.dupont", ft_structure="75101")
OTHER = bearer(Role.COUNSELLOR, "conseiller.cap", org_kind="cap_emploi", org_code="CE059")
AGENCIES = ["agc-interim-nord-lille", "agc-interim-nord-arras", "agc-travail-plus-lyon"]
START = datetime(2027, 1, 14, 9, 0, tzinfo=UTC)


def _key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


async def _job_seeker(client: httpx.AsyncClient, n: int) -> str:
    response = await client.post(
        "/v1/job-seekers",
        json={
            "ft_identifier": f"{7510300 + n}A",
            "first_name": f"Prénom{n}",
            "last_name": "Test",
            "departement": "59",
        },
        headers={**COUNSELLOR, **_key()},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _job_dating(client: httpx.AsyncClient, **overrides: Any) -> httpx.Response:
    body: dict[str, Any] = {
        "kind": "job_dating",
        "title": "Job dating soudure et logistique",
        "starts_at": START.isoformat(),
        "ends_at": (START + timedelta(hours=4)).isoformat(),
        "place": "Agence France Travail Lille Centre, 1 rue Nationale",
        "departement": "59",
        "rome_code": "H2913",
        "agencies": [{"agency_id": agency_id} for agency_id in AGENCIES],
        "slots": [(START + timedelta(minutes=20 * i)).isoformat() for i in range(12)],
    }
    body.update(overrides)
    return await client.post("/v1/job-datings", json=body, headers={**COUNSELLOR, **_key()})


async def hold_job_dating(app: FastAPI, client: httpx.AsyncClient) -> dict[str, Any]:
    """The journey of the issue's "Done when", through the API: a job dating with three agencies,
    ten job seekers invited (the consent rule checked first), attendance (seven came), two hires
    answered by the agencies. Returns the job dating's id and the invitations."""
    created = await _job_dating(client)
    assert created.status_code == 201, created.text
    job_dating_id = created.json()["id"]
    seekers = [await _job_seeker(client, n) for n in range(10)]

    # Identity shared without the job seeker's consent: the referral rule refuses the batch,
    # naming the job seeker, and nothing is created.
    refused = await client.post(
        f"/v1/job-datings/{job_dating_id}/invitations",
        json={
            "agency_id": AGENCIES[0],
            "job_seeker_ids": seekers[:2],
            "message": "Venez !",
            "share_identity": True,
        },
        headers={**COUNSELLOR, **_key()},
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["field"] == "job_seeker_ids.0"
    none_yet = await client.get(f"/v1/job-datings/{job_dating_id}", headers=COUNSELLOR)
    assert none_yet.json()["figures"]["total"]["invited"] == 0

    invited: list[dict[str, Any]] = []
    for agency_id, group in zip(AGENCIES, (seekers[:4], seekers[4:7], seekers[7:]), strict=True):
        response = await client.post(
            f"/v1/job-datings/{job_dating_id}/invitations",
            json={"agency_id": agency_id, "job_seeker_ids": group, "message": "Job dating le 14."},
            headers={**COUNSELLOR, **_key()},
        )
        assert response.status_code == 201, response.text
        invited += response.json()
    assert len({i["referral_id"] for i in invited}) == 10
    lille = [i for i in invited if i["agency_id"] == AGENCIES[0]]
    assert [i["slot"] for i in lille] == [
        (START + timedelta(minutes=20 * k)).isoformat() for k in range(4)
    ]
    again = await client.post(
        f"/v1/job-datings/{job_dating_id}/invitations",
        json={"agency_id": AGENCIES[1], "job_seeker_ids": [seekers[0]], "message": "Encore"},
        headers={**COUNSELLOR, **_key()},
    )
    assert again.status_code == 422

    # Each referral is a referral like any other: in the list, one per job seeker.
    referral = await client.get(f"/v1/referrals/{invited[0]['referral_id']}", headers=COUNSELLOR)
    assert (referral.json()["status"], referral.json()["agency_id"]) == ("sent", AGENCIES[0])

    came = {i["id"] for i in invited[:7]}
    attendance = await client.post(
        f"/v1/job-datings/{job_dating_id}/attendance",
        json={"entries": [{"invitation_id": i["id"], "came": i["id"] in came} for i in invited]},
        headers=COUNSELLOR,
    )
    assert attendance.status_code == 200, attendance.text

    # Two hires, answered by Intérim Nord's agencies through the usual answers.
    runtime = app.state.runtime
    now = datetime.now(UTC)
    for row in (invited[0], invited[4]):
        async with runtime.database.transaction() as session:
            for answer in (
                ReferralAccepted(
                    referral_id=row["referral_id"], agency_id=row["agency_id"], occurred_at=now
                ),
                PlacementStarted(
                    referral_id=row["referral_id"],
                    agency_id=row["agency_id"],
                    occurred_at=now,
                    contract_type=ContractType.CDI,
                    start_date=now.date(),
                ),
            ):
                await apply_agency_response(
                    session,
                    answer,
                    network_id="interim-nord",
                    event_id=str(uuid.uuid4()),
                    received_at=now,
                )

    return {"id": job_dating_id, "invited": invited}


async def test_a_job_dating_with_three_agencies_ten_invited_attendance_and_two_hires(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    held = await hold_job_dating(app, client)
    job_dating_id, invited = held["id"], held["invited"]
    runtime = app.state.runtime
    detail = await client.get(f"/v1/job-datings/{job_dating_id}", headers=COUNSELLOR)
    figures = detail.json()["figures"]
    assert figures["total"] == {"invited": 10, "came": 7, "did_not_come": 3, "hired": 2}
    assert figures["by_agency"][AGENCIES[0]] == {
        "invited": 4,
        "came": 4,
        "did_not_come": 0,
        "hired": 1,
    }
    assert figures["by_agency"][AGENCIES[2]]["came"] == 0
    period = await client.get(
        "/v1/job-datings", params={"from": "2027-01-01", "to": "2027-01-31"}, headers=COUNSELLOR
    )
    assert period.json()["total"] == {"invited": 10, "came": 7, "did_not_come": 3, "hired": 2}
    listed = await client.get(f"/v1/job-datings/{job_dating_id}/invitations", headers=COUNSELLOR)
    statuses = {i["referral_id"]: i["referral_status"] for i in listed.json()}
    assert statuses[invited[0]["referral_id"]] == "placed"

    # Each agency's network feed got the event with its invitations (no identity in it).
    async with runtime.session() as session:
        outbox = PLATFORM.outbox
        rows = list(
            await session.execute(
                select(outbox.c.topic, outbox.c.data).where(
                    outbox.c.event_type == "coop.agency.job_dating_invitations.v1"
                )
            )
        )
    assert {topic for topic, _ in rows} == {"agency.interim-nord.feed", "agency.travail-plus.feed"}
    lille_events = [p for _, p in rows if p["agency_id"] == AGENCIES[0]]
    assert len(lille_events[-1]["invitations"]) == 4
    assert "Prénom0" not in str(rows)

    # Another organisation sees nothing of it.
    assert (await client.get(f"/v1/job-datings/{job_dating_id}", headers=OTHER)).status_code == 404
    theirs = await client.get("/v1/job-datings", headers=OTHER)
    assert theirs.json()["items"] == []

    # The convention's indicators count it ("job datings: invited, came, hired"): the organiser's
    # counsellors and the steering committee; another organisation's figures do not include it.
    period = {"from": "2027-01-01", "to": "2027-01-31"}
    expected = {"events": 1, "invited": 10, "came": 7, "did_not_come": 3, "hired": 2}
    for reader in (COUNSELLOR, bearer(Role.STEERING, "copil"), bearer(Role.OPS)):
        local = await client.get("/v1/indicators/local-actions", params=period, headers=reader)
        assert local.status_code == 200, local.text
        assert local.json()["job_datings"] == expected
    elsewhere = await client.get("/v1/indicators/local-actions", params=period, headers=OTHER)
    assert elsewhere.json()["job_datings"] == {
        "events": 0,
        "invited": 0,
        "came": 0,
        "did_not_come": 0,
        "hired": 0,
    }
    later = await client.get(
        "/v1/indicators/local-actions", params={"from": "2027-02-01"}, headers=COUNSELLOR
    )
    assert later.json()["job_datings"]["invited"] == 0


async def test_an_event_is_checked_before_it_is_created(client: httpx.AsyncClient) -> None:
    late = await _job_dating(client, ends_at=(START - timedelta(hours=1)).isoformat())
    assert late.status_code == 422
    assert late.json()["errors"][0]["field"] == "ends_at"
    unknown = await _job_dating(client, agencies=[{"agency_id": "agc-inconnue"}])
    assert unknown.json()["errors"][0]["field"] == "agencies.0.agency_id"
    outside = await _job_dating(client, slots=[(START + timedelta(days=1)).isoformat()])
    assert outside.json()["errors"][0]["field"] == "slots.0"


async def test_attendance_and_its_outcome_move_the_referral_through_its_lifecycle(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    held = await hold_job_dating(app, client)
    job_dating_id, invited = held["id"], held["invited"]

    async def referral(row: dict[str, Any]) -> dict[str, Any]:
        response = await client.get(f"/v1/referrals/{row['referral_id']}", headers=COUNSELLOR)
        assert response.status_code == 200, response.text
        return response.json()

    # Attendance alone: a timeline entry, the state kept (came or not).
    absent = await referral(invited[8])
    assert absent["status"] == "sent"
    assert absent["timeline"][-1]["action"] == "record_attendance"
    assert absent["timeline"][-1]["to_status"] == "sent"

    # An outcome is noted only for someone who came (the field at fault, in French).
    refused = await client.post(
        f"/v1/job-datings/{job_dating_id}/attendance",
        json={"entries": [{"invitation_id": invited[8]["id"], "came": False, "outcome": "hired"}]},
        headers=COUNSELLOR,
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["field"] == "entries.0.outcome"
    assert "venue" in refused.json()["detail"]

    # An interview obtained there schedules it; a candidate retained there is accepted (the hire
    # itself stays the agency's answer); a referral already placed keeps its state.
    noted = await client.post(
        f"/v1/job-datings/{job_dating_id}/attendance",
        json={
            "entries": [
                {"invitation_id": invited[1]["id"], "came": True, "outcome": "interview"},
                {"invitation_id": invited[2]["id"], "came": True, "outcome": "hired"},
                {"invitation_id": invited[0]["id"], "came": True, "outcome": "hired"},
            ]
        },
        headers=COUNSELLOR,
    )
    assert noted.status_code == 200, noted.text
    statuses = {i["referral_id"]: i["referral_status"] for i in noted.json()}
    assert statuses[invited[1]["referral_id"]] == "interview_scheduled"
    assert statuses[invited[2]["referral_id"]] == "accepted"
    assert statuses[invited[0]["referral_id"]] == "placed"
    interview = await referral(invited[1])
    assert [s["action"] for s in interview["timeline"][-2:]] == [
        "record_attendance",
        "local_action_interview",
    ]
    retained = await referral(invited[2])
    assert retained["timeline"][-1]["action"] == "local_action_hire"
    assert retained["timeline"][-1]["to_status"] == "accepted"
    # Noting the same interview twice moves nothing more.
    again = await client.post(
        f"/v1/job-datings/{job_dating_id}/attendance",
        json={
            "entries": [{"invitation_id": invited[1]["id"], "came": True, "outcome": "interview"}]
        },
        headers=COUNSELLOR,
    )
    assert again.status_code == 200
    assert [s["action"] for s in (await referral(invited[1]))["timeline"]].count(
        "local_action_interview"
    ) == 1

    # referral.events learns the two moves (the counsellor, the job seeker and dispositifs
    # follow status_changed), without any name.
    async with app.state.runtime.session() as session:
        outbox = PLATFORM.outbox
        moves = [
            data
            for (data,) in await session.execute(
                select(outbox.c.data).where(
                    outbox.c.event_type == "coop.referral.status_changed.v1",
                    outbox.c.topic == "referral.events",
                )
            )
            if data["action"].startswith("local_action")
        ]
    assert sorted((m["action"], m["to_status"]) for m in moves) == [
        ("local_action_hire", "accepted"),
        ("local_action_interview", "interview_scheduled"),
    ]
    assert all(m["details"]["job_dating_id"] == job_dating_id for m in moves)
    assert "Prénom" not in str(moves)

    # Another organisation's counsellor cannot note attendance there.
    theirs = await client.post(
        f"/v1/job-datings/{job_dating_id}/attendance",
        json={"entries": [{"invitation_id": invited[3]["id"], "came": True, "outcome": "hired"}]},
        headers=OTHER,
    )
    assert theirs.status_code == 404


async def test_local_actions_by_region_in_csv_and_ods_read_back_equal(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await hold_job_dating(app, client)
    period = {"from": "2027-01-01", "to": "2027-01-31"}
    steering = bearer(Role.STEERING, "copil")
    response = await client.get("/v1/indicators/local-actions.csv", params=period, headers=steering)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    hauts_de_france = next(r for r in rows if r["group"] == "32")
    assert hauts_de_france["region_name"] == "Hauts-de-France"
    assert (
        hauts_de_france["job_datings"],
        hauts_de_france["invited"],
        hauts_de_france["came"],
        hauts_de_france["did_not_come"],
        hauts_de_france["hired"],
    ) == ("1", "10", "7", "3", "2")
    assert rows[-1]["group"] == "total"
    assert rows[-1]["invited"] == "10"

    ods = await client.get("/v1/indicators/local-actions.ods", params=period, headers=steering)
    assert ods.status_code == 200
    document = load(io.BytesIO(ods.content))
    (sheet,) = document.spreadsheet.getElementsByType(Table)
    assert sheet.getAttribute("name") == "actions_locales"
    lines = [
        [str(cell) for cell in row.getElementsByType(TableCell)]
        for row in sheet.getElementsByType(TableRow)
    ]
    assert lines == list(csv.reader(io.StringIO(response.text)))

    # Under the threshold (5 here; the service tests run with 1) the people are secret, the
    # hires too, with secondary secrecy so that no région is recomputed from the total; events
    # and offers are not people.
    protected = protect_by_region(
        ["32", "84"],
        {"32": [1, 10, 7, 3, 2], "84": [1, 12, 11, 1, 0]},
        {"32": 1, "84": 0},
        {"32": 1, "84": 0},
        5,
    )
    by = {g["group"]: g for g in protected["groups"]}
    assert by["32"]["hired"] == "secret"
    assert by["84"]["hired"] == 0
    assert by["84"]["did_not_come"] == "secret"
    assert by["32"]["did_not_come"] == "secret"
    assert by["32"]["job_datings"] == 1
    assert protected["total"]["invited"] == 22

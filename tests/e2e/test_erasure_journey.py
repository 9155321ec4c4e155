"""Done-when of issue 11: a job seeker with consents, referred to two agencies of two networks,
with an immersion and messages, is erased on the DPO's request: within 30 s no store of the three
services (outbox and idempotency tables included) holds their name, France Travail identifier,
e-mail, phone or birth date; both networks' feeds carry the erasure instruction; the period's
indicators are unchanged; the request reads "completed" with each service's report."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import MetaData, String, Text, cast, select
from sqlalchemy.ext.asyncio import create_async_engine

from .conftest import Stack
from .dispositifs_steps import (
    COUNSELLOR_COMPLETION,
    convention_of,
    immersion_request,
    timeline_entry,
)
from .referral_steps import header, records_about
from .steps import agency_answers, eventually

pytestmark = pytest.mark.e2e

AGENCY_SOURCE = "/agencies/interim-nord"
LILLE, LYON = "agc-interim-nord-lille", "agc-travail-plus-lyon"
PERSON = {
    "ft_identifier": "8181818Q",
    "first_name": "Ysaline",
    "last_name": "Quennehen",
    "email": "ysaline.quennehen@example.org",
    "phone": "06 71 42 93 58",
    "birth_date": "1994-02-27",
    "departement": "59",
    "rqth": True,
}
#: What must be gone, in every form it may have been stored in.
TRACES = [
    "8181818Q",
    "Ysaline",
    "Quennehen",
    "ysaline.quennehen",
    "671429358",
    "71 42 93 58",
    "1994-02-27",
]


def _key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


async def _post(
    client: httpx.AsyncClient, url: str, body: dict[str, Any], headers: dict[str, str]
) -> dict[str, Any]:
    response = await client.post(url, json=body, headers={**headers, **_key()})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def _traces_in(database_url: str) -> list[tuple[str, str, str]]:
    """Every (table, column, trace) where a text form of the column holds a trace."""
    engine = create_async_engine(database_url)
    found: list[tuple[str, str, str]] = []
    try:
        metadata = MetaData()
        async with engine.connect() as connection:
            await connection.run_sync(metadata.reflect)
            for table in metadata.sorted_tables:
                for column in table.columns:
                    text = column if isinstance(column.type, String) else cast(column, Text)
                    for trace in TRACES:
                        hit = await connection.scalar(
                            select(text).where(text.like(f"%{trace}%")).limit(1)
                        )
                        if hit is not None:
                            found.append((table.name, column.name, trace))
    finally:
        await engine.dispose()
    return found


async def test_erasure_reaches_every_store_and_both_networks(
    stack: Stack, counsellor_headers: dict[str, str], ops_headers: dict[str, str]
) -> None:
    referral_url, dispositifs = stack.url("referral"), stack.url("dispositifs")
    today = datetime.now(UTC).date()
    async with httpx.AsyncClient(timeout=10) as client:
        seeker = await _post(client, f"{referral_url}/v1/job-seekers", PERSON, counsellor_headers)
        consents = f"{referral_url}/v1/job-seekers/{seeker['id']}/consents"
        for agency, scope in ((LILLE, "identity"), (LILLE, "rqth"), (LYON, "identity")):
            await _post(
                client,
                consents,
                {"agency_id": agency, "scope": scope, "channel": "in_person"},
                counsellor_headers,
            )
        await _post(
            client, consents, {"scope": "contact", "channel": "written"}, counsellor_headers
        )
        referrals = []
        for agency, rqth in ((LILLE, True), (LYON, False)):
            referrals.append(
                await _post(
                    client,
                    f"{referral_url}/v1/referrals",
                    {
                        "job_seeker_id": seeker["id"],
                        "agency_id": agency,
                        "rome_code": "H2913",
                        "message": "Candidate motivée, disponible immédiatement, Ysaline.",
                        "share_identity": True,
                        "share_rqth": rqth,
                    },
                    counsellor_headers,
                )
            )
        lille, lyon = referrals
        # Both networks received the candidate's identity on their feed.
        for network, referral in (("interim-nord", lille), ("travail-plus", lyon)):
            (record,) = await records_about(
                stack.bootstrap_servers, f"agency.{network}.feed", referral["id"], count=1
            )
            assert json.loads(record.value)["candidate"]["last_name"] == "Quennehen"

        # An immersion asked by the agency, completed with the beneficiary by the counsellor.
        await eventually(
            lambda: _known(client, dispositifs, counsellor_headers, lille["id"]), timeout=20
        )
        await agency_answers(
            stack.bootstrap_servers, immersion_request(lille["id"], today), source=AGENCY_SOURCE
        )
        convention = await convention_of(client, dispositifs, counsellor_headers, lille["id"])
        completion = {
            **COUNSELLOR_COMPLETION,
            "beneficiary": {
                "first_name": "Ysaline",
                "last_name": "Quennehen",
                "birth_date": "1994-02-27",
                "professional_situation": "Demandeuse d'emploi",
                "brsa": True,
            },
        }
        patched = await client.patch(
            f"{dispositifs}/v1/immersions/{convention['id']}",
            json=completion,
            headers=counsellor_headers,
        )
        assert patched.status_code == 200, patched.text
        assert patched.json()["beneficiary"]["last_name"] == "Quennehen"

        await timeline_entry(
            client, referral_url, counsellor_headers, lille["id"], mentioning="Immersion demandée"
        )
        period = {"from": today.isoformat(), "to": today.isoformat()}
        before = {
            group_by: await _indicators(client, referral_url, ops_headers, group_by, period)
            for group_by in ("departement", "network", "priority_public", "scheme")
        }

        erasure = await client.post(
            f"{referral_url}/v1/job-seekers/{seeker['id']}/erasure",
            json={"reason": "Demande d'effacement de la personne (RGPD art. 17)"},
            headers=ops_headers,
        )
        assert erasure.status_code == 202, erasure.text
        request_url = referral_url + erasure.headers["location"]

        last: dict[str, Any] = {}

        async def completed() -> dict[str, Any] | None:
            last.update((await client.get(request_url, headers=ops_headers)).json())
            return dict(last) if last["status"] == "completed" else None

        try:
            progress = await eventually(completed, timeout=30, interval=0.5)
        except TimeoutError:
            pytest.fail(f"erasure not completed within 30 s: {last}")
        assert progress["waiting_for"] == []
        assert [s["service"] for s in progress["services"]] == [
            "referral",
            "dispositifs",
            "notifications",
        ]
        for service in progress["services"]:
            assert service["status"] == "completed"
            assert service["report"], service
        reported = {
            (s["service"], line["table"]) for s in progress["services"] for line in s["report"]
        }
        assert ("dispositifs", "immersion_conventions") in reported
        assert ("referral", "job_seekers") in reported

        # No trace in any of the three stores, platform tables included.
        for name, process in stack.processes.items():
            url = process.env[f"{name.upper()}_DATABASE_URL"]
            assert await _traces_in(url) == [], name

        # Both networks are told to erase what they hold.
        for network, referral in (("interim-nord", lille), ("travail-plus", lyon)):
            (instruction,) = await records_about(
                stack.bootstrap_servers,
                f"agency.{network}.feed",
                progress["id"],
                count=1,
            )
            assert header(instruction, "ce_type") == "coop.agency.erasure_requested.v1"
            assert json.loads(instruction.value)["referral_ids"] == [referral["id"]]

        after = {
            group_by: await _indicators(client, referral_url, ops_headers, group_by, period)
            for group_by in ("departement", "network", "priority_public", "scheme")
        }
        assert after == before


async def _known(
    client: httpx.AsyncClient, base_url: str, headers: dict[str, str], referral_id: str
) -> bool:
    response = await client.get(f"{base_url}/v1/referrals/{referral_id}", headers=headers)
    return response.status_code == 200


async def _indicators(
    client: httpx.AsyncClient,
    base_url: str,
    headers: dict[str, str],
    group_by: str,
    period: dict[str, str],
) -> dict[str, Any]:
    response = await client.get(
        f"{base_url}/v1/indicators", params={**period, "group_by": group_by}, headers=headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return {"groups": body["groups"], "total": body["total"]}

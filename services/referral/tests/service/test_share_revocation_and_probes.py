"""Share revocation and the probe limit (issue 10, items 2 and 11), over the real store: the
owner of a record takes back a share it granted (audited; the other organisation sees the record
masked again and can no longer refer it), nobody else can; and searching job seekers by France
Travail identifier or name, or probing one by registering it, is limited per caller (429 in
French with Retry-After)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from referral.app import create_app
from referral.settings import ReferralSettings
from shared.auth.tokens import Role

from ..conftest import bearer

PARIS = bearer(Role.COUNSELLOR, "conseiller.paris", ft_structure="75101")
LILLE = bearer(Role.COUNSELLOR, "conseiller.lille", ft_structure="59350")
OPS = bearer(Role.OPS, "ops.dpo")
SEEKER: dict[str, Any] = {
    "ft_identifier": "7510102B",
    "first_name": "Inès",
    "last_name": "Garnier",
    "email": "ines.garnier@example.org",
    "rqth": True,
}


def _key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


async def _shared_seeker(client: httpx.AsyncClient) -> tuple[str, str]:
    seeker = await client.post("/v1/job-seekers", json=SEEKER, headers={**PARIS, **_key()})
    assert seeker.status_code == 201, seeker.text
    seeker_id = seeker.json()["id"]
    share = await client.post(
        f"/v1/job-seekers/{seeker_id}/shares",
        json={
            "organisation_kind": "france_travail",
            "organisation_code": "59350",
            "reason": "PMSMP",
        },
        headers={**PARIS, **_key()},
    )
    assert share.status_code == 201, share.text
    return seeker_id, share.json()["id"]


async def test_the_owner_revokes_a_share_and_the_other_organisation_sees_the_record_masked_again(
    client: httpx.AsyncClient,
) -> None:
    seeker_id, share_id = await _shared_seeker(client)
    record = f"/v1/job-seekers/{seeker_id}"
    revoke = f"{record}/shares/{share_id}/revoke"
    assert (await client.get(record, headers=LILLE)).json()["masked"] is False

    # The organisation it was shared with cannot drop it, ops not without a reason.
    by_grantee = await client.post(revoke, json={}, headers=LILLE)
    assert by_grantee.status_code == 403, by_grantee.text
    assert "structure qui a enregistré" in by_grantee.json()["detail"]
    by_ops = await client.post(revoke, json={}, headers=OPS)
    assert by_ops.status_code == 422
    assert by_ops.json()["errors"][0]["field"] == "reason"
    assert (await client.get(record, headers=LILLE)).json()["masked"] is False

    revoked = await client.post(revoke, json={"reason": "Fin de la PMSMP"}, headers=PARIS)
    assert revoked.status_code == 200, revoked.text
    assert (revoked.json()["id"], revoked.json()["organisation"]) == (share_id, "59350")

    seen = (await client.get(record, headers=LILLE)).json()
    assert (seen["masked"], seen["first_name"], seen["email"], seen["rqth"]) == (
        True,
        "I.",
        None,
        None,
    )
    listed = (await client.get("/v1/job-seekers", headers=LILLE)).json()["items"]
    assert seeker_id not in {row["id"] for row in listed}
    refer = await client.post(
        "/v1/referrals",
        json={
            "job_seeker_id": seeker_id,
            "agency_id": "agc-interim-nord-lille",
            "rome_code": "H2913",
        },
        headers={**LILLE, **_key()},
    )
    assert refer.status_code in (403, 422), refer.text
    assert (await client.get(record, headers=PARIS)).json()["shared_with"] == []
    again = await client.post(revoke, json={}, headers=PARIS)
    assert again.status_code == 404

    audit = await client.get(
        "/v1/audit/personal-data",
        params={"job_seeker_id": seeker_id, "action": "unshare"},
        headers=OPS,
    )
    assert [(r["subject"], r["organisation"], r["reason"]) for r in audit.json()["items"]] == [
        ("conseiller.paris", "75101", "partage retiré à 59350 : Fin de la PMSMP")
    ]


async def test_ops_revoke_with_a_reason_and_a_share_of_another_record_is_unknown(
    client: httpx.AsyncClient,
) -> None:
    seeker_id, share_id = await _shared_seeker(client)
    other = await client.post(
        "/v1/job-seekers", json={**SEEKER, "ft_identifier": "7510103C"}, headers={**PARIS, **_key()}
    )
    wrong_record = f"/v1/job-seekers/{other.json()['id']}/shares/{share_id}/revoke"
    assert (await client.post(wrong_record, json={}, headers=PARIS)).status_code == 404
    done = await client.post(
        f"/v1/job-seekers/{seeker_id}/shares/{share_id}/revoke",
        json={"reason": "Demande du délégué à la protection des données"},
        headers=OPS,
    )
    assert done.status_code == 200, done.text
    assert (await client.get(f"/v1/job-seekers/{seeker_id}", headers=LILLE)).json()["masked"]


@pytest.fixture
async def limited_client(referral_settings: ReferralSettings) -> AsyncIterator[httpx.AsyncClient]:
    settings = referral_settings.model_copy(
        update={"rate_limit_probe_burst": 3, "rate_limit_probes_per_second": 0.01}
    )
    app: FastAPI = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://referral.test") as c:
        yield c
    await app.state.runtime.stop()


async def test_searching_by_identifier_is_limited_per_caller_with_a_french_429(
    limited_client: httpx.AsyncClient,
) -> None:
    client = limited_client
    for identifier in ("7510104D", "7510105E", "7510106F"):
        found = await client.get(
            "/v1/job-seekers", params={"ft_identifier": identifier}, headers=LILLE
        )
        assert found.status_code == 200, found.text
    probe = await client.get("/v1/job-seekers", params={"last_name": "Garnier"}, headers=LILLE)
    assert probe.status_code == 429
    assert probe.headers["content-type"].startswith("application/problem+json")
    assert int(probe.headers["Retry-After"]) >= 1
    assert probe.json()["title"] == "Trop de requêtes"
    assert "réessayez dans" in probe.json()["detail"]
    # Registering tells whether an identifier is known (409): the same bucket.
    register = await client.post(
        "/v1/job-seekers", json={**SEEKER, "ft_identifier": "7510107G"}, headers={**LILLE, **_key()}
    )
    assert register.status_code == 429
    # Another caller has their own bucket; listing without a search is not a probe.
    assert (
        await client.get("/v1/job-seekers", params={"ft_identifier": "7510104D"}, headers=PARIS)
    ).status_code == 200
    assert (await client.get("/v1/job-seekers", headers=LILLE)).status_code == 200

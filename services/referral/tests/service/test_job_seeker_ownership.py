"""A job seeker's record belongs to the organisation that created it (issue 10, items 1, 2, 9):
the cases of the issue's "Why", each refused or masked and changing nothing, over the real store."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from referral.models import JobSeeker, PersonalDataAccess
from shared.auth.tokens import Role

from ..conftest import bearer

PARIS = bearer(Role.COUNSELLOR, "conseiller.paris", ft_structure="75101")
LILLE = bearer(Role.COUNSELLOR, "conseiller.lille", ft_structure="59350")
CAP_EMPLOI = bearer(Role.COUNSELLOR, "conseiller.cap", org_kind="cap_emploi", org_code="CE075")
OPS = bearer(Role.OPS, "ops.dpo")
AGENCY = bearer(Role.AGENCY, "erp", agency_id="agc-interim-nord-lille", network_id="interim-nord")


def _key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


SEEKER: dict[str, Any] = {
    "ft_identifier": "7510101A",
    "first_name": "Camille",
    "last_name": "Martin",
    "email": "camille.martin@example.org",
    "phone": "0601020304",
    "birth_date": "2003-05-04",
    "departement": "75",
    "rqth": True,
    "brsa": True,
}


def _referral(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "agency_id": "agc-interim-nord-lille",
        "rome_code": "H2913",
        "message": "Profil motivé.",
    }
    body.update(overrides)
    return body


async def _paris_seeker(client: httpx.AsyncClient) -> dict[str, Any]:
    created = await client.post("/v1/job-seekers", json=SEEKER, headers={**PARIS, **_key()})
    assert created.status_code == 201, created.text
    return created.json()  # type: ignore[no-any-return]


async def _stored(app: FastAPI, seeker_id: str) -> JobSeeker:
    async with app.state.runtime.session() as session:
        row = await session.get(JobSeeker, uuid.UUID(seeker_id))
        assert row is not None
        return row


async def test_another_structure_lists_nothing_and_reads_the_record_masked(
    client: httpx.AsyncClient,
) -> None:
    seeker = await _paris_seeker(client)
    listed = (await client.get("/v1/job-seekers", headers=LILLE)).json()
    assert listed["items"] == []
    search = await client.get(
        "/v1/job-seekers", params={"ft_identifier": SEEKER["ft_identifier"]}, headers=LILLE
    )
    assert search.json()["items"] == []
    masked = await client.get(f"/v1/job-seekers/{seeker['id']}", headers=LILLE)
    assert masked.status_code == 200
    body = masked.json()
    assert body["masked"] is True
    assert (body["first_name"], body["last_name"]) == ("C.", "M.")
    for hidden in ("ft_identifier", "email", "phone", "birth_date", "rqth", "brsa"):
        assert body[hidden] is None, hidden
    assert body["priority_publics"] == []
    assert "camille" not in masked.text.lower()
    # The owner and ops see it in full, and list it.
    own = (await client.get(f"/v1/job-seekers/{seeker['id']}", headers=PARIS)).json()
    assert (own["masked"], own["rqth"], own["email"]) == (False, True, SEEKER["email"])
    assert [s["id"] for s in (await client.get("/v1/job-seekers", headers=PARIS)).json()["items"]]
    ops = (await client.get(f"/v1/job-seekers/{seeker['id']}", headers=OPS)).json()
    assert ops["masked"] is False


async def test_another_structure_cannot_change_the_record_nor_overwrite_it_by_a_referral(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    seeker = await _paris_seeker(client)
    patched = await client.patch(
        f"/v1/job-seekers/{seeker['id']}", json={"rqth": False}, headers=LILLE
    )
    assert patched.status_code == 403
    overwrite = {"ft_identifier": SEEKER["ft_identifier"], "first_name": "X", "last_name": "Y"}
    referred = await client.post(
        "/v1/referrals",
        json=_referral(job_seeker={**overwrite, "rqth": False}),
        headers={**LILLE, **_key()},
    )
    assert referred.status_code == 403
    assert referred.json()["type"].endswith("/job-seeker-of-another-organisation")
    assert "Camille" not in referred.text
    by_id = await client.post(
        "/v1/referrals",
        json=_referral(job_seeker_id=seeker["id"]),
        headers={**LILLE, **_key()},
    )
    assert by_id.status_code == 403
    stored = await _stored(app, seeker["id"])
    assert (stored.first_name, stored.last_name, stored.rqth) == ("Camille", "Martin", True)
    assert (await client.get("/v1/referrals", headers=LILLE)).json()["items"] == []
    # Consents: neither read nor recorded by another structure.
    consents = f"/v1/job-seekers/{seeker['id']}/consents"
    assert (await client.get(consents, headers=LILLE)).status_code == 404
    recorded = await client.post(
        consents,
        json={"agency_id": "agc-interim-nord-lille", "scope": "identity", "channel": "in_person"},
        headers={**LILLE, **_key()},
    )
    assert recorded.status_code == 404


async def test_the_owner_shares_and_the_other_structure_then_refers_without_changing_it(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    seeker = await _paris_seeker(client)
    shares = f"/v1/job-seekers/{seeker['id']}/shares"
    share = {"organisation_kind": "france_travail", "organisation_code": "59350", "reason": "PMSMP"}
    # Only the owner shares (the other structure cannot take it in charge by itself).
    assert (await client.post(shares, json=share, headers={**LILLE, **_key()})).status_code == 403
    created = await client.post(shares, json=share, headers={**PARIS, **_key()})
    assert created.status_code == 201, created.text
    assert created.json()["organisation"] == "59350"
    again = await client.post(shares, json=share, headers={**PARIS, **_key()})
    assert again.status_code == 409

    full = (await client.get(f"/v1/job-seekers/{seeker['id']}", headers=LILLE)).json()
    assert (full["masked"], full["rqth"]) == (False, True)
    listed = (await client.get("/v1/job-seekers", headers=LILLE)).json()["items"]
    assert [s["id"] for s in listed] == [seeker["id"]]
    referred = await client.post(
        "/v1/referrals", json=_referral(job_seeker_id=seeker["id"]), headers={**LILLE, **_key()}
    )
    assert referred.status_code == 201, referred.text
    # Still the owner's record: the shared structure does not change it.
    patched = await client.patch(
        f"/v1/job-seekers/{seeker['id']}", json={"rqth": False}, headers=LILLE
    )
    assert patched.status_code == 403
    assert (await _stored(app, seeker["id"])).rqth is True
    async with app.state.runtime.session() as session:
        logged = list(
            await session.scalars(
                select(PersonalDataAccess).where(PersonalDataAccess.action == "share")
            )
        )
    assert [(r.subject, r.organisation) for r in logged] == [("conseiller.paris", "75101")]
    assert "59350" in (logged[0].reason or "")


async def test_cap_emploi_and_missions_locales_are_prescribers_of_their_own(
    client: httpx.AsyncClient,
) -> None:
    created = await client.post(
        "/v1/job-seekers",
        json={**SEEKER, "ft_identifier": "7777777C"},
        headers={**CAP_EMPLOI, **_key()},
    )
    assert created.status_code == 201, created.text
    assert created.json()["structure_code"] == "cap_emploi:CE075"
    seeker_id = created.json()["id"]
    assert (await client.get(f"/v1/job-seekers/{seeker_id}", headers=PARIS)).json()["masked"]
    referral = await client.post(
        "/v1/referrals", json=_referral(job_seeker_id=seeker_id), headers={**CAP_EMPLOI, **_key()}
    )
    assert referral.status_code == 201, referral.text
    referral_id = referral.json()["id"]
    assert (await client.get(f"/v1/referrals/{referral_id}", headers=PARIS)).status_code == 404
    mission_locale = bearer(
        Role.COUNSELLOR, "conseiller.ml", org_kind="mission_locale", org_code="CE075"
    )
    # Same code, another kind: another organisation.
    assert (
        await client.get(f"/v1/referrals/{referral_id}", headers=mission_locale)
    ).status_code == 404
    assert (await client.get(f"/v1/referrals/{referral_id}", headers=CAP_EMPLOI)).status_code == 200


async def test_ops_change_a_record_only_with_a_logged_reason(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    seeker = await _paris_seeker(client)
    url = f"/v1/job-seekers/{seeker['id']}"
    refused = await client.patch(url, json={"brsa": False}, headers=OPS)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "reason"
    assert (await _stored(app, seeker["id"])).brsa is True
    done = await client.patch(
        url, json={"brsa": False, "change_reason": "Erreur de saisie signalée"}, headers=OPS
    )
    assert done.status_code == 200, done.text
    assert (await _stored(app, seeker["id"])).brsa is False
    audit = await client.get(
        "/v1/audit/personal-data",
        params={"job_seeker_id": seeker["id"], "action": "update"},
        headers=OPS,
    )
    assert audit.status_code == 200
    assert [(r["subject"], r["reason"]) for r in audit.json()["items"]] == [
        ("ops.dpo", "Erreur de saisie signalée")
    ]


async def test_every_read_and_change_is_audited_and_only_ops_read_the_audit(
    client: httpx.AsyncClient,
) -> None:
    seeker = await _paris_seeker(client)
    await client.get(f"/v1/job-seekers/{seeker['id']}", headers=LILLE)
    await client.get(f"/v1/job-seekers/{seeker['id']}", headers=PARIS)
    await client.get("/v1/job-seekers", headers=PARIS)
    await client.get(f"/v1/job-seekers/{seeker['id']}/consents", headers=PARIS)
    pages: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"job_seeker_id": seeker["id"], "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/v1/audit/personal-data", params=params, headers=OPS)).json()
        pages.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    rows = [(r["action"], r["organisation"], r["view"]) for r in reversed(pages)]
    assert rows == [
        ("create", "75101", None),
        ("read", "59350", "masked"),
        ("read", "75101", "full"),
        ("list", "75101", "full"),
        ("consent_read", "75101", None),
    ]
    # Ids and codes only: never the person's name or contact.
    assert "Camille" not in str(pages)
    assert "example.org" not in str(pages)
    for caller in (PARIS, AGENCY):
        assert (await client.get("/v1/audit/personal-data", headers=caller)).status_code == 403
    assert (await client.get("/v1/audit/personal-data")).status_code == 401


async def test_identity_sent_on_an_agency_feed_is_audited_as_an_export(
    client: httpx.AsyncClient,
) -> None:
    seeker = await _paris_seeker(client)
    consent = await client.post(
        f"/v1/job-seekers/{seeker['id']}/consents",
        json={"agency_id": "agc-interim-nord-lille", "scope": "identity", "channel": "in_person"},
        headers={**PARIS, **_key()},
    )
    assert consent.status_code == 201, consent.text
    referral = await client.post(
        "/v1/referrals",
        json=_referral(job_seeker_id=seeker["id"], share_identity=True),
        headers={**PARIS, **_key()},
    )
    assert referral.status_code == 201, referral.text
    audit = await client.get("/v1/audit/personal-data", params={"action": "export"}, headers=OPS)
    rows = audit.json()["items"]
    assert [(r["resource"], r["resource_id"], r["job_seeker_id"]) for r in rows] == [
        ("referral", referral.json()["id"], seeker["id"])
    ]
    assert "agc-interim-nord-lille" in rows[0]["reason"]

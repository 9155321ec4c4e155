"""The referral service's access matrix (issue 10, "Done when"), generated from the app's routes:
every route has a policy (a new one without fails here), and for each one no token → 401, a role
not allowed → 403, a counsellor of another organisation refused, shown the record masked, or not
finding the first organisation's rows — on the real store."""

from __future__ import annotations

import csv
import io
import uuid

import httpx
from fastapi import FastAPI

from shared.auth.tokens import Role
from shared.testing_access import (
    Cross,
    RoutePolicy,
    check_cursors,
    paged_routes,
    policy,
    run_matrix,
    unmatched,
)

from ..conftest import bearer

OWNER = bearer(Role.COUNSELLOR, "conseiller.paris", ft_structure="75101")
OTHER = bearer(Role.COUNSELLOR, "conseiller.cap", org_kind="cap_emploi", org_code="CE059")
TOKENS = {
    Role.COUNSELLOR: OTHER,
    Role.OPS: bearer(Role.OPS, "ops"),
    Role.AGENCY: bearer(
        Role.AGENCY, "erp", agency_id="agc-interim-nord-lille", network_id="interim-nord"
    ),
    Role.STEERING: bearer(Role.STEERING, "copil"),
}
C, OP, ST = Role.COUNSELLOR, Role.OPS, Role.STEERING
SEEKER = {
    "ft_identifier": "7510199A",
    "first_name": "Éloïse",
    "last_name": "Vasseur",
    "email": "eloise.vasseur@example.org",
    "phone": "0611223344",
    "birth_date": "1990-02-03",
    "rqth": True,
}
SECRETS = ("Éloïse", "Vasseur", "eloise.vasseur", "0611223344", "1990-02-03")
REFERRAL = {"agency_id": "agc-interim-nord-lille", "rome_code": "H2913", "message": "Motivée."}
JOB_DATING = {
    "title": "Job dating",
    "starts_at": "2027-01-14T09:00:00+01:00",
    "ends_at": "2027-01-14T12:00:00+01:00",
    "place": "Lille",
    "departement": "59",
    "rome_code": "H2913",
    "agencies": [{"agency_id": "agc-interim-nord-arras"}],
}


def _no_referrals(response: httpx.Response) -> bool:
    return bool(response.json()["total"]["referrals_sent"] == 0)


def _csv_without_rows(response: httpx.Response) -> bool:
    lines = [line for line in response.text.splitlines() if line.strip()]
    return all(",0," in line or "referrals_sent" in line for line in lines)


def _no_scheme_referrals(response: httpx.Response) -> bool:
    return all(figures["referrals"] == 0 for figures in response.json()["total"].values())


def _no_job_dating_of_others(response: httpx.Response) -> bool:
    """The first organisation held a job dating with an invitation: another one counts none."""
    datings = response.json()["job_datings"]
    return datings["events"] == 0 and datings["invited"] == 0


def _no_job_dating_of_others_csv(response: httpx.Response) -> bool:
    """By région in CSV: another organisation's job datings and invited are zero everywhere."""
    rows = list(csv.DictReader(io.StringIO(response.text)))
    return rows[-1]["group"] == "total" and all(
        (r["job_datings"], r["invited"]) == ("0", "0") for r in rows
    )


def _no_job_dating_of_others_ods(response: httpx.Response) -> bool:
    from odf.opendocument import load
    from odf.table import TableCell, TableRow

    rows = load(io.BytesIO(response.content)).spreadsheet.getElementsByType(TableRow)
    lines = [[str(cell) for cell in row.getElementsByType(TableCell)] for row in rows]
    return lines[0][2:4] == ["job_datings", "invited"] and all(
        line[2:4] == ["0", "0"] for line in lines[1:]
    )


def _scheme_csv_without_rows(response: httpx.Response) -> bool:
    rows = list(csv.DictReader(io.StringIO(response.text)))
    return [r["group"] for r in rows] == ["total"] and set(rows[0].values()) == {"total", "0"}


def _ods_without_rows(response: httpx.Response) -> bool:
    from odf.opendocument import load
    from odf.table import TableCell, TableRow

    rows = load(io.BytesIO(response.content)).spreadsheet.getElementsByType(TableRow)
    values = [str(cell) for cell in rows[-1].getElementsByType(TableCell)]
    # The header and the total line: zeros, and no median delay.
    return len(rows) == 2 and values[0] == "total" and set(values[1:]) == {"0", ""}


CONVENTION = {
    "name": "Convention régionale Hauts-de-France",
    "scope": "regional",
    "region": "32",
    "period_start": "2026-01-01",
    "period_end": "2026-12-31",
    "networks": ["interim-nord"],
    "targets": {"referrals": 100},
}

POLICIES: dict[tuple[str, str], RoutePolicy] = {
    ("POST", "/v1/referrals"): policy(
        C, cross=Cross.REFUSED, body={**REFERRAL, "job_seeker_id": "{job_seeker_id}"}
    ),
    ("GET", "/v1/referrals"): policy(C, OP, cross=Cross.HIDDEN),
    ("GET", "/v1/referrals/{referral_id}"): policy(C, OP, cross=Cross.REFUSED),
    ("POST", "/v1/referrals/{referral_id}/withdraw"): policy(
        C, cross=Cross.REFUSED, body={"reason": "Essai d'une autre structure"}
    ),
    # The identifier is the caller's own input: 409 naming the existing id, nothing else.
    ("POST", "/v1/job-seekers"): policy(C, cross=Cross.REFUSED, body=SEEKER, refused_with=(409,)),
    ("GET", "/v1/job-seekers"): policy(C, OP, cross=Cross.HIDDEN),
    ("GET", "/v1/job-seekers/{job_seeker_id}"): policy(C, OP, cross=Cross.MASKED),
    ("PATCH", "/v1/job-seekers/{job_seeker_id}"): policy(
        C, OP, cross=Cross.REFUSED, body={"rqth": False}
    ),
    ("POST", "/v1/job-seekers/{job_seeker_id}/shares"): policy(
        C,
        OP,
        cross=Cross.REFUSED,
        body={"organisation_kind": "cap_emploi", "organisation_code": "CE059", "reason": "x"},
    ),
    ("POST", "/v1/job-seekers/{job_seeker_id}/shares/{share_id}/revoke"): policy(
        C, OP, cross=Cross.REFUSED, body={"reason": "Essai d'une autre structure"}
    ),
    ("POST", "/v1/job-seekers/{job_seeker_id}/consents"): policy(
        C,
        cross=Cross.REFUSED,
        body={"agency_id": "agc-interim-nord-lille", "scope": "identity", "channel": "in_person"},
    ),
    ("GET", "/v1/job-seekers/{job_seeker_id}/consents"): policy(C, OP, cross=Cross.REFUSED),
    ("POST", "/v1/job-seekers/{job_seeker_id}/consents/{consent_id}/withdraw"): policy(
        C, cross=Cross.REFUSED
    ),
    ("POST", "/v1/offers"): policy(C, OP, cross=Cross.NOT_SCOPED, why="offers: no personal data"),
    ("GET", "/v1/offers"): policy(C, OP, cross=Cross.NOT_SCOPED, why="offers: no personal data"),
    ("GET", "/v1/offers/{offer_id}"): policy(
        C, OP, cross=Cross.NOT_SCOPED, why="offers: no personal data"
    ),
    ("GET", "/v1/offers/{offer_id}/answers"): policy(
        C, OP, cross=Cross.NOT_SCOPED, why="agencies' answers to an offer: counts, no person"
    ),
    ("POST", "/v1/offers/france-travail-sync"): policy(OP, cross=Cross.OPS_ONLY, body={}),
    # Matching (issue 16): only the caller's own job seekers, by id and reasons.
    ("GET", "/v1/offers/{offer_id}/matches"): policy(C, cross=Cross.HIDDEN),
    ("GET", "/v1/job-seekers/{job_seeker_id}/hard-to-fill-offers"): policy(
        C, OP, cross=Cross.REFUSED
    ),
    ("GET", "/v1/agencies"): policy(C, OP, cross=Cross.NOT_SCOPED, why="agency directory"),
    ("POST", "/v1/agencies"): policy(OP, cross=Cross.OPS_ONLY),
    ("GET", "/v1/agencies/suggestions"): policy(
        C,
        OP,
        cross=Cross.NOT_SCOPED,
        query={"rome_code": "H2913", "departement": "59"},
        why="ranked directory; with job_seeker_id only the département, as the masked record",
    ),
    ("GET", "/v1/agencies/{agency_id}"): policy(
        C, OP, cross=Cross.NOT_SCOPED, why="agency directory"
    ),
    ("PATCH", "/v1/agencies/{agency_id}"): policy(OP, cross=Cross.OPS_ONLY),
    ("GET", "/v1/indicators"): policy(C, OP, ST, cross=Cross.OWN_FIGURES, expect=_no_referrals),
    ("GET", "/v1/indicators.csv"): policy(
        C, OP, ST, cross=Cross.OWN_FIGURES, expect=_csv_without_rows
    ),
    ("POST", "/v1/networks"): policy(OP, cross=Cross.OPS_ONLY),
    ("GET", "/v1/networks"): policy(OP, cross=Cross.OPS_ONLY),
    ("GET", "/v1/networks/{network_id}/refused-responses"): policy(OP, cross=Cross.OPS_ONLY),
    # A network keeps its own directory with its token (interim-nord's here), ops every network's.
    ("PUT", "/v1/networks/{network_id}/agencies"): policy(Role.AGENCY, OP, cross=Cross.OPS_ONLY),
    ("PATCH", "/v1/networks/{network_id}/agencies/{agency_id}/contacts"): policy(
        Role.AGENCY, OP, cross=Cross.OPS_ONLY
    ),
    ("GET", "/v1/audit/personal-data"): policy(OP, cross=Cross.OPS_ONLY),
    # Job datings (issue 16): the organiser's; creating one's own is open to every counsellor.
    ("POST", "/v1/job-datings"): policy(
        C, cross=Cross.NOT_SCOPED, body=JOB_DATING, why="creates the caller's own event"
    ),
    ("GET", "/v1/job-datings"): policy(C, OP, cross=Cross.HIDDEN),
    ("GET", "/v1/job-datings/{job_dating_id}"): policy(C, OP, cross=Cross.REFUSED),
    ("POST", "/v1/job-datings/{job_dating_id}/invitations"): policy(
        C,
        cross=Cross.REFUSED,
        body={
            "agency_id": "agc-interim-nord-arras",
            # Refused on the event before any job seeker is looked at.
            "job_seeker_ids": [str(uuid.uuid4())],
            "message": "Invitation",
        },
    ),
    ("GET", "/v1/job-datings/{job_dating_id}/invitations"): policy(C, OP, cross=Cross.REFUSED),
    ("POST", "/v1/job-datings/{job_dating_id}/attendance"): policy(
        C,
        cross=Cross.REFUSED,
        body={"entries": [{"invitation_id": str(uuid.uuid4()), "came": True}]},
    ),
    ("POST", "/v1/job-seekers/{job_seeker_id}/erasure"): policy(
        OP, cross=Cross.OPS_ONLY, body={"reason": "Demande de la personne (art. 17)"}
    ),
    ("GET", "/v1/erasure-requests/{erasure_id}"): policy(OP, cross=Cross.OPS_ONLY),
    ("POST", "/v1/job-seekers/{job_seeker_id}/personal-link"): policy(C, cross=Cross.REFUSED),
    # Steering (issue 16): figures only, secrecy applied.
    ("GET", "/v1/indicators.ods"): policy(
        C, OP, ST, cross=Cross.OWN_FIGURES, expect=_ods_without_rows
    ),
    ("GET", "/v1/indicators/schemes"): policy(
        C, OP, ST, cross=Cross.OWN_FIGURES, expect=_no_scheme_referrals
    ),
    ("GET", "/v1/indicators/local-actions"): policy(
        C, OP, ST, cross=Cross.OWN_FIGURES, expect=_no_job_dating_of_others
    ),
    ("GET", "/v1/indicators/local-actions.csv"): policy(
        C, OP, ST, cross=Cross.OWN_FIGURES, expect=_no_job_dating_of_others_csv
    ),
    ("GET", "/v1/indicators/local-actions.ods"): policy(
        C, OP, ST, cross=Cross.OWN_FIGURES, expect=_no_job_dating_of_others_ods
    ),
    ("GET", "/v1/indicators/schemes.csv"): policy(
        C, OP, ST, cross=Cross.OWN_FIGURES, expect=_scheme_csv_without_rows
    ),
    ("POST", "/v1/conventions"): policy(OP, ST, cross=Cross.OPS_ONLY, body=CONVENTION),
    ("GET", "/v1/conventions"): policy(OP, ST, cross=Cross.OPS_ONLY),
    ("GET", "/v1/conventions/{convention_id}"): policy(OP, ST, cross=Cross.OPS_ONLY),
    ("PUT", "/v1/conventions/{convention_id}"): policy(
        OP, ST, cross=Cross.OPS_ONLY, body=CONVENTION
    ),
    ("POST", "/v1/steering/dashboard-link"): policy(OP, ST, cross=Cross.OPS_ONLY),
}


def _key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


async def _first_organisation_rows(client: httpx.AsyncClient) -> dict[str, str]:
    seeker = await client.post("/v1/job-seekers", json=SEEKER, headers={**OWNER, **_key()})
    assert seeker.status_code == 201, seeker.text
    seeker_id = seeker.json()["id"]
    consent = await client.post(
        f"/v1/job-seekers/{seeker_id}/consents",
        json={"agency_id": "agc-interim-nord-lille", "scope": "identity", "channel": "in_person"},
        headers={**OWNER, **_key()},
    )
    assert consent.status_code == 201, consent.text
    referral = await client.post(
        "/v1/referrals",
        json={**REFERRAL, "job_seeker_id": seeker_id, "share_identity": True},
        headers={**OWNER, **_key()},
    )
    assert referral.status_code == 201, referral.text
    # Shared with a third organisation (not the one trying): revoking it is the owner's only.
    share = await client.post(
        f"/v1/job-seekers/{seeker_id}/shares",
        json={"organisation_kind": "mission_locale", "organisation_code": "ML075", "reason": "x"},
        headers={**OWNER, **_key()},
    )
    assert share.status_code == 201, share.text
    offers = (await client.get("/v1/offers", headers=OWNER)).json()["items"]
    job_dating = await client.post("/v1/job-datings", json=JOB_DATING, headers={**OWNER, **_key()})
    assert job_dating.status_code == 201, job_dating.text
    invitation = await client.post(
        f"/v1/job-datings/{job_dating.json()['id']}/invitations",
        json={"agency_id": "agc-interim-nord-arras", "job_seeker_ids": [seeker_id], "message": "x"},
        headers={**OWNER, **_key()},
    )
    assert invitation.status_code == 201, invitation.text
    return {
        "share_id": share.json()["id"],
        "job_dating_id": job_dating.json()["id"],
        "invitation_id": invitation.json()[0]["id"],
        "job_seeker_id": seeker_id,
        "consent_id": consent.json()["id"],
        "referral_id": referral.json()["id"],
        "offer_id": offers[0]["id"],
        "agency_id": "agc-interim-nord-lille",
        "network_id": "interim-nord",
        # No erasure was requested: the route is refused by role before any look-up.
        "erasure_id": str(uuid.uuid4()),
        # Refused by role before any look-up, as above.
        "convention_id": str(uuid.uuid4()),
    }


async def test_every_route_has_an_access_policy(app: FastAPI) -> None:
    assert unmatched(app, POLICIES) == []


async def test_every_route_refuses_no_token_the_wrong_role_and_another_organisation(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    ids = await _first_organisation_rows(client)
    owned = [
        ids["job_seeker_id"],
        ids["consent_id"],
        ids["referral_id"],
        ids["job_dating_id"],
        ids["invitation_id"],
    ]
    failures = await run_matrix(
        app, client, POLICIES, ids=ids, tokens=TOKENS, other=OTHER, owned_ids=owned, secrets=SECRETS
    )
    assert failures == []
    # Nothing the other organisation tried changed the first one's rows.
    mine = (await client.get(f"/v1/job-seekers/{ids['job_seeker_id']}", headers=OWNER)).json()
    assert (mine["first_name"], mine["rqth"]) == ("Éloïse", True)
    assert mine["shared_with"] == ["mission_locale:ML075"]
    referral = (await client.get(f"/v1/referrals/{ids['referral_id']}", headers=OWNER)).json()
    assert referral["status"] == "sent"


async def test_every_paged_list_answers_an_unreadable_cursor_with_a_422_on_cursor(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """Issue 10, "Why": ``["x"]``, a number in place of the id… were 500s on every paged list."""
    assert len(paged_routes(app)) >= 6  # referrals, job seekers, offers, agencies, audit…
    ids = await _first_organisation_rows(client)
    # Agencies are paged by their text id: ``["x"]`` is the position after an agency "x"; the
    # refused answers by their number: ``[41]`` is the position after answer 41.
    positions = {"/v1/agencies": ['["x"]'], "/v1/networks/{network_id}/refused-responses": ["[41]"]}
    failures = await check_cursors(
        app, client, POLICIES, ids=ids, tokens=TOKENS, positions=positions
    )
    assert failures == []

"""The dispositifs service's access matrix (issue 10, "Done when"), generated from the app's
routes: every route has a policy (a new one without fails here); no token → 401, a role not
allowed → 403, a counsellor of another organisation refused or not finding the first one's rows
(immersions, MRS candidates, enrolments, pathway proposals, referrals) — on the real store; and
a PMSMP validator of another structure decides nothing of the first one's conventions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from dispositifs.models import KnownReferral
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

from .conftest import COUNSELLOR, STRUCTURE, bearer, creating
from .test_immersions_api import full_content, sign_by_links
from .test_offer_scheme_requests import offer_scheme_request

KnownFactory = Callable[..., Awaitable[KnownReferral]]
TODAY = datetime.now(UTC).date()
OTHER = bearer(Role.COUNSELLOR, "conseiller.ml", org_kind="mission_locale", org_code="ML059")
TOKENS = {
    Role.COUNSELLOR: OTHER,
    Role.OPS: bearer(Role.OPS, "ops"),
    Role.AGENCY: bearer(
        Role.AGENCY, "erp", agency_id="agc-interim-nord-lille", network_id="interim-nord"
    ),
}
C, OP = Role.COUNSELLOR, Role.OPS
SECRETS = ("Camille", "Martin", "1995-04-12", "n.benali@")
HABILETES = ["travailler_en_equipe", "respecter_normes_consignes"]
MRS_SESSION = {
    "employer": {"name": "Entrepôts du Nord", "siret": "73282932000074"},
    "rome_code": "N1103",
    "habiletes": HABILETES,
    "session_date": TODAY.isoformat(),
    "capacity": 5,
    "departement": "59",
}


def _poei(referral_id: str) -> dict[str, Any]:
    return {
        "kind": "poei",
        "referral_id": referral_id,
        "departement": "62",
        "start_date": TODAY.isoformat(),
        "end_date": (TODAY + timedelta(days=60)).isoformat(),
        "hours": 400,
        "mode": "training_body",
        "offer_id": "187XKLM",
        "employer": {"name": "Entrepôts du Nord", "siret": "73282932000074"},
        "expected_contract": {"type": "cdd", "duration_months": 6},
    }


JUSTIFY = {"justification": "Essai d'une autre structure"}
PERIOD = {
    "from": (TODAY - timedelta(days=1)).isoformat(),
    "to": (TODAY + timedelta(days=90)).isoformat(),
}


def _no_figures(response: httpx.Response) -> bool:
    """The other organisation counted nothing here: no région, totals at zero."""
    body = response.json()
    return body["regions"] == [] and body["total"]["immersions"]["requested"] == 0


NOT_PERSONAL = "counts per territory, no row and no person (statistical secrecy applies)"
POLICIES: dict[tuple[str, str], RoutePolicy] = {
    # A convention names a referral: another structure's is refused (answered as unknown).
    ("POST", "/v1/immersions"): policy(
        C,
        cross=Cross.REFUSED,
        body=full_content(referral_id="{referral_id}"),
        refused_with=(404, 422),
    ),
    ("GET", "/v1/immersions"): policy(C, OP, cross=Cross.HIDDEN),
    ("GET", "/v1/immersions/{convention_id}"): policy(C, OP, cross=Cross.REFUSED),
    ("PATCH", "/v1/immersions/{convention_id}"): policy(
        C, cross=Cross.REFUSED, body={"weekly_hours": 30}
    ),
    ("POST", "/v1/immersions/{convention_id}/ready"): policy(C, cross=Cross.REFUSED),
    ("POST", "/v1/immersions/{convention_id}/signatures"): policy(
        C, cross=Cross.REFUSED, body={"signatory": "host"}
    ),
    ("POST", "/v1/immersions/{convention_id}/validate"): policy(C, cross=Cross.REFUSED),
    ("POST", "/v1/immersions/{convention_id}/signatories/{role}/resend"): policy(
        C, cross=Cross.REFUSED
    ),
    ("POST", "/v1/immersions/{convention_id}/assessment-request"): policy(C, cross=Cross.REFUSED),
    ("POST", "/v1/immersions/{convention_id}/renewal"): policy(
        C,
        cross=Cross.REFUSED,
        body={
            "start_date": (TODAY + timedelta(days=30)).isoformat(),
            "end_date": (TODAY + timedelta(days=34)).isoformat(),
            "justification": "Objectifs non atteints, même objet",
        },
    ),
    ("POST", "/v1/immersions/{convention_id}/start"): policy(C, cross=Cross.REFUSED),
    ("POST", "/v1/immersions/{convention_id}/complete"): policy(
        C, cross=Cross.REFUSED, body={"objectives_reached": True, "hired": True}
    ),
    ("POST", "/v1/immersions/{convention_id}/reject"): policy(C, cross=Cross.REFUSED, body=JUSTIFY),
    ("POST", "/v1/immersions/{convention_id}/cancel"): policy(C, cross=Cross.REFUSED, body=JUSTIFY),
    ("POST", "/v1/immersions/{convention_id}/deprecate"): policy(
        C, cross=Cross.REFUSED, body=JUSTIFY
    ),
    ("GET", "/v1/mrs/habiletes"): policy(C, OP, cross=Cross.NOT_SCOPED, why="referential"),
    ("POST", "/v1/mrs/sessions"): policy(
        C, cross=Cross.NOT_SCOPED, body=MRS_SESSION, why="creates the caller's own session"
    ),
    ("GET", "/v1/mrs/sessions"): policy(C, OP, cross=Cross.HIDDEN),
    ("GET", "/v1/mrs/sessions/{session_id}"): policy(C, OP, cross=Cross.REFUSED),
    ("POST", "/v1/mrs/sessions/{session_id}/candidates"): policy(
        C, cross=Cross.REFUSED, body={"referral_id": "{referral_id}"}
    ),
    ("POST", "/v1/mrs/sessions/{session_id}/candidates/{candidate_id}/evaluation"): policy(
        C, cross=Cross.REFUSED, body={"results": dict.fromkeys(HABILETES, True)}
    ),
    ("POST", "/v1/mrs/sessions/{session_id}/candidates/{candidate_id}/hiring-decision"): policy(
        C, cross=Cross.REFUSED, body={"hired": True}
    ),
    ("POST", "/v1/trainings/poec-sessions"): policy(
        C, OP, cross=Cross.NOT_SCOPED, why="a branch's training offer, no personal data"
    ),
    ("GET", "/v1/trainings/poec-sessions"): policy(
        C, OP, cross=Cross.NOT_SCOPED, why="a branch's training offer, no personal data"
    ),
    # An enrolment names a referral: another structure's is answered as unknown (422 on it).
    ("POST", "/v1/trainings/enrolments"): policy(
        C, cross=Cross.REFUSED, body=_poei("{referral_id}"), refused_with=(404, 422)
    ),
    ("GET", "/v1/trainings/enrolments"): policy(C, OP, cross=Cross.HIDDEN),
    ("GET", "/v1/trainings/enrolments/{enrolment_id}"): policy(C, OP, cross=Cross.REFUSED),
    ("POST", "/v1/trainings/enrolments/{enrolment_id}/completion"): policy(
        C, cross=Cross.REFUSED, body={"completed": True, "hired": False}
    ),
    ("POST", "/v1/trainings/enrolments/{enrolment_id}/missions"): policy(
        C, cross=Cross.REFUSED, body={"start_date": "2030-01-06", "end_date": "2030-02-06"}
    ),
    ("POST", "/v1/pathway-proposals"): policy(
        C, cross=Cross.REFUSED, body={"referral_id": "{referral_id}"}, refused_with=(404, 422)
    ),
    ("GET", "/v1/pathway-proposals"): policy(C, OP, cross=Cross.HIDDEN),
    ("POST", "/v1/pathway-proposals/{proposal_id}/accept"): policy(C, cross=Cross.REFUSED, body={}),
    ("POST", "/v1/pathway-proposals/{proposal_id}/dismiss"): policy(
        C, cross=Cross.REFUSED, body={}
    ),
    # Figures of one's own organisation only (issue 10 item 2): the other one has none here.
    ("GET", "/v1/indicators"): policy(
        C, OP, cross=Cross.OWN_FIGURES, query=PERIOD, expect=_no_figures
    ),
    ("GET", "/v1/referrals/{referral_id}"): policy(C, OP, cross=Cross.REFUSED),
    # Agencies' requests on hard-to-fill offers: the offer's structure's counsellors, ops.
    ("GET", "/v1/offer-scheme-requests"): policy(C, OP, cross=Cross.HIDDEN),
    ("POST", "/v1/offer-scheme-requests/{request_id}/take"): policy(C, cross=Cross.REFUSED),
    ("POST", "/v1/offer-scheme-requests/{request_id}/dismiss"): policy(C, cross=Cross.REFUSED),
}


async def _post(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(path, json=body, headers=creating(COUNSELLOR))
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def _first_organisation_rows(
    client: httpx.AsyncClient, known_referral: KnownFactory
) -> dict[str, str]:
    referral = str((await known_referral()).referral_id)
    convention = await _post(client, "/v1/immersions", full_content(referral_id=referral))
    assert convention["status"] == "requested"
    mrs = await _post(client, "/v1/mrs/sessions", MRS_SESSION)
    candidate = await _post(
        client, f"/v1/mrs/sessions/{mrs['id']}/candidates", {"referral_id": referral}
    )
    enrolment = await _post(client, "/v1/trainings/enrolments", _poei(referral))
    proposal = await _post(client, "/v1/pathway-proposals", {"referral_id": referral})
    return {
        "referral_id": referral,
        "convention_id": convention["id"],
        "session_id": mrs["id"],
        "candidate_id": candidate["id"],
        "enrolment_id": enrolment["id"],
        "role": "beneficiary",
        "proposal_id": proposal["id"],
    }


async def test_every_route_has_an_access_policy(app: FastAPI) -> None:
    assert unmatched(app, POLICIES) == []


async def test_every_route_refuses_no_token_the_wrong_role_and_another_organisation(
    app: FastAPI, client: httpx.AsyncClient, known_referral: KnownFactory
) -> None:
    ids = await _first_organisation_rows(client, known_referral)
    ids["request_id"] = str((await offer_scheme_request(app, STRUCTURE)).id)
    owned = [v for k, v in ids.items() if k != "referral_id"]
    failures = await run_matrix(
        app, client, POLICIES, ids=ids, tokens=TOKENS, other=OTHER, owned_ids=owned, secrets=SECRETS
    )
    assert failures == []
    mine = await client.get(f"/v1/immersions/{ids['convention_id']}", headers=COUNSELLOR)
    assert mine.json()["status"] == "requested"  # nothing the other organisation tried changed it
    assert mine.json()["id"] == ids["convention_id"]


async def test_every_paged_list_answers_an_unreadable_cursor_with_a_422_on_cursor(
    app: FastAPI, client: httpx.AsyncClient, known_referral: KnownFactory
) -> None:
    """Issue 10, "Why": ``["x"]``, a number in place of the id… were 500s on every paged list."""
    assert len(paged_routes(app)) >= 5  # immersions, MRS, enrolments, POEC sessions, proposals…
    ids = await _first_organisation_rows(client, known_referral)
    tokens = {**TOKENS, Role.COUNSELLOR: COUNSELLOR}
    assert await check_cursors(app, client, POLICIES, ids=ids, tokens=tokens) == []


async def test_a_validator_of_another_structure_cannot_validate_or_reject(
    app: FastAPI, client: httpx.AsyncClient, known_referral: KnownFactory
) -> None:
    """Two-step review: the validator claim is a permission inside one's own structure only."""
    app.state.runtime.settings.pmsmp_two_step_review_structures = ["*"]
    referral = str((await known_referral()).referral_id)
    cid = (await _post(client, "/v1/immersions", full_content(referral_id=referral)))["id"]
    assert (await client.post(f"/v1/immersions/{cid}/ready", headers=COUNSELLOR)).is_success
    await sign_by_links(client, app, cid)
    pre = await client.post(f"/v1/immersions/{cid}/validate", headers=COUNSELLOR)
    assert pre.json()["pre_validation"]["by"] == "conseillere.leroy"
    strangers = [
        bearer(Role.COUNSELLOR, "valideur.autre", ft_structure="13055", pmsmp_validator=True),
        bearer(
            Role.COUNSELLOR,
            "valideur.ml",
            org_kind="mission_locale",
            org_code="ML059",
            pmsmp_validator=True,
        ),
    ]
    for stranger in strangers:
        for step, body in (("validate", None), ("reject", JUSTIFY)):
            response = await client.post(
                f"/v1/immersions/{cid}/{step}", json=body, headers=stranger
            )
            assert response.status_code == 404, (step, response.text)
            assert not any(secret in response.text for secret in SECRETS)
    mine = (await client.get(f"/v1/immersions/{cid}", headers=COUNSELLOR)).json()
    assert (mine["status"], mine["pre_validation"]["by"]) == ("signed", "conseillere.leroy")
    # The structure's own validator decides it.
    own = bearer(Role.COUNSELLOR, "valideur.dupont", ft_structure=STRUCTURE, pmsmp_validator=True)
    done = await client.post(f"/v1/immersions/{cid}/validate", headers=own)
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "validated"

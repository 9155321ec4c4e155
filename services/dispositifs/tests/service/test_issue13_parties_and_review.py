"""Issue 13, checked item by item: the parties a salaried beneficiary's convention adds (their
employer, a support structure that is not the prescriber) each sign through their own link, and
a support structure that differs from the prescriber is never left out silently; the two-step
review's pre-validation does not survive an edit (a validator decides on what was
pre-validated)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from dispositifs.models import KnownReferral
from shared.auth.tokens import Role

from .conftest import COUNSELLOR, VALIDATOR, bearer, creating
from .parties import current_links, path_of
from .test_immersions_api import full_content, sign_by_links

KnownFactory = Callable[..., Awaitable[KnownReferral]]
ARTICLE = "Code du travail, art. L5135-4 ; Code du travail, art. D5135-1"


async def _create(client: httpx.AsyncClient, known: KnownFactory, **overrides: Any) -> str:
    referral = await known()
    body = full_content(referral_id=str(referral.referral_id))
    body.update(overrides)
    created = await client.post("/v1/immersions", json=body, headers=creating(COUNSELLOR))
    assert created.status_code == 201, created.text
    cid: str = created.json()["id"]
    return cid


async def test_a_salaried_beneficiarys_employer_and_another_support_structure_sign_by_their_links(
    client: httpx.AsyncClient, app: FastAPI, known_referral: KnownFactory
) -> None:
    body = full_content()
    cid = await _create(
        client,
        known_referral,
        beneficiary={**body["beneficiary"], "salaried": True},
        support={"structure": "Mission locale de Roubaix", "referent": "M. Lefebvre"},
    )
    # Neither the employer nor the support structure (not the prescriber) can be left out.
    refused = await client.post(f"/v1/immersions/{cid}/ready", headers=COUNSELLOR)
    assert refused.status_code == 422, refused.text
    rules = {(v["rule"], v["field"], v["article"]) for v in refused.json()["violations"]}
    assert rules == {
        ("pmsmp.parties.employer", "employer.email", ARTICLE),
        ("pmsmp.parties.support_structure", "support.email", ARTICLE),
    }
    fixed = await client.patch(
        f"/v1/immersions/{cid}",
        json={
            "employer": {"name": "Boulangerie Roux", "email": "rh@boulangerie-roux.example"},
            "support": {
                "structure": "Mission locale de Roubaix",
                "referent": "M. Lefebvre",
                "email": "referent@ml-roubaix.example",
            },
        },
        headers=COUNSELLOR,
    )
    assert fixed.status_code == 200, fixed.text
    ready = await client.post(f"/v1/immersions/{cid}/ready", headers=COUNSELLOR)
    assert ready.status_code == 200, ready.text
    async with app.state.runtime.session() as session:
        links = await current_links(session, cid)
    assert set(links) == {
        "beneficiary",
        "host_representative",
        "tutor",
        "employer",
        "support_structure",
    }
    # Single-party: the employer's link opens the employer's part only.
    page = await client.get(path_of(links["employer"]))
    assert page.status_code == 200
    assert "Employeur du bénéficiaire" in page.text
    # The host's declarations of the uses L5135-4 excludes are stored and shown to each party.
    assert "Déclarations de la structure d'accueil (art. L5135-4)" in page.text
    assert "elle ne sert pas à occuper un emploi saisonnier" in page.text
    await sign_by_links(client, app, cid)
    detail = (await client.get(f"/v1/immersions/{cid}", headers=COUNSELLOR)).json()
    assert detail["status"] == "signed"
    assert {s["role"] for s in detail["signatories"] if s["signed_at"]} == set(links)


async def test_a_support_structure_that_is_the_prescriber_does_not_sign(
    client: httpx.AsyncClient, app: FastAPI, known_referral: KnownFactory
) -> None:
    # full_content's support structure is its prescriber (France Travail Lille Centre): the
    # prescriber's counsellor validates, it signs no link, even with an address.
    body = full_content()
    cid = await _create(
        client, known_referral, support={**body["support"], "email": "lille@ft.example"}
    )
    assert (await client.post(f"/v1/immersions/{cid}/ready", headers=COUNSELLOR)).is_success
    async with app.state.runtime.session() as session:
        links = await current_links(session, cid)
    assert set(links) == {"beneficiary", "host_representative", "tutor"}


@pytest.fixture
async def two_step_app(app: FastAPI) -> FastAPI:
    app.state.runtime.settings.pmsmp_two_step_review_structures = ["59350"]
    return app


async def test_an_edit_after_the_pre_validation_voids_it(
    client: httpx.AsyncClient, two_step_app: FastAPI, known_referral: KnownFactory
) -> None:
    cid = await _create(client, known_referral)
    assert (await client.post(f"/v1/immersions/{cid}/ready", headers=COUNSELLOR)).is_success
    await sign_by_links(client, two_step_app, cid)
    pre = await client.post(f"/v1/immersions/{cid}/validate", headers=COUNSELLOR)
    assert pre.json()["pre_validation"]["by"] == "conseillere.leroy"

    # Corrected after the pre-validation: signatures reset, and the pre-validation with them.
    edited = await client.patch(
        f"/v1/immersions/{cid}", json={"place": "Entrepôt de Seclin"}, headers=COUNSELLOR
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["pre_validation"] is None
    await sign_by_links(client, two_step_app, cid)
    first = await client.post(f"/v1/immersions/{cid}/validate", headers=VALIDATOR)
    assert first.status_code == 200, first.text
    # The validator's call is now the pre-validation of the corrected convention, not the decision.
    assert first.json()["status"] == "signed"
    assert first.json()["pre_validation"]["by"] == "valideur.dupont"
    # The decision is another validator's: the counsellor, no validator, may not take it.
    by_counsellor = await client.post(f"/v1/immersions/{cid}/validate", headers=COUNSELLOR)
    assert by_counsellor.status_code == 403
    assert by_counsellor.json()["type"].endswith("/validator-required")
    other_validator = bearer(
        Role.COUNSELLOR, "valideuse.petit", ft_structure="59350", pmsmp_validator=True
    )
    decided = await client.post(f"/v1/immersions/{cid}/validate", headers=other_validator)
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "validated"
    assert decided.json()["validated_by"] == "valideuse.petit"


@pytest.mark.parametrize("step", ["reject", "cancel", "deprecate"])
async def test_rejection_cancellation_and_deprecation_need_a_justification_over_http(
    client: httpx.AsyncClient, app: FastAPI, known_referral: KnownFactory, step: str
) -> None:
    cid = await _create(client, known_referral)
    assert (await client.post(f"/v1/immersions/{cid}/ready", headers=COUNSELLOR)).is_success
    # Missing or too short: the body is refused (422); blank: the lifecycle refuses it (409).
    for body, status in (
        ({}, 422),
        ({"justification": ""}, 422),
        ({"justification": "     "}, 409),
    ):
        refused = await client.post(f"/v1/immersions/{cid}/{step}", json=body, headers=COUNSELLOR)
        assert refused.status_code == status, (body, refused.text)
    assert (await client.get(f"/v1/immersions/{cid}", headers=COUNSELLOR)).json()[
        "status"
    ] == "ready_to_sign"
    ended = await client.post(
        f"/v1/immersions/{cid}/{step}",
        json={"justification": "La structure d'accueil a retiré son offre"},
        headers=COUNSELLOR,
    )
    assert ended.status_code == 200, ended.text
    target = {"reject": "rejected", "cancel": "cancelled", "deprecate": "deprecated"}[step]
    detail = (await client.get(f"/v1/immersions/{cid}", headers=COUNSELLOR)).json()
    assert detail["status"] == target
    assert detail["justification"] == "La structure d'accueil a retiré son offre"
    last = detail["timeline"][-1]
    assert (last["to_status"], last["comment"]) == (
        target,
        "La structure d'accueil a retiré son offre",
    )

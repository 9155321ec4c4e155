"""Issue 11 item 3 in dispositifs: every free text of a convention, a justification, a tutor's
assessment, an error report, an incident report and a pathway decision is refused with a French
422 naming the field when it holds a NIR (key checked), bank details or a health word; nothing is
stored. Text from an agency's ERP is kept without them (redacted)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from dispositifs.models import ImmersionConvention, ImmersionIncident, KnownReferral
from dispositifs.use_cases.immersion_intake import _request_from_agency
from shared.contracts.referral import ReferralImmersionRequested

from .conftest import COUNSELLOR, creating
from .parties import path_of, staged
from .test_immersion_signing import FORM, _links, _ready
from .test_immersions_api import ENDED, TODAY, full_content, sign_by_links

KnownFactory = Callable[..., Awaitable[KnownReferral]]
NIR = "1 85 05 75 123 456 73"  # key 73 is right
IBAN = "FR76 3000 6000 0112 3456 7890 189"
HEALTH = "RQTH en cours"


def _assert_refused(response: httpx.Response, field: str) -> None:
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["errors"], problem
    issue = next(e for e in problem["errors"] if e["field"] == field)
    assert f"« {field.split('.')[-1]} »" in issue["message"]
    assert "123 456" not in response.text
    assert "3000 6000" not in response.text


@pytest.mark.parametrize(
    ("field", "text"),
    [
        ("objectives", f"Découvrir le métier ; NIR {NIR}"),
        ("tasks", f"Préparation de commandes, virement sur {IBAN}"),
        ("evaluation_method", f"Observation adaptée ({HEALTH})"),
        ("schedule", "Le matin, hors séances de chimiothérapie"),
        ("place", f"Entrepôt, {NIR}"),
    ],
)
async def test_the_conventions_free_text_is_screened_on_request(
    client: httpx.AsyncClient, known_referral: KnownFactory, field: str, text: str
) -> None:
    referral = await known_referral()
    body = full_content(referral_id=str(referral.referral_id))
    body[field] = text
    refused = await client.post("/v1/immersions", json=body, headers=creating(COUNSELLOR))
    _assert_refused(refused, field)
    listed = (await client.get("/v1/immersions", headers=COUNSELLOR)).json()
    assert listed["items"] == []


async def test_the_content_edit_and_the_beneficiarys_situation_are_screened(
    client: httpx.AsyncClient, known_referral: KnownFactory
) -> None:
    referral = await known_referral()
    body = full_content(referral_id=str(referral.referral_id))
    created = await client.post("/v1/immersions", json=body, headers=creating(COUNSELLOR))
    assert created.status_code == 201, created.text
    cid = created.json()["id"]
    refused = await client.patch(
        f"/v1/immersions/{cid}",
        json={"beneficiary": {"professional_situation": f"En arrêt maladie, {NIR}"}},
        headers=COUNSELLOR,
    )
    _assert_refused(refused, "beneficiary.professional_situation")
    refused = await client.patch(
        f"/v1/immersions/{cid}", json={"objectives": f"Reprise après {HEALTH}"}, headers=COUNSELLOR
    )
    _assert_refused(refused, "objectives")
    detail = (await client.get(f"/v1/immersions/{cid}", headers=COUNSELLOR)).json()
    assert "RQTH" not in str(detail)
    # An everyday phrase that holds a keyword is not health data.
    fine = await client.patch(
        f"/v1/immersions/{cid}",
        json={"objectives": "Diagnostic de compétences sur le poste de cariste"},
        headers=COUNSELLOR,
    )
    assert fine.status_code == 200, fine.text


async def test_justifications_and_renewals_are_screened(
    client: httpx.AsyncClient, known_referral: KnownFactory
) -> None:
    cid = await _ready(client, known_referral)
    refused = await client.post(
        f"/v1/immersions/{cid}/cancel",
        json={"justification": f"Le bénéficiaire est hospitalisé, NIR {NIR}"},
        headers=COUNSELLOR,
    )
    _assert_refused(refused, "justification")
    detail = (await client.get(f"/v1/immersions/{cid}", headers=COUNSELLOR)).json()
    assert detail["status"] == "ready_to_sign"
    renewal = await client.post(
        f"/v1/immersions/{cid}/renewal",
        json={
            "start_date": (TODAY + timedelta(days=30)).isoformat(),
            "end_date": (TODAY + timedelta(days=35)).isoformat(),
            "justification": f"Payé sur {IBAN}",
        },
        headers=creating(COUNSELLOR),
    )
    _assert_refused(renewal, "justification")


async def test_the_counsellors_assessment_comment_is_screened(
    client: httpx.AsyncClient, app: FastAPI, known_referral: KnownFactory
) -> None:
    cid = await _ready(client, known_referral, start=ENDED)
    await sign_by_links(client, app, cid)
    assert (
        await client.post(f"/v1/immersions/{cid}/validate", headers=COUNSELLOR)
    ).status_code == 200
    refused = await client.post(
        f"/v1/immersions/{cid}/complete",
        json={"objectives_reached": True, "hired": False, "assessment": f"Bien, malgré {HEALTH}"},
        headers=COUNSELLOR,
    )
    _assert_refused(refused, "assessment")


async def test_an_error_report_on_the_signing_page_is_screened(
    client: httpx.AsyncClient, app: FastAPI, known_referral: KnownFactory
) -> None:
    cid = await _ready(client, known_referral)
    links = await _links(app, cid)
    refused = await client.post(
        f"{path_of(links['beneficiary'])}/erreur",
        content=f"message=Mon+num%C3%A9ro+{NIR.replace(' ', '+')}+est+faux",
        headers=FORM,
    )
    assert refused.status_code == 422
    assert "« message »" in refused.text
    assert "sécurité sociale" in refused.text
    assert "123 456" not in refused.text
    detail = (await client.get(f"/v1/immersions/{cid}", headers=COUNSELLOR)).json()
    assert all(s["error_report"] is None for s in detail["signatories"])


async def test_the_tutors_comment_and_an_incident_description_are_screened(
    client: httpx.AsyncClient, app: FastAPI, known_referral: KnownFactory
) -> None:
    cid = await _ready(client, known_referral, start=ENDED)
    await sign_by_links(client, app, cid)
    assert (
        await client.post(f"/v1/immersions/{cid}/validate", headers=COUNSELLOR)
    ).status_code == 200
    assert (
        await client.post(f"/v1/immersions/{cid}/assessment-request", headers=COUNSELLOR)
    ).status_code == 200
    async with app.state.runtime.session() as session:
        [request] = await staged(session, cid, "coop.immersion.assessment_requested.v1")
    base = path_of(request["links"][0]["url"])
    incident = await client.post(
        f"{base}/incident",
        content=f"kind=accident&occurred_on={TODAY.isoformat()}&description=Entorse%2C+RQTH",
        headers=FORM,
    )
    assert incident.status_code == 422
    assert "« description »" in incident.text
    async with app.state.runtime.session() as session:
        assert (await session.get(ImmersionConvention, uuid.UUID(cid))) is not None
        assert (await session.scalars(select(ImmersionIncident))).all() == []
    form = (
        "outcome=completed&objectives_reached=oui&job_offered=non&comment=Suivi+pour+diab%C3%A8te"
    )
    refused = await client.post(f"{base}/bilan", content=form, headers=FORM)
    assert refused.status_code == 422
    assert "« comment »" in refused.text
    detail = (await client.get(f"/v1/immersions/{cid}", headers=COUNSELLOR)).json()
    assert detail["status"] == "validated"


def test_an_agencys_objectives_and_tasks_are_kept_without_a_nir() -> None:
    data: dict[str, Any] = {
        "referral_id": uuid.uuid4(),
        "job_seeker_id": uuid.uuid4(),
        "agency_id": "agc-interim-nord-lille",
        "network_id": "interim-nord",
        "counsellor_id": "conseillere.leroy",
        "structure_code": "59350",
        "weekly_hours": 35,
        "requested_at": "2026-12-01T10:00:00+00:00",
        "occurred_at": "2026-12-01T10:00:00+00:00",
        "objet": "discover",
        "start_date": "2026-12-10",
        "end_date": "2026-12-15",
        "host_name": "Entrepôts du Nord",
        "host_siret": "12345678901234",
        "objectives": f"Découvrir ; NIR {NIR}",
        "tasks": f"Payer sur {IBAN}",
        "rome_code": "N1101",
    }
    fields = ReferralImmersionRequested.model_fields
    event = ReferralImmersionRequested(**{k: v for k, v in data.items() if k in fields})
    request = _request_from_agency(event, None)
    assert "123 456" not in request.content["objectives"]
    assert "[retiré]" in request.content["objectives"]
    assert "3000" not in request.content["tasks"]

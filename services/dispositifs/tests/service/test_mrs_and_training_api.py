"""MRS sessions, POEI/POEC enrolments and pathway proposals over HTTP, on the real store."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from dispositifs.domain.training import RULE_FT_POEI_HOURS, RULE_POEC_FRAMEWORK
from dispositifs.models import PLATFORM, KnownReferral

from .conftest import COUNSELLOR, OPS, creating

TODAY = datetime.now(UTC).date()
KnownFactory = Callable[..., Awaitable[KnownReferral]]


async def _post(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> httpx.Response:
    return await client.post(path, json=body, headers=creating(COUNSELLOR))


def _mrs_session(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "employer": {"name": "Entrepôts du Nord", "siret": "73282932000074"},
        "rome_code": "N1103",
        "habiletes": ["travailler_en_equipe", "respecter_normes_consignes", "maintenir_attention"],
        "session_date": TODAY.isoformat(),
        "capacity": 2,
        "departement": "59",
    }
    body.update(overrides)
    return body


async def _event_types(app: FastAPI) -> list[str]:
    async with app.state.runtime.session() as session:
        rows = (await session.execute(select(PLATFORM.outbox).order_by("id"))).all()
    return [row.event_type for row in rows]


async def test_mrs_session_evaluates_candidates_per_habilete_and_records_the_hiring(
    client: httpx.AsyncClient, app: FastAPI, known_referral: KnownFactory
) -> None:
    habiletes = (await client.get("/v1/mrs/habiletes", headers=COUNSELLOR)).json()
    assert len(habiletes) == 17
    created = await _post(client, "/v1/mrs/sessions", _mrs_session())
    assert created.status_code == 201, created.text
    sid = created.json()["id"]
    assert created.json()["habiletes"][0] == {
        "code": "travailler_en_equipe",
        "label": "Travailler en équipe",
    }

    referral = await known_referral()
    first = await _post(
        client, f"/v1/mrs/sessions/{sid}/candidates", {"referral_id": str(referral.referral_id)}
    )
    second = await _post(
        client, f"/v1/mrs/sessions/{sid}/candidates", {"job_seeker_id": str(uuid.uuid4())}
    )
    full = await _post(
        client, f"/v1/mrs/sessions/{sid}/candidates", {"job_seeker_id": str(uuid.uuid4())}
    )
    assert first.status_code == second.status_code == 201
    assert full.status_code == 422
    assert full.json()["violations"][0]["rule"] == "mrs.capacity"

    base = f"/v1/mrs/sessions/{sid}/candidates"
    all_ok = dict.fromkeys(_mrs_session()["habiletes"], True)
    positive = await client.post(
        f"{base}/{first.json()['id']}/evaluation", json={"results": all_ok}, headers=COUNSELLOR
    )
    assert positive.json()["positive"] is True
    negative = await client.post(
        f"{base}/{second.json()['id']}/evaluation",
        json={"results": {**all_ok, "maintenir_attention": False}},
        headers=COUNSELLOR,
    )
    assert negative.json()["positive"] is False
    incomplete = await client.post(
        f"{base}/{second.json()['id']}/evaluation",
        json={"results": {"travailler_en_equipe": True}},
        headers=COUNSELLOR,
    )
    assert incomplete.status_code == 422

    refused = await client.post(
        f"{base}/{second.json()['id']}/hiring-decision", json={"hired": True}, headers=COUNSELLOR
    )
    assert refused.status_code == 422
    hired = await client.post(
        f"{base}/{first.json()['id']}/hiring-decision", json={"hired": True}, headers=COUNSELLOR
    )
    assert hired.json()["hired"] is True
    assert await _event_types(app) == ["coop.mrs.evaluated.v1"] * 3

    params = {"from": TODAY.isoformat(), "to": TODAY.isoformat()}
    indicators = (await client.get("/v1/indicators", params=params, headers=OPS)).json()
    assert indicators["total"]["mrs"] == {
        "registered": 2,
        "evaluated": 2,
        "positive": 1,
        "recruited": 1,
        "recruitment_rate_among_positive": 1.0,
    }


async def test_an_mrs_session_assesses_habiletes_of_the_referential_only(
    client: httpx.AsyncClient,
) -> None:
    response = await _post(client, "/v1/mrs/sessions", _mrs_session(habiletes=["voler"]))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "habiletes"


def _poei(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "poei",
        "job_seeker_id": str(uuid.uuid4()),
        "departement": "62",
        "start_date": TODAY.isoformat(),
        "end_date": (TODAY + timedelta(days=60)).isoformat(),
        "hours": 450,
        "mode": "training_body",
        "offer_id": "187XKLM",
        "employer": {"name": "Entrepôts du Nord", "siret": "73282932000074"},
        "expected_contract": {"type": "cdd", "duration_months": 6},
    }
    body.update(overrides)
    return body


async def test_poei_caps_and_expected_contract_are_enforced_with_their_article(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    ok = await _post(client, "/v1/trainings/enrolments", _poei())
    assert ok.status_code == 201, ok.text
    too_long = await _post(client, "/v1/trainings/enrolments", _poei(hours=451))
    assert too_long.status_code == 422
    # The hour caps are France Travail's rules, not D6326-1's (issue 13).
    assert too_long.json()["article"] == RULE_FT_POEI_HOURS
    senior = await _post(
        client, "/v1/trainings/enrolments", _poei(hours=600, birth_date="1960-01-01")
    )
    assert senior.status_code == 201
    assert senior.json()["targeted_public"] == "senior"
    short_cdd = await _post(
        client,
        "/v1/trainings/enrolments",
        _poei(expected_contract={"type": "cdd", "duration_months": 5}),
    )
    assert short_cdd.json()["errors"][0]["field"] == "expected_contract.duration_months"
    no_offer = await _post(client, "/v1/trainings/enrolments", _poei(offer_id=None))
    assert no_offer.json()["article"] == "Code du travail, art. L6326-1"

    eid = ok.json()["id"]
    done = await client.post(
        f"/v1/trainings/enrolments/{eid}/completion",
        json={"completed": True, "hired": True, "contract_type": "cdd", "contract_months": 6},
        headers=COUNSELLOR,
    )
    assert done.json()["status"] == "completed"
    assert await _event_types(app) == [
        "coop.training.enrolled.v1",
        "coop.training.enrolled.v1",
        "coop.training.completed.v1",
    ]
    params = {"from": TODAY.isoformat(), "to": TODAY.isoformat()}
    total = (await client.get("/v1/indicators", params=params, headers=OPS)).json()["total"]
    assert total["poei"] == {"enrolled": 2, "completed": 1, "hired": 1, "hired_rate": 1.0}


def _poec_session(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Préparateur de commandes — POEC intérim",
        "opco": "AKTO",
        "branch": "Travail temporaire",
        "temporary_work": True,
        "rome_code": "N1103",
        "departement": "59",
        "start_date": (TODAY + timedelta(days=10)).isoformat(),
        "end_date": (TODAY + timedelta(days=70)).isoformat(),
        "total_hours": 400,
        "company_hours": 133,
        "capacity": 12,
    }
    body.update(overrides)
    return body


async def test_poec_sessions_of_400_hours_are_allowed_and_401_refused(
    client: httpx.AsyncClient,
) -> None:
    ok = await _post(client, "/v1/trainings/poec-sessions", _poec_session())
    assert ok.status_code == 201, ok.text
    too_long = await _post(client, "/v1/trainings/poec-sessions", _poec_session(total_hours=401))
    assert too_long.status_code == 422
    # 400 h come from the France Travail / OPCO framework, not from L6326-3 (issue 13).
    assert too_long.json()["article"] == RULE_POEC_FRAMEWORK
    company = await _post(client, "/v1/trainings/poec-sessions", _poec_session(company_hours=134))
    assert company.json()["errors"][0]["field"] == "company_hours"
    opco = await _post(client, "/v1/trainings/poec-sessions", _poec_session(opco="OPCO EP"))
    assert opco.json()["errors"][0]["field"] == "opco"

    enrolled = await _post(
        client,
        "/v1/trainings/enrolments",
        {"kind": "poec", "job_seeker_id": str(uuid.uuid4()), "poec_session_id": ok.json()["id"]},
    )
    assert enrolled.status_code == 201, enrolled.text
    assert enrolled.json()["hours"] == 400


async def test_a_pathway_proposal_points_to_an_open_poec_session_and_is_decided(
    client: httpx.AsyncClient, known_referral: KnownFactory
) -> None:
    poec = (await _post(client, "/v1/trainings/poec-sessions", _poec_session())).json()
    referral = await known_referral(rome_code="N1103")
    proposal = await _post(
        client, "/v1/pathway-proposals", {"referral_id": str(referral.referral_id)}
    )
    assert proposal.status_code == 201, proposal.text
    body = proposal.json()
    assert (body["scheme"], body["poec_session_id"], body["rule"]) == (
        "poec",
        poec["id"],
        "pathway.poec_branch_session_open",
    )
    no_reason = await client.post(
        f"/v1/pathway-proposals/{body['id']}/dismiss", json={}, headers=COUNSELLOR
    )
    assert no_reason.status_code == 422
    accepted = await client.post(
        f"/v1/pathway-proposals/{body['id']}/accept", json={}, headers=COUNSELLOR
    )
    assert accepted.json()["status"] == "accepted"
    listing = await client.get(
        "/v1/pathway-proposals", params={"status": "accepted"}, headers=COUNSELLOR
    )
    assert [p["id"] for p in listing.json()["items"]] == [body["id"]]


async def test_a_rome_code_outside_the_rome_4_referential_is_a_422_on_the_field(
    client: httpx.AsyncClient,
) -> None:
    # N9999 has the pattern of a ROME code but is not in the ROME 4.0 referential.
    refused = await _post(client, "/v1/mrs/sessions", _mrs_session(rome_code="N9999"))
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in refused.json()["errors"]] == ["rome_code"]
    assert "ROME 4.0" in refused.json()["errors"][0]["message"]
    accepted = await _post(client, "/v1/mrs/sessions", _mrs_session(rome_code="N1103"))
    assert accepted.status_code == 201, accepted.text

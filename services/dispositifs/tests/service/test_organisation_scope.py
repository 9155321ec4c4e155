"""What belongs to one prescribing organisation stays there (issue 10, items 1 and 2): an MRS
candidate or a POEI/POEC enrolment never names a referral of another structure, and a counsellor
of Cap emploi or of a mission locale is scoped to their own organisation like France Travail's."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from dispositifs.models import KnownReferral, MrsCandidate, TrainingEnrolment
from shared.auth.tokens import Role

from .conftest import COUNSELLOR, OPS, OTHER_COUNSELLOR, bearer, creating

TODAY = datetime.now(UTC).date()
KnownFactory = Callable[..., Awaitable[KnownReferral]]
CAP_EMPLOI = bearer(Role.COUNSELLOR, "conseiller.cap", org_kind="cap_emploi", org_code="59350")
AGENCY = bearer(Role.AGENCY, "erp", agency_id="agc-interim-nord-lille", network_id="interim-nord")


def _mrs_session() -> dict[str, Any]:
    return {
        "employer": {"name": "Entrepôts du Nord", "siret": "73282932000074"},
        "rome_code": "N1103",
        "habiletes": ["travailler_en_equipe", "respecter_normes_consignes"],
        "session_date": TODAY.isoformat(),
        "capacity": 5,
        "departement": "59",
    }


def _poei(referral_id: uuid.UUID) -> dict[str, Any]:
    return {
        "kind": "poei",
        "referral_id": str(referral_id),
        "departement": "62",
        "start_date": TODAY.isoformat(),
        "end_date": (TODAY + timedelta(days=60)).isoformat(),
        "hours": 400,
        "mode": "training_body",
        "offer_id": "187XKLM",
        "employer": {"name": "Entrepôts du Nord", "siret": "73282932000074"},
        "expected_contract": {"type": "cdd", "duration_months": 6},
    }


async def _count(app: Any, model: Any) -> int:
    async with app.state.runtime.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_mrs_candidates_and_enrolments_refuse_a_referral_of_another_structure(
    client: httpx.AsyncClient, app: Any, known_referral: KnownFactory
) -> None:
    theirs = await known_referral(structure_code="13055")
    own = await known_referral()
    mrs = await client.post("/v1/mrs/sessions", json=_mrs_session(), headers=creating(COUNSELLOR))
    assert mrs.status_code == 201, mrs.text
    candidates = f"/v1/mrs/sessions/{mrs.json()['id']}/candidates"

    refused = await client.post(
        candidates, json={"referral_id": str(theirs.referral_id)}, headers=creating(COUNSELLOR)
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "referral_id"
    assert str(theirs.job_seeker_id) not in refused.text
    enrolment = await client.post(
        "/v1/trainings/enrolments", json=_poei(theirs.referral_id), headers=creating(COUNSELLOR)
    )
    assert enrolment.status_code == 422
    assert str(theirs.job_seeker_id) not in enrolment.text
    assert await _count(app, MrsCandidate) == 0
    assert await _count(app, TrainingEnrolment) == 0

    accepted = await client.post(
        candidates, json={"referral_id": str(own.referral_id)}, headers=creating(COUNSELLOR)
    )
    assert accepted.status_code == 201, accepted.text
    enrolled = await client.post(
        "/v1/trainings/enrolments", json=_poei(own.referral_id), headers=creating(COUNSELLOR)
    )
    assert enrolled.status_code == 201, enrolled.text
    enrolment_id = enrolled.json()["id"]
    # The other structure and a Cap emploi of the same code see neither.
    for other in (OTHER_COUNSELLOR, CAP_EMPLOI):
        url = f"/v1/trainings/enrolments/{enrolment_id}"
        assert (await client.get(url, headers=other)).status_code == 404
    assert (await client.get(f"/v1/trainings/enrolments/{enrolment_id}", headers=OPS)).is_success


async def test_a_cap_emploi_counsellor_works_within_their_own_organisation(
    client: httpx.AsyncClient, known_referral: KnownFactory
) -> None:
    cap_referral = await known_referral(structure_code="cap_emploi:59350")
    ft_referral = await known_referral()  # France Travail 59350: same code, another organisation
    mrs = await client.post("/v1/mrs/sessions", json=_mrs_session(), headers=creating(CAP_EMPLOI))
    assert mrs.status_code == 201, mrs.text
    candidates = f"/v1/mrs/sessions/{mrs.json()['id']}/candidates"
    ok = await client.post(
        candidates,
        json={"referral_id": str(cap_referral.referral_id)},
        headers=creating(CAP_EMPLOI),
    )
    assert ok.status_code == 201, ok.text
    refused = await client.post(
        candidates, json={"referral_id": str(ft_referral.referral_id)}, headers=creating(CAP_EMPLOI)
    )
    assert refused.status_code == 422
    session_url = f"/v1/mrs/sessions/{mrs.json()['id']}"
    assert (await client.get(session_url, headers=COUNSELLOR)).status_code == 404
    assert (await client.get(session_url, headers=CAP_EMPLOI)).status_code == 200
    # An agency token sees no counsellor's rows here (the routes refuse the role).
    assert (await client.get(session_url, headers=AGENCY)).status_code == 403


async def test_an_idempotent_replay_re_checks_that_the_caller_still_sees_the_row(
    client: httpx.AsyncClient, app: Any
) -> None:
    from sqlalchemy import update

    from dispositifs.models import MrsSession

    headers = creating(COUNSELLOR)
    first = await client.post("/v1/mrs/sessions", json=_mrs_session(), headers=headers)
    assert first.status_code == 201, first.text
    again = await client.post("/v1/mrs/sessions", json=_mrs_session(), headers=headers)
    assert again.headers["Idempotent-Replayed"] == "true"
    async with app.state.runtime.database.transaction() as session:
        await session.execute(
            update(MrsSession)
            .where(MrsSession.id == uuid.UUID(first.json()["id"]))
            .values(structure_code="13055")
        )
    refused = await client.post("/v1/mrs/sessions", json=_mrs_session(), headers=headers)
    assert refused.status_code == 404

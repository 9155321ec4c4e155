"""Issue 13 item 6 over HTTP on the real store: the validated convention tells the reminders its
département; the POEI's 600 h publics come from the settings and from the referral's priority
publics; the contract after a POEC is checked when recorded, and the missions given after a
temporary-work POEC are followed up (flagged when none after the setting's delay)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from dispositifs.app import create_app
from dispositifs.domain.training import ART_POEC, RULE_FT_POEI_HOURS, TargetedPublic
from dispositifs.models import KnownReferral
from dispositifs.settings import DispositifsSettings
from dispositifs.use_cases.erasure import erase_job_seeker
from dispositifs.use_cases.referrals import learn_referral
from shared.contracts.erasure import JobSeekerErasureRequested
from shared.contracts.referral import ReferralSent

from .conftest import COUNSELLOR, OPS, STRUCTURE, creating
from .parties import path_of, staged
from .test_immersion_signing import FORM, _links, _ready
from .test_immersions_api import TODAY, full_content, sign_by_links

KnownFactory = Callable[..., Awaitable[KnownReferral]]


async def test_the_validated_event_carries_the_immersions_departement(
    client: httpx.AsyncClient, app: FastAPI, known_referral: KnownFactory
) -> None:
    cid = await _ready(client, known_referral, departement="57")
    await sign_by_links(client, app, cid)
    validated = await client.post(f"/v1/immersions/{cid}/validate", headers=COUNSELLOR)
    assert validated.status_code == 200, validated.text
    async with app.state.runtime.session() as session:
        [event] = await staged(session, cid, "coop.immersion.validated.v1")
    assert event["departement"] == "57"


# -- POEI: the 600 h publics from the settings and from the referral's priority publics -------
def _poei(referral_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "poei",
        "referral_id": referral_id,
        "start_date": TODAY.isoformat(),
        "end_date": (TODAY + timedelta(days=90)).isoformat(),
        "hours": 600,
        "mode": "training_body",
        "offer_id": "187XKLM",
        "employer": {"name": "Entrepôts du Nord", "siret": "73282932000074"},
        "expected_contract": {"type": "cdi"},
    }
    body.update(overrides)
    return body


async def _enrol(client: httpx.AsyncClient, body: dict[str, Any]) -> httpx.Response:
    return await client.post("/v1/trainings/enrolments", json=body, headers=creating(COUNSELLOR))


async def test_the_referrals_priority_publics_give_the_600_h_cap_when_the_settings_list_them(
    client: httpx.AsyncClient, app: FastAPI, known_referral: KnownFactory
) -> None:
    # referral.sent carries the publics (never RQTH): the projection keeps them.
    sent = ReferralSent(
        referral_id=uuid.uuid4(),
        agency_id="agc-interim-nord-lille",
        network_id="interim-nord",
        counsellor_id="conseillere.leroy",
        structure_code=STRUCTURE,
        job_seeker_id=uuid.uuid4(),
        rome_code="N1101",
        departement="59",
        sent_at=datetime.now(UTC),
        priority_publics=["brsa", "rqth"],
    )
    async with app.state.runtime.database.transaction() as session:
        await learn_referral(session, sent)
    async with app.state.runtime.session() as session:
        known = await session.get(KnownReferral, sent.referral_id)
        assert known is not None
        assert known.priority_publics == ["brsa"]  # RQTH is dropped if it ever came

    brsa = await _enrol(client, _poei(str(sent.referral_id)))
    assert brsa.status_code == 201, brsa.text
    assert brsa.json()["targeted_public"] == "brsa"
    over = await _enrol(client, _poei(str(sent.referral_id), hours=601))
    assert over.status_code == 422
    assert over.json()["article"] == RULE_FT_POEI_HOURS

    # A long-term job seeker (DELD): 450 h with a training body, unless the settings add DELD.
    deld = await known_referral(priority_publics=["deld"])
    refused = await _enrol(client, _poei(str(deld.referral_id)))
    assert refused.status_code == 422
    assert "au plus 450 h" in refused.text
    settings = app.state.runtime.settings
    settings.poei_targeted_publics = [*settings.poei_targeted_publics, TargetedPublic.DELD]
    allowed = await _enrol(client, _poei(str(deld.referral_id)))
    assert allowed.status_code == 201, allowed.text
    assert allowed.json()["targeted_public"] == "deld"
    # And a public the settings drop no longer counts, even declared.
    settings.poei_targeted_publics = [TargetedPublic.SENIOR]
    dropped = await _enrol(client, _poei(str(sent.referral_id), brsa=True))
    assert dropped.status_code == 422


# -- POEC: the contract after it, and the missions given after a temporary-work POEC ---------
def _poec_session(temporary_work: bool, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Préparateur de commandes — POEC intérim",
        "opco": "AKTO",
        "branch": "Travail temporaire" if temporary_work else "Logistique",
        "temporary_work": temporary_work,
        "rome_code": "N1103",
        "departement": "59",
        "start_date": (TODAY - timedelta(days=130)).isoformat(),
        "end_date": (TODAY - timedelta(days=100)).isoformat(),
        "total_hours": 400,
        "company_hours": 133,
        "capacity": 12,
    }
    body.update(overrides)
    return body


async def _poec_enrolment(client: httpx.AsyncClient, temporary_work: bool) -> str:
    poec = await client.post(
        "/v1/trainings/poec-sessions",
        json=_poec_session(temporary_work),
        headers=creating(COUNSELLOR),
    )
    assert poec.status_code == 201, poec.text
    enrolled = await _enrol(
        client,
        {"kind": "poec", "job_seeker_id": str(uuid.uuid4()), "poec_session_id": poec.json()["id"]},
    )
    assert enrolled.status_code == 201, enrolled.text
    return str(enrolled.json()["id"])


async def _complete(client: httpx.AsyncClient, eid: str, **body: Any) -> httpx.Response:
    return await client.post(
        f"/v1/trainings/enrolments/{eid}/completion",
        json={"completed": True, **body},
        headers=COUNSELLOR,
    )


async def test_the_contract_after_a_poec_is_checked_when_it_is_recorded_l6326_3(
    client: httpx.AsyncClient,
) -> None:
    eid = await _poec_enrolment(client, temporary_work=False)
    unsaid = await _complete(client, eid, hired=True)
    assert unsaid.status_code == 422
    assert unsaid.json()["errors"][0]["field"] == "contract_type"
    short = await _complete(
        client, eid, hired=True, contract_type="professionnalisation", contract_months=11
    )
    assert short.status_code == 422
    assert short.json()["errors"][0]["field"] == "contract_months"
    assert short.json()["article"] == ART_POEC
    mission = await _complete(client, eid, hired=True, contract_type="mission", contract_months=3)
    assert mission.status_code == 422  # missions only in temporary work
    twelve = await _complete(client, eid, hired=True, contract_type="cdd", contract_months=12)
    assert twelve.status_code == 200, twelve.text
    assert twelve.json()["missions_expected"] is None  # not temporary work: nothing to follow


async def test_missions_given_after_a_temporary_work_poec_are_followed_up(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    eid = await _poec_enrolment(client, temporary_work=True)
    too_early = await client.post(
        f"/v1/trainings/enrolments/{eid}/missions",
        json={"start_date": TODAY.isoformat(), "end_date": TODAY.isoformat()},
        headers=COUNSELLOR,
    )
    assert too_early.status_code == 422  # the POEC is not completed yet
    done = await _complete(client, eid, hired=False)
    assert done.status_code == 200, done.text
    # Ended 100 days ago, no mission: past the 90-day follow-up, flagged.
    assert done.json()["missions_expected"] is True
    assert done.json()["missions_overdue"] is True
    listed = (await client.get("/v1/trainings/enrolments", headers=COUNSELLOR)).json()
    assert [e["missions_overdue"] for e in listed["items"]] == [True]
    params = {"from": (TODAY - timedelta(days=200)).isoformat(), "to": TODAY.isoformat()}
    indicators = (await client.get("/v1/indicators", params=params, headers=OPS)).json()
    assert indicators["total"]["poec"]["missions_overdue"] == 1

    before_end = await client.post(
        f"/v1/trainings/enrolments/{eid}/missions",
        json={
            "start_date": (TODAY - timedelta(days=120)).isoformat(),
            "end_date": (TODAY - timedelta(days=90)).isoformat(),
        },
        headers=COUNSELLOR,
    )
    assert before_end.status_code == 422
    assert before_end.json()["errors"][0]["field"] == "start_date"
    given = await client.post(
        f"/v1/trainings/enrolments/{eid}/missions",
        json={
            "start_date": (TODAY - timedelta(days=20)).isoformat(),
            "end_date": (TODAY - timedelta(days=5)).isoformat(),
        },
        headers=COUNSELLOR,
    )
    assert given.status_code == 201, given.text
    assert given.json()["missions_given"] == 1
    assert given.json()["missions_overdue"] is False
    assert given.json()["first_mission_on"] == (TODAY - timedelta(days=20)).isoformat()
    indicators = (await client.get("/v1/indicators", params=params, headers=OPS)).json()
    assert indicators["total"]["poec"]["missions_overdue"] == 0
    # A longer follow-up setting: not flagged either way.
    app.state.runtime.settings.poec_missions_follow_up_days = 365
    other = await _poec_enrolment(client, temporary_work=True)
    assert (await _complete(client, other, hired=False)).json()["missions_overdue"] is False


# -- a party's error report tells the prescriber at once --------------------------------------
async def test_an_error_reported_on_the_signing_page_tells_the_prescriber(
    client: httpx.AsyncClient, app: FastAPI, known_referral: KnownFactory
) -> None:
    cid = await _ready(client, known_referral)
    links = await _links(app, cid)
    reported = await client.post(
        f"{path_of(links['tutor'])}/erreur",
        content="message=Le+tuteur+est+Nadia+Benali%2C+pas+Benalli",
        headers=FORM,
    )
    assert reported.status_code == 303
    async with app.state.runtime.session() as session:
        [event] = await staged(session, cid, "coop.immersion.error_reported.v1")
    assert event["reported_by"] == "tutor"
    assert event["counsellor_id"] == "conseillere.leroy"
    assert "Benalli" not in str(event)  # what the party wrote stays here


# -- the link pages are rate limited, per client and per link ---------------------------------
async def test_the_link_pages_answer_429_in_french_past_their_rate(
    settings: DispositifsSettings,
) -> None:
    settings.link_pages_per_second_per_client = 0.001
    settings.link_pages_burst_per_client = 4
    settings.link_pages_per_second_per_link = 0.001
    settings.link_pages_burst_per_link = 2
    limited = create_app(settings)
    try:
        transport = httpx.ASGITransport(app=limited, client=("203.0.113.7", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://d.test") as client:
            referral = await _known(limited)
            body = full_content(referral_id=str(referral))
            created = await client.post("/v1/immersions", json=body, headers=creating(COUNSELLOR))
            cid = created.json()["id"]
            ready = await client.post(f"/v1/immersions/{cid}/ready", headers=COUNSELLOR)
            assert ready.status_code == 200, ready.text
            links = await _links(limited, cid)
            tutor, beneficiary = path_of(links["tutor"]), path_of(links["beneficiary"])
            # Per link: 2 at once, the third is refused (a forged or replayed link is the same).
            assert (await client.get(tutor)).status_code == 200
            assert (await client.get(tutor)).status_code == 200
            refused = await client.get(tutor)
            assert refused.status_code == 429
            assert refused.headers["content-type"].startswith("text/html")
            assert int(refused.headers["Retry-After"]) >= 1
            assert '<html lang="fr">' in refused.text
            assert "Trop de demandes" in refused.text
            # Per client: 4 in all from this address, whatever the link (the 5th is refused,
            # a POST as well as a GET).
            assert (await client.get(beneficiary)).status_code == 200
            signed = await client.post(f"{beneficiary}/signer", content="consent=oui", headers=FORM)
            assert signed.status_code == 429
        other = httpx.ASGITransport(app=limited, client=("198.51.100.9", 50000))
        async with httpx.AsyncClient(transport=other, base_url="http://d.test") as client:
            # Another client still opens its own link; the exhausted link stays refused.
            assert (await client.get(beneficiary)).status_code == 200
            assert (await client.get(tutor)).status_code == 429
    finally:
        await limited.state.runtime.stop()


async def _known(app: FastAPI) -> uuid.UUID:
    known = KnownReferral(
        referral_id=uuid.uuid4(),
        job_seeker_id=uuid.uuid4(),
        agency_id="agc-interim-nord-lille",
        network_id="interim-nord",
        rome_code="N1101",
        departement="59",
        structure_code=STRUCTURE,
        sent_at=datetime.now(UTC),
        recorded_at=datetime.now(UTC),
        status="sent",
    )
    async with app.state.runtime.database.transaction() as session:
        session.add(known)
    return known.referral_id


async def test_erasure_clears_the_referrals_priority_publics(
    app: FastAPI, known_referral: KnownFactory
) -> None:
    referral = await known_referral(priority_publics=["brsa", "senior"])
    other = await known_referral(priority_publics=["jeune"])
    async with app.state.runtime.database.transaction() as session:
        await erase_job_seeker(
            session,
            JobSeekerErasureRequested(
                erasure_id=uuid.uuid4(),
                job_seeker_id=referral.job_seeker_id,
                referral_ids=[referral.referral_id],
                requested_at=datetime.now(UTC),
            ),
        )
    async with app.state.runtime.session() as session:
        erased = await session.get(KnownReferral, referral.referral_id)
        kept = await session.get(KnownReferral, other.referral_id)
        assert erased is not None
        assert kept is not None
        assert erased.priority_publics is None
        assert kept.priority_publics == ["jeune"]

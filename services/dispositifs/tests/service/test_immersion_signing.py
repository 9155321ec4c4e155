"""Issue 13 over HTTP on the real store: each party signs through its own link (single-party,
expiring, re-sendable, reset by an edit), the counsellor signs for no one, the tutor assesses from
the last day on, reminders, incidents, the two-step review, the structured schedule and the
rules refused with their sources."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from dispositifs.domain.signing import LinkClaims, LinkPurpose, SignatoryRole, make_link_token
from dispositifs.models import KnownReferral
from dispositifs.use_cases.assessments import request_due_assessments
from shared.auth.tokens import Role

from .conftest import COUNSELLOR, VALIDATOR, bearer, creating
from .parties import current_links, path_of, staged, token_of
from .test_immersions_api import ENDED, TODAY, full_content, sign_by_links

KnownFactory = Callable[..., Awaitable[KnownReferral]]
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


async def _ready(client: httpx.AsyncClient, known: KnownFactory, **overrides: Any) -> str:
    referral = await known()
    body = full_content(overrides.pop("start", TODAY), referral_id=str(referral.referral_id))
    body.update(overrides)
    created = await client.post("/v1/immersions", json=body, headers=creating(COUNSELLOR))
    assert created.status_code == 201, created.text
    cid: str = created.json()["id"]
    ready = await client.post(f"/v1/immersions/{cid}/ready", headers=COUNSELLOR)
    assert ready.status_code == 200, ready.text
    return cid


async def _links(app: FastAPI, cid: str) -> dict[str, str]:
    async with app.state.runtime.session() as session:
        return await current_links(session, cid)


async def _sign(client: httpx.AsyncClient, url: str, consent: str = "oui") -> httpx.Response:
    return await client.post(f"{path_of(url)}/signer", content=f"consent={consent}", headers=FORM)


async def test_the_counsellor_cannot_sign_for_the_beneficiary(
    client: httpx.AsyncClient, known_referral: KnownFactory
) -> None:
    cid = await _ready(client, known_referral)
    refused = await client.post(
        f"/v1/immersions/{cid}/signatures", json={"signatory": "beneficiary"}, headers=COUNSELLOR
    )
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert "propre lien" in refused.json()["detail"]
    detail = (await client.get(f"/v1/immersions/{cid}", headers=COUNSELLOR)).json()
    assert detail["status"] == "ready_to_sign"
    assert all(s["signed_at"] is None for s in detail["signatories"])


async def test_each_party_gets_its_own_link_and_a_link_opens_only_its_party(
    client: httpx.AsyncClient, app: FastAPI, known_referral: KnownFactory
) -> None:
    cid = await _ready(client, known_referral)
    async with app.state.runtime.session() as session:
        [event] = await staged(session, cid, "coop.immersion.signature_requested.v1")
    assert event["reason"] == "ready"
    assert {(link["role"], link["email"]) for link in event["links"]} == {
        ("beneficiary", "camille.martin@example.org"),
        ("host_representative", "p.durand@entrepots.example"),
        ("tutor", "n.benali@entrepots.example"),
    }
    links = {link["role"]: link["url"] for link in event["links"]}
    assert len(set(links.values())) == 3
    page = await client.get(path_of(links["beneficiary"]))
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert '<html lang="fr">' in html
    assert "Bénéficiaire" in html
    assert '<label for="consent">' in html
    assert "<main" in html
    assert "Entrepôts du Nord" in html

    # Without ticking the box: refused, nothing recorded.
    unticked = await _sign(client, links["beneficiary"], consent="")
    assert unticked.status_code == 422
    assert "Cochez la case" in unticked.text
    signed = await _sign(client, links["beneficiary"])
    assert signed.status_code == 303
    again = await _sign(client, links["beneficiary"])
    assert again.status_code == 409
    detail = (await client.get(f"/v1/immersions/{cid}", headers=COUNSELLOR)).json()
    beneficiary = next(s for s in detail["signatories"] if s["role"] == "beneficiary")
    assert beneficiary["signed_at"] is not None
    assert detail["status"] == "partially_signed"
    assert detail["timeline"][-1]["actor"] == "signatory"
    assert detail["timeline"][-1]["actor_id"] == "beneficiary"
    assert [s["signed_at"] is None for s in detail["signatories"]] == [False, True, True]

    forged = path_of(links["tutor"])[:-3] + "abc"
    assert (await client.get(forged)).status_code == 403


async def test_a_link_expires(
    client: httpx.AsyncClient, app: FastAPI, known_referral: KnownFactory
) -> None:
    cid = await _ready(client, known_referral)
    settings = app.state.runtime.settings
    links = await _links(app, cid)
    token = token_of(links["tutor"])
    nonce_link = await client.get(f"/conventions/lien/{token}")
    assert nonce_link.status_code == 200
    payload = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    expired = make_link_token(
        settings.signing_link_key.get_secret_value(),
        LinkClaims(
            uuid.UUID(cid),
            SignatoryRole.TUTOR,
            LinkPurpose.SIGN,
            payload["n"],
            datetime.now(UTC) - timedelta(seconds=1),
        ),
    )
    page = await client.get(f"/conventions/lien/{expired}")
    assert page.status_code == 403
    assert "expiré" in page.text


async def test_a_resent_link_replaces_the_old_one_and_an_edit_resets_every_signature(
    client: httpx.AsyncClient, app: FastAPI, known_referral: KnownFactory
) -> None:
    cid = await _ready(client, known_referral)
    first = await _links(app, cid)
    assert (await _sign(client, first["beneficiary"])).status_code == 303

    resent = await client.post(f"/v1/immersions/{cid}/signatories/tutor/resend", headers=COUNSELLOR)
    assert resent.status_code == 200, resent.text
    now_links = await _links(app, cid)
    assert now_links["tutor"] != first["tutor"]
    old = await client.get(path_of(first["tutor"]))
    assert old.status_code == 403
    assert "remplacé" in old.text
    assert (await client.get(path_of(now_links["tutor"]))).status_code == 200
    signed_already = await client.post(
        f"/v1/immersions/{cid}/signatories/beneficiary/resend", headers=COUNSELLOR
    )
    assert signed_already.status_code == 409

    # The beneficiary points out an error; the counsellor corrects: every signature is reset.
    error = await client.post(
        f"{path_of(first['host_representative'])}/erreur",
        content="message=Le+SIRET+est+celui+du+siège",
        headers=FORM,
    )
    assert error.status_code == 303
    detail = (await client.get(f"/v1/immersions/{cid}", headers=COUNSELLOR)).json()
    host = next(s for s in detail["signatories"] if s["role"] == "host_representative")
    assert host["error_report"] == "Le SIRET est celui du siège"

    edited = await client.patch(
        f"/v1/immersions/{cid}", json={"place": "Entrepôt de Seclin"}, headers=COUNSELLOR
    )
    assert edited.status_code == 200, edited.text
    detail = (await client.get(f"/v1/immersions/{cid}", headers=COUNSELLOR)).json()
    assert detail["status"] == "ready_to_sign"
    assert all(s["signed_at"] is None for s in detail["signatories"])
    async with app.state.runtime.session() as session:
        events = await staged(session, cid, "coop.immersion.signature_requested.v1")
    assert [e["reason"] for e in events] == ["ready", "resent", "modified"]
    assert len(events[-1]["links"]) == 3  # every signatory is told
    assert (await client.get(path_of(first["beneficiary"]))).status_code == 403


async def test_the_tutor_assesses_from_the_last_day_through_their_link_with_reminders(
    client: httpx.AsyncClient, app: FastAPI, known_referral: KnownFactory
) -> None:
    cid = await _ready(client, known_referral, start=ENDED + timedelta(days=1))  # ends tomorrow
    await sign_by_links(client, app, cid)
    assert (
        await client.post(f"/v1/immersions/{cid}/validate", headers=COUNSELLOR)
    ).status_code == 200
    early = await client.post(
        f"/v1/immersions/{cid}/complete",
        json={"objectives_reached": True, "hired": False},
        headers=COUNSELLOR,
    )
    assert early.status_code == 409
    assert "dernier jour" in early.json()["detail"]
    asked = await client.post(f"/v1/immersions/{cid}/assessment-request", headers=COUNSELLOR)
    assert asked.status_code == 422
    assert asked.json()["violations"][0]["rule"] == "pmsmp.assessment.too_early"
    settings = app.state.runtime.settings
    async with app.state.runtime.database.transaction() as session:
        assert await request_due_assessments(session, settings) == 0
        # Tomorrow, the last day: the tutor gets the link; reminders follow, at most two.
        tomorrow = TODAY + timedelta(days=1)
        assert await request_due_assessments(session, settings, today=tomorrow) == 1
        assert await request_due_assessments(session, settings, today=tomorrow) == 0
    async with app.state.runtime.session() as session:
        [request] = await staged(session, cid, "coop.immersion.assessment_requested.v1")
    assert request["links"][0]["email"] == "n.benali@entrepots.example"
    assert request["reminder"] == 0
    page = await client.get(path_of(request["links"][0]["url"]))
    assert page.status_code == 200
    assert "Votre bilan" in page.text
    # Today is not the last day yet: the form is refused until then.
    form = "outcome=completed&objectives_reached=oui&job_offered=non"
    too_soon = await client.post(
        f"{path_of(request['links'][0]['url'])}/bilan", content=form, headers=FORM
    )
    assert too_soon.status_code == 422
    assert "dernier jour" in too_soon.text


async def test_the_tutor_assessment_completes_the_convention_and_an_incident_reaches_the_prescriber(
    client: httpx.AsyncClient, app: FastAPI, known_referral: KnownFactory
) -> None:
    cid = await _ready(client, known_referral, start=ENDED)
    await sign_by_links(client, app, cid)
    assert (
        await client.post(f"/v1/immersions/{cid}/validate", headers=COUNSELLOR)
    ).status_code == 200
    asked = await client.post(f"/v1/immersions/{cid}/assessment-request", headers=COUNSELLOR)
    assert asked.status_code == 200, asked.text
    async with app.state.runtime.session() as session:
        [request] = await staged(session, cid, "coop.immersion.assessment_requested.v1")
    base = path_of(request["links"][0]["url"])
    incomplete = await client.post(
        f"{base}/bilan",
        content="outcome=partially_completed&objectives_reached=non&job_offered=non",
        headers=FORM,
    )
    assert incomplete.status_code == 422
    assert "dernier jour de présence" in incomplete.text
    incident = await client.post(
        f"{base}/incident",
        content=f"kind=accident&occurred_on={TODAY.isoformat()}&description=Coupure+légère",
        headers=FORM,
    )
    assert incident.status_code == 303
    form = (
        "outcome=completed&objectives_reached=oui&job_offered=oui&job_contract_type=cdi"
        f"&job_start_date={(TODAY + timedelta(days=7)).isoformat()}&comment=Très+bien"
    )
    done = await client.post(f"{base}/bilan", content=form, headers=FORM)
    assert done.status_code == 303
    detail = (await client.get(f"/v1/immersions/{cid}", headers=COUNSELLOR)).json()
    assert detail["status"] == "completed"
    assert detail["assessment"]["outcome"] == "completed"
    assert detail["assessment"]["assessed_by"] == "tutor"
    assert detail["assessment"]["hired"] is True
    assert detail["assessment"]["job_contract_type"] == "cdi"
    assert detail["incidents"][0]["kind"] == "accident"
    async with app.state.runtime.session() as session:
        [completed] = await staged(session, cid, "coop.immersion.completed.v1")
        [reported] = await staged(session, cid, "coop.immersion.incident_reported.v1")
    assert (completed["outcome"], completed["hired"]) == ("completed", True)
    assert reported["counsellor_id"] == "conseillere.leroy"
    assert "Coupure" not in str(reported)  # the description stays here
    twice = await client.post(f"{base}/bilan", content=form, headers=FORM)
    assert twice.status_code == 409

    # The beneficiary reads the assessment through a new link of their own and acknowledges it.
    async with app.state.runtime.session() as session:
        [shared] = await staged(session, cid, "coop.immersion.assessment_shared.v1")
    assert shared["links"][0]["email"] == "camille.martin@example.org"
    reading = await client.get(path_of(shared["links"][0]["url"]))
    assert reading.status_code == 200
    assert "Immersion réalisée en totalité" in reading.text
    seen = await client.post(f"{path_of(shared['links'][0]['url'])}/vu")
    assert seen.status_code == 303
    detail = (await client.get(f"/v1/immersions/{cid}", headers=COUNSELLOR)).json()
    assert detail["assessment"]["acknowledged_at"] is not None
    assert (await client.post(f"{path_of(shared['links'][0]['url'])}/vu")).status_code == 409


@pytest.fixture
async def two_step_app(app: FastAPI) -> FastAPI:
    app.state.runtime.settings.pmsmp_two_step_review_structures = ["59350"]
    return app


async def test_two_step_review_needs_another_counsellor_to_validate(
    client: httpx.AsyncClient, two_step_app: FastAPI, known_referral: KnownFactory
) -> None:
    cid = await _ready(client, known_referral)
    await sign_by_links(client, two_step_app, cid)
    pre = await client.post(f"/v1/immersions/{cid}/validate", headers=COUNSELLOR)
    assert pre.status_code == 200
    assert pre.json()["status"] == "signed"
    assert pre.json()["pre_validation"]["by"] == "conseillere.leroy"
    # The decision is a validator's: neither the counsellor who pre-validated nor another
    # counsellor of the structure without the validator claim may take it.
    same = await client.post(f"/v1/immersions/{cid}/validate", headers=COUNSELLOR)
    assert same.status_code == 403
    assert same.json()["type"].endswith("/validator-required")
    assert "valideur" in same.json()["detail"]
    colleague = bearer(Role.COUNSELLOR, "conseiller.martin", ft_structure="59350")
    not_validator = await client.post(f"/v1/immersions/{cid}/validate", headers=colleague)
    assert not_validator.status_code == 403
    assert not_validator.json()["type"].endswith("/validator-required")
    still = (await client.get(f"/v1/immersions/{cid}", headers=COUNSELLOR)).json()
    assert (still["status"], still["pre_validation"]["by"]) == ("signed", "conseillere.leroy")
    done = await client.post(f"/v1/immersions/{cid}/validate", headers=VALIDATOR)
    assert done.status_code == 200
    assert done.json()["status"] == "validated"
    assert done.json()["validated_by"] == "valideur.dupont"


async def test_two_step_review_the_validator_who_pre_validated_cannot_decide_as_well(
    client: httpx.AsyncClient, two_step_app: FastAPI, known_referral: KnownFactory
) -> None:
    cid = await _ready(client, known_referral)
    await sign_by_links(client, two_step_app, cid)
    pre = await client.post(f"/v1/immersions/{cid}/validate", headers=VALIDATOR)
    assert pre.status_code == 200, pre.text
    assert (pre.json()["status"], pre.json()["pre_validation"]["by"]) == (
        "signed",
        "valideur.dupont",
    )
    same = await client.post(f"/v1/immersions/{cid}/validate", headers=VALIDATOR)
    assert same.status_code == 403
    assert same.json()["type"].endswith("/two-step-review")
    assert "autre conseiller" in same.json()["detail"]
    other = bearer(Role.COUNSELLOR, "valideuse.petit", ft_structure="59350", pmsmp_validator=True)
    done = await client.post(f"/v1/immersions/{cid}/validate", headers=other)
    assert done.status_code == 200, done.text
    assert done.json()["validated_by"] == "valideuse.petit"


async def test_without_two_step_review_any_counsellor_of_the_structure_validates_at_once(
    client: httpx.AsyncClient, known_referral: KnownFactory, app: FastAPI
) -> None:
    assert not app.state.runtime.settings.two_step_review("59350")
    cid = await _ready(client, known_referral)
    await sign_by_links(client, app, cid)
    done = await client.post(f"/v1/immersions/{cid}/validate", headers=COUNSELLOR)
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["pre_validation"]) == ("validated", None)
    assert done.json()["validated_by"] == "conseillere.leroy"


async def test_two_step_review_any_counsellor_of_the_structure_may_reject_with_a_justification(
    client: httpx.AsyncClient, two_step_app: FastAPI, known_referral: KnownFactory
) -> None:
    """immersion-facile lets the agency's counsellors reject as well as its validators, also
    after the pre-validation: only the decision to validate is the validator's."""
    cid = await _ready(client, known_referral)
    await sign_by_links(client, two_step_app, cid)
    pre = await client.post(f"/v1/immersions/{cid}/validate", headers=COUNSELLOR)
    assert pre.json()["pre_validation"]["by"] == "conseillere.leroy"
    colleague = bearer(Role.COUNSELLOR, "conseiller.martin", ft_structure="59350")
    refused = await client.post(
        f"/v1/immersions/{cid}/reject",
        json={"justification": "Objectifs trop éloignés du projet"},
        headers=colleague,
    )
    assert refused.status_code == 200, refused.text
    assert refused.json()["status"] == "rejected"
    detail = (await client.get(f"/v1/immersions/{cid}", headers=COUNSELLOR)).json()
    last = detail["timeline"][-1]
    assert (last["to_status"], last["actor_id"]) == ("rejected", "conseiller.martin")
    assert last["comment"] == "Objectifs trop éloignés du projet"
    # A rejected convention is decided: no validator may validate it afterwards.
    late = await client.post(f"/v1/immersions/{cid}/validate", headers=VALIDATOR)
    assert late.status_code == 409


async def test_a_structured_schedule_gives_the_hours_and_the_caps_by_age_are_refused_with_source(
    client: httpx.AsyncClient, known_referral: KnownFactory
) -> None:
    referral = await known_referral()
    day = {"periods": [{"start": "08:00", "end": "12:00"}, {"start": "13:00", "end": "16:00"}]}
    plan = [{"day": d, **day} for d in ("monday", "tuesday", "wednesday", "thursday", "friday")]
    body = full_content(referral_id=str(referral.referral_id), schedule_plan=plan)
    created = await client.post("/v1/immersions", json=body, headers=creating(COUNSELLOR))
    assert created.status_code == 201, created.text
    assert created.json()["weekly_hours"] == 35
    assert created.json()["daily_hours"]["monday"] == 7

    long_day = [{"day": "monday", "periods": [{"start": "07:00", "end": "18:00"}]}]
    refused = await client.post(
        "/v1/immersions",
        json=full_content(referral_id=str(referral.referral_id), schedule_plan=long_day),
        headers=creating(COUNSELLOR),
    )
    assert refused.status_code == 422
    assert refused.json()["violations"][0]["rule"] == "pmsmp.daily_hours"
    assert refused.json()["article"] == "Code du travail, art. L3121-18"

    young = full_content(referral_id=str(referral.referral_id), weekly_hours=36)
    young["beneficiary"]["birth_date"] = (TODAY - timedelta(days=17 * 366)).isoformat()
    minor = await client.post("/v1/immersions", json=young, headers=creating(COUNSELLOR))
    assert minor.status_code == 422
    assert minor.json()["article"] == "Code du travail, art. L3162-1"


async def test_ready_needs_the_host_declarations_and_a_minors_legal_representative(
    client: httpx.AsyncClient, known_referral: KnownFactory
) -> None:
    referral = await known_referral()
    body = full_content(referral_id=str(referral.referral_id), weekly_hours=35)
    body["host_declarations"] = {**body["host_declarations"], "not_seasonal_job": False}
    body["beneficiary"]["birth_date"] = (TODAY - timedelta(days=17 * 366)).isoformat()
    cid = (await client.post("/v1/immersions", json=body, headers=creating(COUNSELLOR))).json()[
        "id"
    ]
    refused = await client.post(f"/v1/immersions/{cid}/ready", headers=COUNSELLOR)
    assert refused.status_code == 422
    rules = {v["rule"]: v["article"] for v in refused.json()["violations"]}
    assert rules == {
        "pmsmp.not_allowed_use": "Code du travail, art. L5135-4",
        "pmsmp.parties.legal_representative": "Code du travail, art. L5135-4 ; "
        "Code du travail, art. D5135-1",
    }
    fixed = await client.patch(
        f"/v1/immersions/{cid}",
        json={
            "host_declarations": {**body["host_declarations"], "not_seasonal_job": True},
            "legal_representative": {"name": "Marie Martin", "email": "marie@example.org"},
        },
        headers=COUNSELLOR,
    )
    assert fixed.status_code == 200, fixed.text
    assert (await client.post(f"/v1/immersions/{cid}/ready", headers=COUNSELLOR)).status_code == 200


async def test_a_renewal_is_prefilled_follows_the_original_and_is_justified_d5135_3(
    client: httpx.AsyncClient, app: FastAPI, known_referral: KnownFactory
) -> None:
    cid = await _ready(client, known_referral, start=ENDED)  # ends today
    await sign_by_links(client, app, cid)
    assert (await client.post(f"/v1/immersions/{cid}/validate", headers=COUNSELLOR)).is_success
    assert (await client.post(f"/v1/immersions/{cid}/start", headers=COUNSELLOR)).is_success
    completed = await client.post(
        f"/v1/immersions/{cid}/complete",
        json={"objectives_reached": False, "hired": False},
        headers=COUNSELLOR,
    )
    assert completed.status_code == 200, completed.text

    async def renew(start_in: int, days: int, why: str = "Objectifs non atteints") -> Any:
        start = TODAY + timedelta(days=start_in)
        body = {
            "start_date": start.isoformat(),
            "end_date": (start + timedelta(days=days - 1)).isoformat(),
            "justification": why,
        }
        return await client.post(
            f"/v1/immersions/{cid}/renewal", json=body, headers=creating(COUNSELLOR)
        )

    overlapping = await renew(0, 10)  # starts on the original's last day
    assert overlapping.status_code == 422
    assert [v["rule"] for v in overlapping.json()["violations"]] == ["pmsmp.renewal.dates"]
    assert overlapping.json()["article"] == "Code du travail, art. D5135-3"
    unjustified = await client.post(
        f"/v1/immersions/{cid}/renewal",
        json={"start_date": TODAY.isoformat(), "end_date": TODAY.isoformat(), "justification": ""},
        headers=creating(COUNSELLOR),
    )
    assert unjustified.status_code == 422
    renewal = await renew(1, 10)  # the day after: allowed
    assert renewal.status_code == 201, renewal.text
    original = (await client.get(f"/v1/immersions/{cid}", headers=COUNSELLOR)).json()
    assert renewal.json()["renewal_of"] == cid
    assert renewal.json()["objectives"] == original["objectives"]
    assert renewal.json()["objet"] == original["objet"]
    assert renewal.json()["host"] == original["host"]
    assert renewal.json()["renewal_justification"] == "Objectifs non atteints"
    # The objectives are kept: changing them on the renewal is refused.
    changed = await client.patch(
        f"/v1/immersions/{renewal.json()['id']}",
        json={"objectives": "Découvrir un autre métier"},
        headers=COUNSELLOR,
    )
    assert changed.status_code == 422
    assert changed.json()["violations"][0]["rule"] == "pmsmp.renewal.objectives"

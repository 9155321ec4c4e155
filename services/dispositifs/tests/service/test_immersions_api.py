"""The counsellor's PMSMP API over the real store: lifecycle, rules refused with their article,
idempotency, pagination, scopes, outbox events and indicators."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from dispositifs.models import PLATFORM, KnownReferral

from .conftest import COUNSELLOR, OPS, OTHER_COUNSELLOR, creating
from .parties import BENEFICIARY_EMAIL, PARTIES_BODY, current_links, path_of

TODAY = datetime.now(UTC).date()
KnownFactory = Callable[..., Awaitable[KnownReferral]]


def full_content(start: date = TODAY, days: int = 14, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "objet": "start_recruitment",
        "start_date": start.isoformat(),
        "end_date": (start + timedelta(days=days - 1)).isoformat(),
        "weekly_hours": 35,
        "schedule": "Du lundi au vendredi, 8h-12h et 13h-16h",
        "place": "Entrepôt de Lesquin",
        "objectives": "Vérifier l'aisance à la conduite de chariot en entrepôt",
        "evaluation_method": "Grille d'évaluation remplie par le tuteur en fin d'immersion",
        "tasks": "Préparation de commandes, cariste (avec CACES), inventaire",
        "prescriber": {"kind": "france_travail", "name": "France Travail Lille Centre"},
        "beneficiary": {
            "first_name": "Camille",
            "last_name": "Martin",
            "birth_date": "1995-04-12",
            "professional_situation": "Demandeuse d'emploi",
            "brsa": False,
        },
        "host": {
            "name": "Entrepôts du Nord",
            "siret": "73282932000074",
            "address": "3 rue de l'Industrie, 59810 Lesquin",
            "legal_form": "SAS",
            "activity": "Logistique",
            "collective_agreement": "Transports routiers (IDCC 16)",
        },
        "tutor": {
            "name": "Nadia Benali",
            "function": "Cheffe d'équipe",
            "email": "n.benali@entrepots.example",
        },
        "support": {"structure": "France Travail Lille Centre", "referent": "Mme Leroy"},
        **PARTIES_BODY,
    }
    body["beneficiary"]["email"] = BENEFICIARY_EMAIL
    body.update(overrides)
    return body


#: A convention whose last day is today: it can be completed (issue 13).
ENDED = TODAY - timedelta(days=13)


async def _create(client: httpx.AsyncClient, body: dict[str, Any], **kw: Any) -> httpx.Response:
    return await client.post("/v1/immersions", json=body, headers=creating(COUNSELLOR), **kw)


async def _step(client: httpx.AsyncClient, convention_id: str, step: str, **body: Any) -> Any:
    response = await client.post(
        f"/v1/immersions/{convention_id}/{step}", json=body or None, headers=COUNSELLOR
    )
    return response


async def sign_by_links(client: httpx.AsyncClient, app: FastAPI, convention_id: str) -> None:
    """Each party opens its own link (from the staged mail event) and signs on its page."""
    async with app.state.runtime.session() as session:
        links = await current_links(session, convention_id)
    assert links
    for url in links.values():
        page = await client.get(path_of(url))
        assert page.status_code == 200, page.text
        signed = await client.post(
            f"{path_of(url)}/signer",
            content="consent=oui",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert signed.status_code == 303, signed.text


async def _through_validation(
    client: httpx.AsyncClient, convention_id: str, app: FastAPI | None = None
) -> None:
    assert (await _step(client, convention_id, "ready")).status_code == 200
    assert app is not None, "signing needs the app's outbox (the parties' links)"
    await sign_by_links(client, app, convention_id)
    response = await _step(client, convention_id, "validate")
    assert response.status_code == 200, response.text


async def _outbox(app: FastAPI) -> list[Any]:
    async with app.state.runtime.session() as session:
        return list((await session.execute(select(PLATFORM.outbox).order_by("id"))).all())


async def test_a_convention_goes_from_request_to_completion_with_each_step_logged_and_published(
    client: httpx.AsyncClient, app: FastAPI, known_referral: KnownFactory
) -> None:
    referral = await known_referral()
    created = await _create(client, full_content(ENDED, referral_id=str(referral.referral_id)))
    assert created.status_code == 201, created.text
    convention = created.json()
    assert convention["status"] == "requested"
    assert convention["job_seeker_id"] == str(referral.job_seeker_id)
    assert convention["region_code"] == "32"  # Nord → Hauts-de-France
    cid = convention["id"]

    await _through_validation(client, cid, app)
    assert (await _step(client, cid, "start")).json()["status"] == "in_progress"
    done = await _step(client, cid, "complete", objectives_reached=True, hired=True)
    assert done.json()["status"] == "completed"
    assert done.json()["assessment"]["hired"] is True

    detail = (await client.get(f"/v1/immersions/{cid}", headers=COUNSELLOR)).json()
    assert [s["to_status"] for s in detail["timeline"]] == [
        "requested",
        "ready_to_sign",
        "partially_signed",  # the beneficiary, by their link
        "partially_signed",  # the host's representative
        "signed",  # the tutor, the last party
        "validated",
        "in_progress",
        "completed",
    ]
    signers = [s["actor_id"] for s in detail["timeline"] if s["actor"] == "signatory"]
    assert signers == ["beneficiary", "host_representative", "tutor"]
    assert all(s["signed_at"] for s in detail["signatories"])
    rows = await _outbox(app)
    assert [(r.event_type, r.key, r.topic) for r in rows] == [
        ("coop.immersion.requested.v1", cid, "dispositifs.events"),
        ("coop.immersion.signature_requested.v1", cid, "dispositifs.events"),
        ("coop.immersion.signed.v1", cid, "dispositifs.events"),
        ("coop.immersion.validated.v1", cid, "dispositifs.events"),
        ("coop.immersion.completed.v1", cid, "dispositifs.events"),
    ]
    assert rows[-1].data["referral_id"] == str(referral.referral_id)
    assert rows[-1].data["hired"] is True
    assert "first_name" not in str(rows[0].data)  # no identity on the internal topic


async def test_a_31_day_convention_is_a_problem_citing_the_national_tools_rule(
    client: httpx.AsyncClient, known_referral: KnownFactory
) -> None:
    referral = await known_referral()
    ok = await _create(client, full_content(days=30, referral_id=str(referral.referral_id)))
    assert ok.status_code == 201, ok.text
    response = await _create(
        client, full_content(days=31, referral_id=str(referral.referral_id), objectives="Autre")
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["errors"][0]["field"] == "end_date"
    # Depending on today's month, "1 month date to date" (D5135-3) may be broken as well; the
    # 30 calendar days are the national tool's rule, never cited as an article of the law.
    by_rule = {v["rule"]: v for v in problem["violations"]}
    assert by_rule["pmsmp.duration.days"]["article"] == "règle de l'outil national immersion-facile"
    assert "règle de l'outil national immersion-facile" in problem["detail"]
    if "pmsmp.duration.month" in by_rule:
        assert by_rule["pmsmp.duration.month"]["article"] == "Code du travail, art. D5135-3"


@pytest.mark.parametrize(
    ("overrides", "field", "article"),
    [
        ({"weekly_hours": 49}, "weekly_hours", "L3121-20"),
        (
            {"beneficiary": {"birth_date": (TODAY - timedelta(days=365 * 15)).isoformat()}},
            "beneficiary.birth_date",
            "L4153-1",
        ),
        ({"prescriber": {"kind": "etti", "name": "ETTI du Nord"}}, "prescriber.kind", "L5135-2"),
        ({"tutor": {"name": "", "function": "Chef"}}, "tutor.name", "D5135-2"),
    ],
    ids=["49h", "15-years-old", "etti", "no-tutor"],
)
async def test_each_rule_is_refused_with_its_field_and_article(
    client: httpx.AsyncClient,
    known_referral: KnownFactory,
    overrides: dict[str, Any],
    field: str,
    article: str,
) -> None:
    referral = await known_referral()
    response = await _create(
        client, full_content(referral_id=str(referral.referral_id), **overrides)
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert [e["field"] for e in problem["errors"]] == [field]
    assert article in problem["article"]


async def test_ready_to_sign_needs_the_mandatory_content_of_d5135_2(
    app: FastAPI, client: httpx.AsyncClient, known_referral: KnownFactory
) -> None:
    referral = await known_referral()
    minimal = {
        "referral_id": str(referral.referral_id),
        "objet": "discover",
        "start_date": TODAY.isoformat(),
        "end_date": (TODAY + timedelta(days=4)).isoformat(),
        "host": {"name": "Entrepôts du Nord", "siret": "73282932000074"},
        "tutor": {"name": "Nadia Benali"},
    }
    cid = (await _create(client, minimal)).json()["id"]
    refused = await _step(client, cid, "ready")
    assert refused.status_code == 422
    fields = {e["field"] for e in refused.json()["errors"]}
    assert {"beneficiary.birth_date", "host.collective_agreement", "tutor.function"} <= fields
    assert refused.json()["article"] == "Code du travail, art. D5135-2"

    content = full_content(days=5)
    patch = {k: v for k, v in content.items() if k not in {"objet", "start_date", "end_date"}}
    patched = await client.patch(f"/v1/immersions/{cid}", json=patch, headers=COUNSELLOR)
    assert patched.status_code == 200, patched.text
    assert (await _step(client, cid, "ready")).json()["status"] == "ready_to_sign"
    # Issue 13: once ready to sign, an edit is still possible; it resets the signatures and every
    # party is sent a new link (``signature_requested``, reason ``modified``).
    again = await client.patch(f"/v1/immersions/{cid}", json={"place": "X"}, headers=COUNSELLOR)
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "ready_to_sign"
    rows = [r for r in await _outbox(app) if r.event_type.endswith("signature_requested.v1")]
    assert [r.data["reason"] for r in rows] == ["ready", "modified"]


async def test_a_third_convention_with_the_same_beneficiary_and_host_is_refused(
    client: httpx.AsyncClient, known_referral: KnownFactory
) -> None:
    referral = await known_referral()
    rid = str(referral.referral_id)
    for n in range(2):
        start = TODAY + timedelta(days=20 * n)
        body = full_content(start, days=5, referral_id=rid, objectives=f"Objectif {n}")
        assert (await _create(client, body)).status_code == 201
    third = await _create(
        client, full_content(TODAY + timedelta(days=60), 5, referral_id=rid, objectives="Trois")
    )
    assert third.status_code == 422
    assert third.json()["violations"][0]["rule"] == "pmsmp.pair.count"


async def test_one_renewal_only_and_only_when_the_objectives_were_not_reached(
    client: httpx.AsyncClient, known_referral: KnownFactory, app: FastAPI
) -> None:
    referral = await known_referral()
    rid = str(referral.referral_id)
    original = (
        await _create(client, full_content(TODAY - timedelta(days=9), days=10, referral_id=rid))
    ).json()["id"]
    why = {"renewal_justification": "Objectifs non atteints : deux semaines de plus"}
    too_early = await _create(
        client, full_content(TODAY + timedelta(days=10), 5, renewal_of=original, **why)
    )
    assert too_early.json()["violations"][0]["rule"] == "pmsmp.renewal.assessment"

    await _through_validation(client, original, app)
    await _step(client, original, "start")
    await _step(client, original, "complete", objectives_reached=False, hired=False)
    renewal = await _create(
        client, full_content(TODAY + timedelta(days=10), 10, renewal_of=original, **why)
    )
    assert renewal.status_code == 201, renewal.text
    assert renewal.json()["renewal_of"] == original
    assert renewal.json()["job_seeker_id"] == str(referral.job_seeker_id)

    second = await _create(
        client, full_content(TODAY + timedelta(days=25), 5, renewal_of=original, **why)
    )
    assert second.status_code == 422
    assert second.json()["violations"][0]["rule"] == "pmsmp.renewal.once"
    other_objet = await _create(
        client,
        full_content(
            TODAY + timedelta(days=25),
            5,
            renewal_of=renewal.json()["id"],
            objet="discover",
            **why,
        ),
    )
    assert {v["rule"] for v in other_objet.json()["violations"]} >= {
        "pmsmp.renewal.once",
        "pmsmp.renewal.objet",
    }


async def test_a_completed_convention_cannot_be_cancelled_and_cancelling_needs_a_justification(
    client: httpx.AsyncClient, known_referral: KnownFactory, app: FastAPI
) -> None:
    referral = await known_referral()
    cid = (
        await _create(client, full_content(ENDED, referral_id=str(referral.referral_id)))
    ).json()["id"]
    no_reason = await client.post(f"/v1/immersions/{cid}/cancel", json={}, headers=COUNSELLOR)
    assert no_reason.status_code == 422
    await _through_validation(client, cid, app)
    await _step(client, cid, "start")
    await _step(client, cid, "complete", objectives_reached=True, hired=False)
    refused = await _step(client, cid, "cancel", justification="Erreur de saisie")
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"

    other = (
        await _create(
            client,
            full_content(
                TODAY + timedelta(days=40),
                5,
                referral_id=str(referral.referral_id),
                objectives="Autre",
            ),
        )
    ).json()["id"]
    cancelled = await _step(
        client, other, "cancel", justification="Le bénéficiaire a trouvé un emploi"
    )
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["justification"] == "Le bénéficiaire a trouvé un emploi"
    rows = await _outbox(app)
    assert rows[-1].event_type == "coop.immersion.cancelled.v1"
    assert rows[-1].data["justification"] == "Le bénéficiaire a trouvé un emploi"


async def test_same_idempotency_key_creates_one_convention(
    client: httpx.AsyncClient, known_referral: KnownFactory
) -> None:
    referral = await known_referral()
    body = full_content(referral_id=str(referral.referral_id))
    headers = creating(COUNSELLOR)
    first = await client.post("/v1/immersions", json=body, headers=headers)
    second = await client.post("/v1/immersions", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert second.headers["Idempotent-Replayed"] == "true"
    other = await client.post("/v1/immersions", json={**body, "weekly_hours": 30}, headers=headers)
    assert other.status_code == 422
    assert other.json()["errors"][0]["field"] == "Idempotency-Key"
    missing = await client.post("/v1/immersions", json=body, headers=COUNSELLOR)
    assert missing.status_code == 422


async def test_listing_pages_with_a_cursor_and_counsellors_see_their_structure_only(
    client: httpx.AsyncClient, known_referral: KnownFactory
) -> None:
    ids = []
    for _ in range(3):
        referral = await known_referral()
        ids.append(
            (await _create(client, full_content(referral_id=str(referral.referral_id)))).json()[
                "id"
            ]
        )
    first = (await client.get("/v1/immersions", params={"limit": 2}, headers=COUNSELLOR)).json()
    assert len(first["items"]) == 2
    assert first["next_cursor"]
    second = (
        await client.get(
            "/v1/immersions",
            params={"limit": 2, "cursor": first["next_cursor"]},
            headers=COUNSELLOR,
        )
    ).json()
    assert second["next_cursor"] is None
    seen = [item["id"] for item in first["items"] + second["items"]]
    assert sorted(seen) == sorted(ids)
    assert seen == list(reversed(ids))  # newest first

    other = await client.get("/v1/immersions", headers=OTHER_COUNSELLOR)
    assert other.json()["items"] == []
    assert (
        await client.get(f"/v1/immersions/{ids[0]}", headers=OTHER_COUNSELLOR)
    ).status_code == 404
    assert (await client.get(f"/v1/immersions/{ids[0]}", headers=OPS)).status_code == 200
    bad = await client.get("/v1/immersions", params={"cursor": "nope"}, headers=COUNSELLOR)
    assert bad.status_code == 422


async def test_indicators_count_bookings_completions_and_hires_by_region(
    client: httpx.AsyncClient, known_referral: KnownFactory, app: FastAPI
) -> None:
    hired_ref = await known_referral(departement="59")
    lyon_ref = await known_referral(departement="69")
    hired = (
        await _create(client, full_content(ENDED, referral_id=str(hired_ref.referral_id)))
    ).json()["id"]
    await _through_validation(client, hired, app)
    await _step(client, hired, "start")
    await _step(client, hired, "complete", objectives_reached=True, hired=True)
    await _create(client, full_content(referral_id=str(lyon_ref.referral_id)))

    params = {
        "from": (ENDED - timedelta(days=1)).isoformat(),
        "to": (TODAY + timedelta(days=1)).isoformat(),
    }
    body = (await client.get("/v1/indicators", params=params, headers=OPS)).json()
    regions = {row["region_code"]: row for row in body["regions"]}
    assert regions["32"]["region_name"] == "Hauts-de-France"
    assert regions["32"]["immersions"] | {} == {
        "requested": 1,
        "rejected": 0,
        "booked": 1,
        "completed": 1,
        "objectives_reached": 1,
        "hired_after": 1,
        "completion_rate": 1.0,
        "hired_rate": 1.0,
    }
    assert regions["84"]["immersions"]["requested"] == 1
    assert regions["84"]["immersions"]["booked"] == 0
    assert body["total"]["immersions"]["requested"] == 2
    only_84 = (
        await client.get("/v1/indicators", params={**params, "region": "84"}, headers=OPS)
    ).json()
    assert [row["region_code"] for row in only_84["regions"]] == ["84"]
    later = {
        "from": (TODAY + timedelta(days=100)).isoformat(),
        "to": (TODAY + timedelta(days=200)).isoformat(),
    }
    assert (await client.get("/v1/indicators", params=later, headers=OPS)).json()["regions"] == []


async def test_a_convention_of_an_unknown_referral_or_without_beneficiary_is_refused(
    client: httpx.AsyncClient,
) -> None:
    unknown = await _create(client, full_content(referral_id=str(uuid.uuid4())))
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "referral_id"
    nobody = await _create(client, full_content())
    assert nobody.json()["errors"][0]["field"] == "job_seeker_id"
    direct = await _create(client, full_content(job_seeker_id=str(uuid.uuid4())))
    assert direct.status_code == 201


async def test_the_start_job_starts_each_due_validated_convention_once(
    client: httpx.AsyncClient, app: FastAPI, known_referral: KnownFactory
) -> None:
    from dispositifs.use_cases.immersions import start_due_conventions

    due = await known_referral()
    later = await known_referral()
    first = await _create(client, full_content(TODAY, referral_id=str(due.referral_id)))
    second = await _create(
        client,
        full_content(TODAY + timedelta(days=3), referral_id=str(later.referral_id)),
    )
    for created in (first, second):
        assert created.status_code == 201, created.text
        await _through_validation(client, created.json()["id"], app)

    runtime = app.state.runtime
    async with runtime.database.transaction() as session:
        assert await start_due_conventions(session, runtime.settings) == 1
    async with runtime.database.transaction() as session:
        assert await start_due_conventions(session, runtime.settings) == 0  # already started

    started = (await client.get(f"/v1/immersions/{first.json()['id']}", headers=COUNSELLOR)).json()
    assert started["status"] == "in_progress"
    assert [s["to_status"] for s in started["timeline"]].count("in_progress") == 1
    assert started["timeline"][-1]["actor"] == "system"
    waiting = (await client.get(f"/v1/immersions/{second.json()['id']}", headers=COUNSELLOR)).json()
    assert waiting["status"] == "validated"

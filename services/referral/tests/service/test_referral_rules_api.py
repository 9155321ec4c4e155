"""Referral rules through the counsellor API over the real store: consent before sharing RQTH,
offers, one open referral per job seeker/agency/offer, withdrawal with a reason, filters, the
timeline with dispositifs events interleaved."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from referral.domain import Scheme
from referral.models import PLATFORM, Referral
from shared.auth.tokens import Role
from shared.contracts.vocabulary import DeclineReason

from ..answers import accepted, acknowledged, answer, at, declined, scheme_event
from ..conftest import bearer

COUNSELLOR = bearer(Role.COUNSELLOR, "conseiller.dupont", ft_structure="75101")
OPS = bearer(Role.OPS)
LILLE = "agc-interim-nord-lille"


def _key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def _body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "job_seeker": {"ft_identifier": "1234567A", "first_name": "Camille", "last_name": "Martin"},
        "agency_id": LILLE,
        "rome_code": "H2913",
        "message": "Profil motivé.",
    }
    body.update(overrides)
    return body


async def _post(client: httpx.AsyncClient, body: dict[str, Any]) -> httpx.Response:
    return await client.post("/v1/referrals", json=body, headers={**COUNSELLOR, **_key()})


async def _rqth_seeker(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.post(
        "/v1/job-seekers",
        json={"ft_identifier": "7777777R", "first_name": "Luc", "last_name": "Roy", "rqth": True},
        headers={**COUNSELLOR, **_key()},
    )
    return response.json()  # type: ignore[no-any-return]


async def test_rqth_is_shared_only_with_explicit_consent_for_that_agency(
    client: httpx.AsyncClient,
) -> None:
    seeker = await _rqth_seeker(client)
    body = _body(job_seeker=None, job_seeker_id=seeker["id"], share_rqth=True)
    body.pop("job_seeker")

    refused = await _post(client, body)
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["errors"][0]["field"] == "share_rqth"

    consents = f"/v1/job-seekers/{seeker['id']}/consents"
    # Consent for another agency does not count.
    await client.post(
        consents,
        json={"agency_id": "agc-interim-nord-arras", "scope": "rqth", "channel": "in_person"},
        headers={**COUNSELLOR, **_key()},
    )
    assert (await _post(client, body)).status_code == 422
    # Consent to share the identity is not consent to share the RQTH.
    await client.post(
        consents,
        json={"agency_id": LILLE, "scope": "identity", "channel": "in_person"},
        headers={**COUNSELLOR, **_key()},
    )
    assert (await _post(client, body)).status_code == 422

    consent = (
        await client.post(
            consents,
            json={"agency_id": LILLE, "scope": "rqth", "channel": "in_person"},
            headers={**COUNSELLOR, **_key()},
        )
    ).json()
    created = await _post(client, {**body, "share_identity": True})
    assert created.status_code == 201, created.text
    assert created.json()["rqth_shared"] is True
    assert created.json()["identity_shared"] is True
    assert "rqth" in created.json()["priority_publics"]

    # Once the consent is withdrawn, a new referral may no longer share the RQTH.
    await client.post(f"{consents}/{consent['id']}/withdraw", headers=COUNSELLOR)
    withdraw = await client.post(
        f"/v1/referrals/{created.json()['id']}/withdraw",
        json={"reason": "test"},
        headers=COUNSELLOR,
    )
    assert withdraw.status_code == 200
    assert (await _post(client, body)).status_code == 422


async def test_identity_is_shared_only_with_consent(client: httpx.AsyncClient) -> None:
    response = await _post(client, _body(share_identity=True))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "share_identity"


async def test_sharing_rqth_of_someone_without_rqth_is_refused(client: httpx.AsyncClient) -> None:
    response = await _post(client, _body(share_rqth=True))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "share_rqth"


async def test_a_job_seeker_is_given_inline_or_by_id_not_both_nor_neither(
    client: httpx.AsyncClient,
) -> None:
    neither = _body()
    neither.pop("job_seeker")
    both = _body(job_seeker_id=str(uuid.uuid4()))
    for body in (neither, both):
        response = await _post(client, body)
        assert response.status_code == 422
    unknown = _body(job_seeker_id=str(uuid.uuid4()))
    unknown.pop("job_seeker")
    response = await _post(client, unknown)
    assert response.json()["errors"][0]["field"] == "job_seeker_id"


async def _offer(client: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    body = {
        "title": "Soudeur",
        "rome_code": "H2913",
        "departement": "62",
        "contract_type": "mission",
        "hard_to_fill": True,
        "hard_to_fill_source": "offer_flag",
        **overrides,
    }
    response = await client.post("/v1/offers", json=body, headers={**COUNSELLOR, **_key()})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_a_referral_for_an_offer_takes_its_rome_code_and_territory(
    client: httpx.AsyncClient,
) -> None:
    offer = await _offer(client)
    body = _body(offer_id=offer["id"])
    body.pop("rome_code")
    created = await _post(client, body)
    assert created.status_code == 201, created.text
    referral = created.json()
    assert (referral["rome_code"], referral["departement"], referral["offer_id"]) == (
        "H2913",
        "62",
        offer["id"],
    )
    mismatch = await _post(client, _body(offer_id=offer["id"], rome_code="N4101"))
    assert mismatch.status_code == 422
    assert mismatch.json()["errors"][0]["field"] == "rome_code"
    unknown = await _post(client, _body(offer_id=str(uuid.uuid4())))
    assert unknown.json()["errors"][0]["field"] == "offer_id"


async def test_one_open_referral_per_job_seeker_agency_and_offer(
    client: httpx.AsyncClient,
) -> None:
    first = await _post(client, _body())
    assert first.status_code == 201
    second = await _post(client, _body(message="Encore"))
    assert second.status_code == 409
    assert second.headers["content-type"] == "application/problem+json"
    assert second.json()["existing_referral_id"] == first.json()["id"]

    # Another agency, or a precise offer, is another referral.
    assert (await _post(client, _body(agency_id="agc-interim-nord-arras"))).status_code == 201
    offer_a, offer_b = await _offer(client), await _offer(client, title="Soudeur TIG")
    assert (await _post(client, _body(offer_id=offer_a["id"]))).status_code == 201
    assert (await _post(client, _body(offer_id=offer_b["id"]))).status_code == 201
    assert (await _post(client, _body(offer_id=offer_a["id"]))).status_code == 409

    # Once the first is closed (withdrawn), a new one may be sent.
    await client.post(
        f"/v1/referrals/{first.json()['id']}/withdraw",
        json={"reason": "Erreur d'agence"},
        headers=COUNSELLOR,
    )
    assert (await _post(client, _body())).status_code == 201


async def test_the_database_refuses_a_second_open_referral_too(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    created = (await _post(client, _body())).json()
    database = app.state.runtime.database
    async with database.sessionmaker() as session:
        original = await session.get(Referral, uuid.UUID(created["id"]))
        assert original is not None
        columns = {c.key: getattr(original, c.key) for c in Referral.__table__.columns}
    for status, refused in (("accepted", True), ("declined", False)):
        copy = {**columns, "id": uuid.uuid4(), "status": status}
        with pytest.raises(IntegrityError) if refused else _no_error():
            async with database.transaction() as session:
                session.add(Referral(**copy))


class _no_error:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return False


async def test_withdrawal_needs_a_reason_and_is_logged_and_published(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    created = (await _post(client, _body())).json()
    url = f"/v1/referrals/{created['id']}/withdraw"
    assert (await client.post(url, json={}, headers=COUNSELLOR)).json()["errors"][0][
        "field"
    ] == "reason"
    other = bearer(Role.COUNSELLOR, "conseiller.autre", ft_structure="13055")
    assert (await client.post(url, json={"reason": "x"}, headers=other)).status_code == 404
    assert (await client.post(url, json={"reason": "x"}, headers=OPS)).status_code == 403

    done = await client.post(url, json={"reason": "Le candidat a trouvé seul."}, headers=COUNSELLOR)
    assert done.status_code == 200
    assert done.json()["status"] == "withdrawn"
    again = await client.post(url, json={"reason": "Encore"}, headers=COUNSELLOR)
    assert again.status_code == 409

    detail = (await client.get(f"/v1/referrals/{created['id']}", headers=COUNSELLOR)).json()
    last = detail["timeline"][-1]
    assert (last["action"], last["actor"], last["reason"]) == (
        "withdraw",
        "counsellor",
        "Le candidat a trouvé seul.",
    )
    outbox = PLATFORM.outbox
    async with app.state.runtime.session() as session:
        rows = await session.execute(select(outbox).order_by(outbox.c.id))
        published = [(r.topic, r.event_type) for r in rows]
    assert published == [
        ("referral.events", "coop.referral.sent.v1"),
        ("agency.interim-nord.feed", "coop.agency.referral_received.v1"),
        ("referral.events", "coop.referral.withdrawn.v1"),
        # The agency learns it on its feed: stop processing this candidate.
        ("agency.interim-nord.feed", "coop.agency.referral_withdrawn.v1"),
    ]


async def test_listing_filters(client: httpx.AsyncClient, app: FastAPI) -> None:
    database = app.state.runtime.database
    young = {
        "ft_identifier": "8888888Y",
        "first_name": "Inès",
        "last_name": "Dia",
        "birth_date": "2005-01-01",
        "brsa": True,
    }
    a = (await _post(client, _body(job_seeker=young))).json()
    b = (await _post(client, _body(agency_id="agc-travail-plus-lyon", rome_code="N4101"))).json()
    no_position = declined(
        uuid.UUID(b["id"]), datetime.now(UTC), DeclineReason.NO_POSITION, agency=b["agency_id"]
    )
    await answer(database, no_position)

    async def ids(**params: Any) -> list[str]:
        response = await client.get("/v1/referrals", params=params, headers=COUNSELLOR)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert await ids(status="declined") == [b["id"]]
    assert await ids(status=["sent", "declined"]) == [b["id"], a["id"]]
    assert await ids(agency_id=LILLE) == [a["id"]]
    assert await ids(network_id="travail-plus") == [b["id"]]
    assert await ids(departement="59") == [a["id"]]
    assert await ids(region="84") == [b["id"]]
    assert await ids(rome_code="N4101") == [b["id"]]
    assert await ids(priority_public="jeune") == [a["id"]]
    assert await ids(priority_public="brsa") == [a["id"]]
    assert await ids(priority_public="senior") == []
    today = datetime.now(UTC).date()
    assert len(await ids(sent_from=today.isoformat(), sent_to=today.isoformat())) == 2
    assert await ids(sent_to=(today - timedelta(days=1)).isoformat()) == []
    bad = await client.get("/v1/referrals", params={"priority_public": "x"}, headers=COUNSELLOR)
    assert bad.json()["errors"][0]["field"] == "priority_public"

    detail = (await client.get(f"/v1/referrals/{b['id']}", headers=COUNSELLOR)).json()
    assert detail["decline_reason"] == "no_position"
    assert detail["decline_reason_label"] == "Pas de poste ouvert"
    assert detail["timeline"][-1]["reason_label"] == "Pas de poste ouvert"


async def test_timeline_interleaves_dispositifs_events_by_time(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    database = app.state.runtime.database
    created = (await _post(client, _body())).json()
    referral_id = uuid.UUID(created["id"])
    sent = datetime.fromisoformat(created["created_at"])
    await answer(database, acknowledged(referral_id, at(sent, hours=1)))
    mrs, immersion = "coop.mrs.evaluated.v1", "coop.immersion.requested.v1"
    await scheme_event(database, referral_id, mrs, Scheme.MRS, at(sent, hours=30))
    await answer(database, accepted(referral_id, at(sent, hours=50)))
    # Learned late, happened early: placed by its time.
    await scheme_event(database, referral_id, immersion, Scheme.IMMERSION, at(sent, hours=2))

    timeline = (await client.get(f"/v1/referrals/{referral_id}", headers=COUNSELLOR)).json()[
        "timeline"
    ]
    assert [(e["kind"], e.get("to_status") or e["scheme"]) for e in timeline] == [
        ("transition", "sent"),
        ("transition", "acknowledged"),
        ("scheme_event", "immersion"),
        ("scheme_event", "mrs"),
        ("transition", "accepted"),
    ]
    times = [e["occurred_at"] for e in timeline]
    assert times == sorted(times)

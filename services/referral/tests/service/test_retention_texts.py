"""Retention of what the erasure and the platform-table purge do not cover (issue 11) on the real
store: at erasure (and the 2-year archive, which takes the same path) the record's shares go and
its timeline labels lose their detail, the agents' identifiers stay; the refused answers' audit
text is screened when written and its rows go after 90 days (a moved clock)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from referral.domain import Scheme
from referral.jobs import jobs
from referral.models import (
    Agency,
    JobSeekerShare,
    ReferralSchemeEvent,
    ReferralTransition,
    RefusedResponse,
)
from referral.use_cases.erasure import SCHEME_EVENT_ERASED_LABEL
from referral.use_cases.networks import record_refused_response
from referral.use_cases.retention import (
    REFUSED_RESPONSES_RETENTION,
    PurgeAuditTexts,
    purge_audit_texts,
)
from referral.use_cases.scheme_events import SchemeFact, record_scheme_event
from shared.auth.tokens import Role
from shared.messaging.consumer import DeadLetterNotice

from ..conftest import bearer

COUNSELLOR = bearer(Role.COUNSELLOR, "conseiller.dupont", ft_structure="75101")
OPS = bearer(Role.OPS, "dpo")


def _key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


async def test_erasure_drops_shares_and_label_details_and_keeps_the_agents(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    created = await client.post(
        "/v1/referrals",
        json={
            "job_seeker": {"ft_identifier": "7777777C", "first_name": "Inès", "last_name": "Roux"},
            "agency_id": "agc-interim-nord-lille",
            "rome_code": "H2913",
            "message": "Profil motivé.",
        },
        headers={**COUNSELLOR, **_key()},
    )
    assert created.status_code == 201, created.text
    referral_id = uuid.UUID(created.json()["id"])
    seeker_id = created.json()["job_seeker_id"]
    share = await client.post(
        f"/v1/job-seekers/{seeker_id}/shares",
        json={
            "organisation_kind": "mission_locale",
            "organisation_code": "ML59",
            "reason": "Suivi commun avec la mission locale",
        },
        headers={**COUNSELLOR, **_key()},
    )
    assert share.status_code == 201, share.text
    async with app.state.runtime.database.transaction() as session:
        await record_scheme_event(
            session,
            SchemeFact(
                referral_id=referral_id,
                event_id=str(uuid.uuid4()),
                event_type="coop.immersion.validated.v1",
                scheme=Scheme.IMMERSION,
                scheme_ref=str(uuid.uuid4()),
                label="Immersion validée chez Jean Dupuis, entrepreneur individuel",
                hired=None,
                data={"host_name": "Jean Dupuis"},
                occurred_at=datetime.now(UTC),
            ),
        )
    erased = await client.post(
        f"/v1/job-seekers/{seeker_id}/erasure", json={"reason": "Demande"}, headers=OPS
    )
    assert erased.status_code == 202, erased.text
    async with app.state.runtime.session() as session:
        shares = await session.scalar(
            select(func.count())
            .select_from(JobSeekerShare)
            .where(JobSeekerShare.job_seeker_id == uuid.UUID(seeker_id))
        )
        assert shares == 0
        (event,) = await session.scalars(
            select(ReferralSchemeEvent).where(ReferralSchemeEvent.referral_id == referral_id)
        )
        assert (event.label, event.data, event.scheme) == (
            SCHEME_EVENT_ERASED_LABEL,
            {},
            "immersion",
        )
        actors = set(
            await session.scalars(
                select(ReferralTransition.actor_id).where(
                    ReferralTransition.referral_id == referral_id
                )
            )
        )
        assert "conseiller.dupont" in actors  # who acted stays (the agent, not the person)
    report = (await client.get(f"/v1/erasure-requests/{erased.json()['id']}", headers=OPS)).json()
    lines = {line["table"]: line["rows"] for line in report["services"][0]["report"]}
    assert lines["job_seeker_shares"] == 1


async def test_refused_answers_are_screened_then_purged_after_90_days(app: FastAPI) -> None:
    database = app.state.runtime.database
    for offset in (1, 2):
        await record_refused_response(
            DeadLetterNotice(
                consumer="referral.agency-responses",
                topic="agency.interim-nord.responses",
                partition=0,
                offset=offset,
                key=None,
                event_id=str(uuid.uuid4()),
                event_type="coop.referral.acknowledged.v1",
                reason="invalid_data",
                error="comment: la valeur 'écrire à lea.petit@example.org' est refusée",
                details={},
            ),
            database,
        )
    async with database.transaction() as session:
        rows = list(await session.scalars(select(RefusedResponse).order_by(RefusedResponse.id)))
        assert len(rows) == 2
        assert all("lea.petit" not in r.error and "example.org" not in r.error for r in rows)
        rows[0].recorded_at = datetime.now(UTC) - REFUSED_RESPONSES_RETENTION - timedelta(days=1)

    (job,) = [j for j in jobs(app.state.runtime.settings) if j.name == "referral-audit-retention"]
    await job.run(app.state.runtime)  # the job at today's time: the old row goes
    async with database.transaction() as session:
        assert [r.offset for r in await session.scalars(select(RefusedResponse))] == [2]
        later = await purge_audit_texts(
            session, PurgeAuditTexts(now=datetime.now(UTC) + timedelta(days=91))
        )
        assert later.refused_responses == 1
        assert await session.scalar(select(func.count()).select_from(RefusedResponse)) == 0


async def test_the_network_erases_an_agency_s_professional_contacts(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    """An agency's e-mail and address live as long as it is in the directory: its network
    replaces them, or erases them with ``null`` (or a new import)."""
    erp = bearer(
        Role.AGENCY, "erp-nord", agency_id="agc-interim-nord-lille", network_id="interim-nord"
    )
    url = "/v1/networks/interim-nord/agencies/agc-interim-nord-lille/contacts"
    set_ = await client.patch(
        url,
        json={"email": "c.martin@interim-nord.example", "address": "1 rue Nationale, Lille"},
        headers=erp,
    )
    assert set_.status_code == 200, set_.text
    cleared = await client.patch(url, json={"email": None, "address": None}, headers=erp)
    assert cleared.status_code == 200, cleared.text
    async with app.state.runtime.session() as session:
        agency = await session.get(Agency, "agc-interim-nord-lille")
        assert agency is not None
        assert (agency.email, agency.address) == (None, None)

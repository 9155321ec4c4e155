"""Archive of records inactive for 2 years (issue 11, item 5) on the real store, with a moved
clock: a notice to the owning structure first, the anonymisation (through the erasure flow) only
after the notice period; indicators of the past period unchanged."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from referral.jobs import archive_job
from referral.models import PLATFORM, ArchiveNotice, ErasureRequest, JobSeeker
from shared.auth.tokens import Role

from ..conftest import bearer

COUNSELLOR = bearer(Role.COUNSELLOR, "conseiller.dupont", ft_structure="75101")
OPS = bearer(Role.OPS)


async def _run_at(app: FastAPI, moment: datetime) -> None:
    await archive_job(app.state.runtime.settings, clock=lambda: moment).run(app.state.runtime)


async def test_inactive_record_is_noticed_then_anonymised(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    created = await client.post(
        "/v1/referrals",
        json={
            "job_seeker": {"ft_identifier": "6666666Z", "first_name": "Éloi", "last_name": "Brun"},
            "agency_id": "agc-interim-nord-lille",
            "rome_code": "H2913",
            "message": "Profil motivé.",
        },
        headers={**COUNSELLOR, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert created.status_code == 201
    referral = created.json()
    today = datetime.now(UTC).date().isoformat()
    period = {"from": today, "to": today, "group_by": "departement"}
    withdrawn = await client.post(
        f"/v1/referrals/{referral['id']}/withdraw", json={"reason": "fin"}, headers=COUNSELLOR
    )
    assert withdrawn.status_code == 200
    before = (await client.get("/v1/indicators", params=period, headers=OPS)).json()
    now = datetime.now(UTC)

    await _run_at(app, now + timedelta(days=365))  # one year: nothing
    async with app.state.runtime.session() as session:
        assert await session.get(ArchiveNotice, uuid.UUID(referral["job_seeker_id"])) is None

    await _run_at(app, now + timedelta(days=731))  # two years: the notice
    async with app.state.runtime.session() as session:
        notice = await session.get(ArchiveNotice, uuid.UUID(referral["job_seeker_id"]))
        assert notice is not None
        assert notice.structure_code == "75101"
        events = (
            await session.execute(
                select(PLATFORM.outbox.c.data).where(
                    PLATFORM.outbox.c.event_type == "coop.job_seeker.archive_noticed.v1"
                )
            )
        ).all()
        ours = [e for e in events if e.data["job_seeker_id"] == referral["job_seeker_id"]]
        assert len(ours) == 1
        assert ours[0].data["structure_code"] == "75101"
        assert (await session.scalars(select(ErasureRequest))).all() == []

    await _run_at(app, now + timedelta(days=745))  # within the notice: still nothing
    async with app.state.runtime.session() as session:
        assert (await session.scalars(select(ErasureRequest))).all() == []

    await _run_at(app, now + timedelta(days=762))  # notice over: anonymised
    async with app.state.runtime.session() as session:
        request = await session.scalar(
            select(ErasureRequest).where(
                ErasureRequest.job_seeker_id == uuid.UUID(referral["job_seeker_id"])
            )
        )
        assert request is not None
        assert request.requested_by == "system:archive"
        seeker = await session.get(JobSeeker, uuid.UUID(referral["job_seeker_id"]))
        assert seeker is not None
        assert seeker.last_name != "Brun"
        assert seeker.ft_identifier != "6666666Z"
    after = (await client.get("/v1/indicators", params=period, headers=OPS)).json()
    assert after["groups"] == before["groups"]
    assert after["total"] == before["total"]

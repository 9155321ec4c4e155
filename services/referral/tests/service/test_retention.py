"""The referral service's retention job (issue 11) on the real store, with a moved clock:
published outbox rows go after 7 days, idempotency records after 24 h; unpublished rows stay."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select, update

from referral.jobs import jobs
from referral.models import PLATFORM
from shared.auth.tokens import Role

from ..conftest import bearer

COUNSELLOR = bearer(Role.COUNSELLOR, "conseiller.dupont", ft_structure="75101")


async def _count(app: FastAPI, table: object) -> int:
    async with app.state.runtime.session() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)  # type: ignore[arg-type]


async def test_retention_job_purges_with_a_moved_clock(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    for ft in ("5555555A", "5555555B"):
        response = await client.post(
            "/v1/referrals",
            json={
                "job_seeker": {"ft_identifier": ft, "first_name": "Léa", "last_name": "Petit"},
                "agency_id": "agc-interim-nord-lille",
                "rome_code": "H2913",
                "message": "Profil motivé.",
            },
            headers={**COUNSELLOR, "Idempotency-Key": str(uuid.uuid4())},
        )
        assert response.status_code == 201
    runtime = app.state.runtime
    now = datetime.now(UTC)
    outbox, keys = PLATFORM.outbox, PLATFORM.idempotency_keys
    async with runtime.database.transaction() as session:
        first = await session.scalar(select(func.min(outbox.c.id)))
        await session.execute(update(outbox).where(outbox.c.id == first).values(published_at=now))
    rows, records = await _count(app, outbox), await _count(app, keys)
    assert rows >= 4
    assert records == 2

    (job,) = [j for j in jobs(app.state.runtime.settings) if j.name == "referral-retention"]
    await job.run(runtime)  # nothing is old yet
    assert (await _count(app, outbox), await _count(app, keys)) == (rows, records)

    (later,) = _jobs_at(app, now + timedelta(days=8))
    await later.run(runtime)
    assert await _count(app, outbox) == rows - 1  # the published one; the waiting rows stay
    assert await _count(app, keys) == 0


def _jobs_at(app: FastAPI, moment: datetime) -> list:  # type: ignore[type-arg]
    from shared.privacy.jobs import platform_retention_job

    return [
        platform_retention_job(
            app.state.runtime.settings, PLATFORM, name="referral-retention", clock=lambda: moment
        )
    ]

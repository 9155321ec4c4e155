"""An Idempotency-Key replay re-checks that the caller may still see what was created (issue 10,
item 6): the stored answer is never sent to a caller who no longer sees the row (404)."""

from __future__ import annotations

import uuid

import httpx
from fastapi import FastAPI
from sqlalchemy import delete, update

from referral.models import JobSeeker, PersonalDataAccess, Referral
from shared.auth.tokens import Role

from ..conftest import bearer

PARIS = bearer(Role.COUNSELLOR, "conseiller.paris", ft_structure="75101")
SEEKER = {"ft_identifier": "7510102B", "first_name": "Inès", "last_name": "Roche"}
REFERRAL = {"agency_id": "agc-interim-nord-lille", "rome_code": "H2913", "message": "Motivée."}


async def test_a_replay_of_a_row_the_caller_no_longer_sees_is_a_404(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    key = str(uuid.uuid4())
    body = {**REFERRAL, "job_seeker": SEEKER}
    first = await client.post("/v1/referrals", json=body, headers={**PARIS, "Idempotency-Key": key})
    assert first.status_code == 201, first.text
    replay = await client.post(
        "/v1/referrals", json=body, headers={**PARIS, "Idempotency-Key": key}
    )
    assert replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"

    async with app.state.runtime.database.transaction() as session:  # handed to another structure
        await session.execute(
            update(Referral)
            .where(Referral.id == uuid.UUID(first.json()["id"]))
            .values(structure_code="13055")
        )
    refused = await client.post(
        "/v1/referrals", json=body, headers={**PARIS, "Idempotency-Key": key}
    )
    assert refused.status_code == 404
    assert "Inès" not in refused.text


async def test_a_replay_of_an_erased_job_seeker_does_not_send_their_data_again(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    created = await client.post("/v1/job-seekers", json=SEEKER, headers={**PARIS, **key})
    assert created.status_code == 201, created.text
    async with app.state.runtime.database.transaction() as session:
        await session.execute(delete(PersonalDataAccess))
        await session.execute(
            delete(JobSeeker).where(JobSeeker.id == uuid.UUID(created.json()["id"]))
        )
    replay = await client.post("/v1/job-seekers", json=SEEKER, headers={**PARIS, **key})
    assert replay.status_code == 404
    assert "Roche" not in replay.text

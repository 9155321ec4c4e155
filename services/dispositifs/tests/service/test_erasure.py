"""Erasure of a job seeker in the dispositifs store (issue 11), on the real store: the consumer's
use case erases the convention's beneficiary, the comments, the published events and stored
responses naming them, keeps the facts, and answers with its report."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import httpx
from fastapi import FastAPI
from sqlalchemy import Text, cast, select, update

from dispositifs.models import PLATFORM, ImmersionConvention, KnownReferral
from dispositifs.use_cases.erasure import erase_job_seeker
from shared.contracts.erasure import JobSeekerErasureRequested

from .conftest import COUNSELLOR, creating
from .test_immersions_api import full_content

KnownFactory = Callable[..., Awaitable[KnownReferral]]


async def test_erasure_removes_the_beneficiary_and_reports(
    client: httpx.AsyncClient, app: FastAPI, known_referral: KnownFactory
) -> None:
    referral = await known_referral()
    created = await client.post(
        "/v1/immersions",
        json=full_content(referral_id=str(referral.referral_id)),
        headers=creating(COUNSELLOR),
    )
    assert created.status_code == 201, created.text
    convention_id = uuid.UUID(created.json()["id"])
    database = app.state.runtime.database
    async with database.transaction() as session:  # the relay published what was staged
        await session.execute(update(PLATFORM.outbox).values(published_at=datetime.now(UTC)))
    erasure_id = uuid.uuid4()
    async with database.transaction() as session:
        await erase_job_seeker(
            session,
            JobSeekerErasureRequested(
                erasure_id=erasure_id,
                job_seeker_id=referral.job_seeker_id,
                referral_ids=[referral.referral_id],
                requested_at=datetime.now(UTC),
            ),
        )
    async with app.state.runtime.session() as session:
        convention = await session.get(ImmersionConvention, convention_id)
        assert convention is not None
        assert convention.beneficiary_last_name is None
        assert convention.beneficiary_birth_date is None
        assert convention.status == "requested"  # the facts stay
        for table in (ImmersionConvention.__table__, PLATFORM.outbox, PLATFORM.idempotency_keys):
            for column in table.columns:
                for needle in ("Camille", "Martin", "1995-04-12"):
                    hit = await session.scalar(
                        select(cast(column, Text)).where(cast(column, Text).like(f"%{needle}%"))
                    )
                    assert hit is None, (table.name, column.name, needle)
        answers = (
            await session.execute(
                select(PLATFORM.outbox.c.data).where(
                    PLATFORM.outbox.c.event_type == "coop.dispositifs.erasure_completed.v1"
                )
            )
        ).all()
    assert len(answers) == 1
    report = {line["table"]: line["rows"] for line in answers[0].data["report"]}
    assert answers[0].data["erasure_id"] == str(erasure_id)
    assert report["immersion_conventions"] == 1
    assert report["idempotency_keys"] == 1

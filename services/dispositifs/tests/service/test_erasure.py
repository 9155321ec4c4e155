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

from dispositifs.models import (
    PLATFORM,
    ImmersionConvention,
    ImmersionSignatory,
    ImmersionTransition,
    KnownReferral,
    MrsCandidate,
    MrsSession,
    TrainingEnrolment,
)
from dispositifs.use_cases.erasure import erase_job_seeker
from shared.contracts.erasure import JobSeekerErasureRequested
from shared.privacy.erasure import ERASED_MARK

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


async def test_erasure_forgets_the_conventions_third_parties_and_free_texts(
    client: httpx.AsyncClient, app: FastAPI, known_referral: KnownFactory
) -> None:
    """Once the convention points to nobody (erasure, or the 2-year archive that takes the same
    path), its tutor, host representative, support referent, prescriber, host name and address,
    signatories and free texts go; the facts and the agents' identifiers stay; the enrolments
    lose their targeted public; the MRS outcome and the pathway's generated reason stay."""
    referral = await known_referral()
    body = full_content(referral_id=str(referral.referral_id))
    created = await client.post("/v1/immersions", json=body, headers=creating(COUNSELLOR))
    assert created.status_code == 201, created.text
    convention_id = uuid.UUID(created.json()["id"])
    ready = await client.post(f"/v1/immersions/{convention_id}/ready", headers=COUNSELLOR)
    assert ready.status_code == 200, ready.text  # each party gets its link (signatories)
    database = app.state.runtime.database
    now = datetime.now(UTC)
    session_id, enrolment_id, candidate_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    async with database.transaction() as session:
        session.add(
            MrsSession(
                id=session_id,
                employer_name="Entrepôts du Nord",
                employer_siret="73282932000074",
                rome_code="N1101",
                habiletes=["respecter_normes"],
                session_date=now.date(),
                capacity=5,
                departement="59",
                counsellor_id="conseiller.dupont",
                created_at=now,
            )
        )
        await session.flush()
        session.add(
            MrsCandidate(
                id=candidate_id,
                session_id=session_id,
                job_seeker_id=referral.job_seeker_id,
                registered_at=now,
                results={"respecter_normes": True},
                positive=True,
                hired=True,
            )
        )
        session.add(
            TrainingEnrolment(
                id=enrolment_id,
                kind="poei",
                status="enrolled",
                job_seeker_id=referral.job_seeker_id,
                counsellor_id="conseiller.dupont",
                start_date=now.date(),
                end_date=now.date(),
                hours=200,
                poei_mode="training_body",
                targeted_public="brsa",
                offer_id="OFFRE-1",
                expected_contract_type="cdi",
                created_at=now,
            )
        )
    async with database.transaction() as session:
        await erase_job_seeker(
            session,
            JobSeekerErasureRequested(
                erasure_id=uuid.uuid4(),
                job_seeker_id=referral.job_seeker_id,
                referral_ids=[referral.referral_id],
                requested_at=now,
            ),
        )
    async with app.state.runtime.session() as session:
        convention = await session.get(ImmersionConvention, convention_id)
        assert convention is not None
        for name in (
            "tutor_name",
            "tutor_function",
            "tutor_email",
            "support_referent",
            "prescriber_name",
            "host_address",
            "host_representative_name",
            "host_representative_email",
            "schedule",
            "place",
            "objectives",
            "evaluation_method",
            "tasks",
        ):
            assert getattr(convention, name) is None, name
        assert convention.host_name == ERASED_MARK
        # The facts and who acted stay.
        assert convention.host_siret == "73282932000074"
        assert convention.counsellor_id == "conseillere.leroy"
        assert (convention.status, convention.rome_code) == ("ready_to_sign", referral.rome_code)
        actors = {t.actor_id for t in await session.scalars(select(ImmersionTransition))}
        assert "conseillere.leroy" in actors
        signatories = list(
            await session.scalars(
                select(ImmersionSignatory).where(ImmersionSignatory.convention_id == convention_id)
            )
        )
        assert signatories
        assert {(s.name, s.email) for s in signatories} == {(None, ERASED_MARK)}
        for needle in ("Benali", "entrepots.example", "Mme Leroy", "Durand", "Lesquin", "chariot"):
            for table in (
                ImmersionConvention.__table__,
                ImmersionSignatory.__table__,
                PLATFORM.outbox,
            ):
                for column in table.columns:
                    hit = await session.scalar(
                        select(cast(column, Text)).where(cast(column, Text).like(f"%{needle}%"))
                    )
                    assert hit is None, (table.name, column.name, needle)
        enrolment = await session.get(TrainingEnrolment, enrolment_id)
        assert enrolment is not None
        assert enrolment.targeted_public is None
        assert (enrolment.hours, enrolment.counsellor_id) == (200, "conseiller.dupont")
        candidate = await session.get(MrsCandidate, candidate_id)
        assert candidate is not None
        assert candidate.results is None
        assert (candidate.positive, candidate.hired) == (True, True)  # anonymous facts
    # The anonymous convention still reads (its facts) for whoever may see it.
    read = await client.get(f"/v1/immersions/{convention_id}", headers=COUNSELLOR)
    assert read.status_code == 200, read.text
    assert read.json()["status"] == "ready_to_sign"

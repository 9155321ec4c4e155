"""Dispositifs events over the real broker: those about a referral land on its timeline; those
about no referral are ignored; those about an unknown referral are dead-lettered."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from referral.consumers import dispositifs_handlers
from referral.models import PLATFORM, ReferralSchemeEvent
from referral.settings import ReferralSettings
from referral.use_cases.job_seekers import JobSeekerInput
from referral.use_cases.referrals import SendReferral, send_referral
from shared.auth.tokens import Principal, Role
from shared.contracts import dispositifs as d
from shared.contracts.vocabulary import ImmersionObjet, TrainingKind
from shared.db.database import Database
from shared.messaging.consumer import EventConsumer
from shared.testing_kafka import eventually, publish, read_topic, running_consumer


@pytest.fixture
async def database(referral_settings: ReferralSettings) -> AsyncIterator[Database]:
    db = Database(referral_settings.database_url)
    yield db
    await db.dispose()


@pytest.fixture
async def consumer(
    referral_settings: ReferralSettings,
    database: Database,
    kafka_bootstrap: str,
    unique: Callable[[str], str],
) -> AsyncIterator[EventConsumer]:
    settings = referral_settings.model_copy(update={"kafka_bootstrap_servers": kafka_bootstrap})
    async with running_consumer(
        settings=settings,
        database=database,
        tables=PLATFORM,
        registry=dispositifs_handlers(),
        topic=unique("dispositifs.events"),
        group=unique("referral-dispositifs"),
    ) as running:
        yield running


async def test_scheme_events_about_a_referral_join_its_timeline(
    database: Database, consumer: EventConsumer, kafka_bootstrap: str
) -> None:
    async with database.transaction() as session:
        referral = await send_referral(
            session,
            SendReferral(
                job_seeker=JobSeekerInput("1234567A", "Camille", "Martin"),
                agency_id="agc-interim-nord-lille",
                rome_code="H2913",
                message="Bonjour",
            ),
            Principal("c", Role.COUNSELLOR, ft_structure="75101"),
        )
    now = datetime.now(UTC)
    convention = uuid.uuid4()
    topic = consumer.topics[0]
    await publish(
        kafka_bootstrap,
        topic,
        d.ImmersionValidated(
            convention_id=convention,
            referral_id=referral.id,
            occurred_at=now,
            objet=ImmersionObjet.START_RECRUITMENT,
            start_date=date(2026, 3, 2),
            end_date=date(2026, 3, 13),
            host_name="Chaudronnerie du Nord",
        ),
    )
    await publish(
        kafka_bootstrap,
        topic,
        d.ImmersionCompleted(
            convention_id=convention,
            referral_id=referral.id,
            occurred_at=now,
            objectives_reached=True,
            hired=True,
        ),
    )
    await publish(  # serves no referral: not ours
        kafka_bootstrap,
        topic,
        d.MrsEvaluated(
            session_id=uuid.uuid4(),
            candidate_id=uuid.uuid4(),
            rome_code="H2913",
            positive=True,
            occurred_at=now,
        ),
    )
    unknown = uuid.uuid4()
    await publish(
        kafka_bootstrap,
        topic,
        d.TrainingCompleted(
            enrolment_id=uuid.uuid4(),
            kind=TrainingKind.POEI,
            referral_id=unknown,
            occurred_at=now,
            completed=True,
            hired=False,
        ),
    )
    letters = await read_topic(kafka_bootstrap, topic + ".dlq", 1)
    assert dict(letters[0].headers)["dlq_error"] == f"unknown referral {unknown}".encode()

    async def recorded() -> list[ReferralSchemeEvent]:
        async with database.sessionmaker() as session:
            rows = list(await session.scalars(select(ReferralSchemeEvent)))
        return rows if len(rows) == 2 else []

    rows = await eventually(recorded)
    assert [(r.scheme, r.event_type, r.hired) for r in rows] == [
        ("immersion", "coop.immersion.validated.v1", None),
        ("immersion", "coop.immersion.completed.v1", True),
    ]
    assert (
        rows[0].label == "Immersion validée chez Chaudronnerie du Nord du 02/03/2026 au 13/03/2026"
    )
    assert rows[1].label == "Immersion terminée — objectifs atteints — embauche"
    assert rows[0].scheme_ref == str(convention)

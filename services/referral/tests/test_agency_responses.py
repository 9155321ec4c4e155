"""Agency answers over the real broker: applied when allowed, dead-lettered with the reason and
never half-applied when not."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from referral.consumers import agency_responses
from referral.models import PLATFORM, Referral, ReferralTransition
from referral.settings import ReferralSettings
from referral.use_cases import JobSeekerInput, SendReferral, send_referral
from shared.auth.tokens import Principal, Role
from shared.contracts.agency import ReferralAccepted, ReferralAcknowledged
from shared.db.database import Database
from shared.messaging.consumer import EventConsumer
from shared.testing_kafka import eventually, publish, read_topic, running_consumer

COUNSELLOR = Principal("conseiller.dupont", Role.COUNSELLOR, ft_structure="75101")
AGENCY = "agc-interim-nord-lille"


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
        registry=agency_responses,
        topic=unique("agency.responses"),
        group=unique("referral"),
    ) as running:
        yield running


async def _referral(database: Database) -> uuid.UUID:
    async with database.transaction() as session:
        referral = await send_referral(
            session,
            SendReferral(
                job_seeker=JobSeekerInput("1234567A", "Camille", "Martin", None, None),
                agency_id=AGENCY,
                rome_code="H2913",
                message="Profil motivé.",
            ),
            COUNSELLOR,
            source="/test",
        )
        return referral.id


async def _status(database: Database, referral_id: uuid.UUID) -> str:
    async with database.sessionmaker() as session:
        return (await session.get(Referral, referral_id)).status  # type: ignore[union-attr]


async def _transitions(database: Database, referral_id: uuid.UUID) -> int:
    async with database.sessionmaker() as session:
        query = select(func.count()).where(ReferralTransition.referral_id == referral_id)
        return int(await session.scalar(query) or 0)


def _now() -> datetime:
    return datetime.now(UTC)


async def test_acknowledged_then_accepted_moves_the_referral(
    database: Database, consumer: EventConsumer, kafka_bootstrap: str
) -> None:
    referral_id = await _referral(database)
    topic = consumer.topics[0]
    await publish(
        kafka_bootstrap,
        topic,
        ReferralAcknowledged(referral_id=referral_id, agency_id=AGENCY, occurred_at=_now()),
    )
    await publish(
        kafka_bootstrap,
        topic,
        ReferralAccepted(referral_id=referral_id, agency_id=AGENCY, occurred_at=_now()),
    )

    async def accepted() -> bool:
        return await _status(database, referral_id) == "accepted"

    await eventually(accepted)
    assert await _transitions(database, referral_id) == 3


async def test_answer_not_allowed_from_the_current_state_is_dead_lettered_with_the_reason(
    database: Database, consumer: EventConsumer, kafka_bootstrap: str
) -> None:
    referral_id = await _referral(database)
    topic = consumer.topics[0]
    await publish(
        kafka_bootstrap,
        topic,
        ReferralAccepted(referral_id=referral_id, agency_id=AGENCY, occurred_at=_now()),
    )
    # Acknowledging after accepting is not in the transition table.
    late_ack = await publish(
        kafka_bootstrap,
        topic,
        ReferralAcknowledged(referral_id=referral_id, agency_id=AGENCY, occurred_at=_now()),
    )
    letters = await read_topic(kafka_bootstrap, topic + ".dlq", 1)
    headers = dict(letters[0].headers)
    assert headers["ce_id"] == late_ack.encode()
    assert headers["dlq_reason"] == b"rejected"
    assert headers["dlq_error"] == b"cannot acknowledge a referral in state accepted"
    assert await _status(database, referral_id) == "accepted"
    assert await _transitions(database, referral_id) == 2


async def test_answer_from_another_agency_or_about_an_unknown_referral_is_refused(
    database: Database, consumer: EventConsumer, kafka_bootstrap: str
) -> None:
    referral_id = await _referral(database)
    topic = consumer.topics[0]
    unknown = uuid.uuid4()
    await publish(
        kafka_bootstrap,
        topic,
        ReferralAccepted(
            referral_id=referral_id, agency_id="agc-travail-plus-lyon", occurred_at=_now()
        ),
    )
    await publish(
        kafka_bootstrap,
        topic,
        ReferralAccepted(referral_id=unknown, agency_id=AGENCY, occurred_at=_now()),
    )
    letters = await read_topic(kafka_bootstrap, topic + ".dlq", 2)
    errors = sorted(dict(letter.headers)["dlq_error"].decode() for letter in letters)
    assert errors == sorted(
        [
            f"referral {referral_id} is not addressed to agency agc-travail-plus-lyon",
            f"unknown referral {unknown}",
        ]
    )
    assert await _status(database, referral_id) == "sent"
    assert await _transitions(database, referral_id) == 1

"""Hostile or broken agency answers over the real broker (issue 10, items 7 and 8): a time
without a time zone is invalid at the first attempt, a time far from the broker's is refused,
anything on a responses topic that is not an answer is refused — each dead-lettered, audited
once per record and counted; indicators take the time the platform received the answer."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import select

from referral.consumers import agency_response_handlers
from referral.models import PLATFORM, Referral, RefusedResponse
from referral.settings import ReferralSettings
from referral.use_cases.job_seekers import JobSeekerInput
from referral.use_cases.networks import record_refused_response
from referral.use_cases.referrals import SendReferral, send_referral
from shared.auth.tokens import Principal, Role
from shared.contracts import agency as a
from shared.contracts.agency_feed import ReferralReceived
from shared.db.database import Database
from shared.envelope import CloudEvent
from shared.messaging.consumer import DeadLetterNotice, EventConsumer
from shared.testing_kafka import eventually, read_topic, running_consumer

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
        registry=agency_response_handlers(
            network_of=lambda _topic: "interim-nord", max_clock_skew=timedelta(hours=24)
        ),
        topic=unique("agency.responses"),
        group=unique("referral"),
        on_dead_letter=record_refused_response,
    ) as running:
        yield running


async def _referral(database: Database, ft_identifier: str = "1234567A") -> uuid.UUID:
    async with database.transaction() as session:
        referral = await send_referral(
            session,
            SendReferral(
                job_seeker=JobSeekerInput(ft_identifier, "Camille", "Martin"),
                agency_id=AGENCY,
                rome_code="H2913",
                message="Profil motivé.",
            ),
            COUNSELLOR,
        )
        return referral.id


async def _send(
    bootstrap: str, topic: str, event_type: str, data: dict[str, Any], key: uuid.UUID
) -> None:
    value, headers = CloudEvent(
        type=event_type, source="/agencies/interim-nord", data=data
    ).to_kafka()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value=value, key=str(key).encode(), headers=headers)
    finally:
        await producer.stop()


async def _referral_row(database: Database, referral_id: uuid.UUID) -> Referral:
    async with database.sessionmaker() as session:
        row = await session.get(Referral, referral_id)
        assert row is not None
        return row


async def _audit(database: Database) -> list[RefusedResponse]:
    async with database.sessionmaker() as session:
        return list(await session.scalars(select(RefusedResponse).order_by(RefusedResponse.id)))


async def test_a_time_without_time_zone_is_invalid_at_the_first_attempt(
    database: Database, consumer: EventConsumer, kafka_bootstrap: str
) -> None:
    referral_id = await _referral(database)
    await _send(
        kafka_bootstrap,
        consumer.topics[0],
        a.ReferralAcknowledged.event_type,
        {"referral_id": str(referral_id), "agency_id": AGENCY, "occurred_at": "2026-11-26T10:00"},
        referral_id,
    )
    letters = await read_topic(kafka_bootstrap, consumer.topics[0] + ".dlq", 1)
    headers = dict(letters[0].headers)
    # invalid_data is decided when the record is read, before any attempt: never retried (six
    # retries took ~40 s before and ended as retries_exhausted), so no other network waits.
    assert headers["dlq_reason"] == b"invalid_data"
    assert b"occurred_at" in headers["dlq_error"]
    assert (await _referral_row(database, referral_id)).status == "sent"
    await eventually(lambda: _audit_count(database, 1))
    assert (await _audit(database))[0].kind == "invalid"


async def _audit_count(database: Database, expected: int) -> bool:
    return len(await _audit(database)) == expected


async def test_a_time_far_from_the_brokers_is_refused_with_its_reason(
    database: Database, consumer: EventConsumer, kafka_bootstrap: str
) -> None:
    referral_id = await _referral(database)
    await _send(
        kafka_bootstrap,
        consumer.topics[0],
        a.ReferralAcknowledged.event_type,
        {
            "referral_id": str(referral_id),
            "agency_id": AGENCY,
            "occurred_at": "2001-01-01T10:00:00+01:00",
        },
        referral_id,
    )
    letters = await read_topic(kafka_bootstrap, consumer.topics[0] + ".dlq", 1)
    headers = dict(letters[0].headers)
    assert headers["dlq_reason"] == b"rejected"
    assert "à plus de 24 h de la réception" in headers["dlq_error"].decode()
    assert "vérifiez l'horloge et le fuseau horaire" in headers["dlq_error"].decode()
    row = await _referral_row(database, referral_id)
    assert (row.status, row.first_answer_at) == ("sent", None)
    await eventually(lambda: _audit_count(database, 1))
    assert (await _audit(database))[0].kind == "clock_skew"


async def test_indicators_take_the_time_the_platform_received_the_answer(
    database: Database, consumer: EventConsumer, kafka_bootstrap: str
) -> None:
    referral_id = await _referral(database)
    told = datetime.now(UTC) - timedelta(hours=20)  # within the tolerance, but not "now"
    await _send(
        kafka_bootstrap,
        consumer.topics[0],
        a.ReferralAccepted.event_type,
        {"referral_id": str(referral_id), "agency_id": AGENCY, "occurred_at": told.isoformat()},
        referral_id,
    )

    async def accepted() -> bool:
        return (await _referral_row(database, referral_id)).status == "accepted"

    await eventually(accepted)
    row = await _referral_row(database, referral_id)
    assert row.first_answer_at is not None
    assert row.accepted_at is not None
    assert abs(row.first_answer_at - datetime.now(UTC)) < timedelta(minutes=5)
    assert abs(row.accepted_at - datetime.now(UTC)) < timedelta(minutes=5)


async def test_an_event_that_is_not_an_answer_is_refused_and_audited_not_skipped(
    database: Database, consumer: EventConsumer, kafka_bootstrap: str
) -> None:
    referral_id = await _referral(database)
    echo = ReferralReceived(
        referral_id=referral_id,
        agency_id=AGENCY,
        network_id="interim-nord",
        rome_code="H2913",
        rome_label="Soudeur / Soudeuse",
        message="Profil motivé.",
        identity_shared=False,
        sent_at=datetime.now(UTC),
    )
    await _send(
        kafka_bootstrap,
        consumer.topics[0],
        ReferralReceived.event_type,
        echo.model_dump(mode="json"),
        referral_id,
    )
    letters = await read_topic(kafka_bootstrap, consumer.topics[0] + ".dlq", 1)
    headers = dict(letters[0].headers)
    assert headers["dlq_reason"] == b"rejected"
    assert "n'est pas une réponse d'agence" in headers["dlq_error"].decode()
    await eventually(lambda: _audit_count(database, 1))
    assert (await _audit(database))[0].kind == "not_an_answer"


async def test_a_redelivered_refusal_is_audited_once(database: Database) -> None:
    notice = DeadLetterNotice(
        consumer="referral.agency-responses",
        topic="agency.interim-nord.responses",
        partition=1,
        offset=42,
        key=b"k",
        event_id="e" * 300,  # a partner's id too long for the column is cut, not a crash
        event_type=a.ReferralAccepted.event_type,
        reason="rejected",
        error="cannot accept a referral in state declined",
        details={"kind": "not_allowed"},
    )
    await record_refused_response(notice, database)
    await record_refused_response(notice, database)
    rows = await _audit(database)
    assert len(rows) == 1
    assert rows[0].event_id == "e" * 64

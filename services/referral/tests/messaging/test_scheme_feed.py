"""The agency's feed is complete (issue 12, item 6), over the real broker: every dispositifs event
about a referral becomes the feed event its table entry says (``scheme_events.FEED_OF``), staged
for the referral's network feed, nothing personal in it; a redelivered event is told once; an
agency's training request (POEI) is checked like an answer and republished for the dispositifs
service, or dead-lettered."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from referral.consumers import agency_response_handlers, dispositifs_handlers
from referral.models import PLATFORM
from referral.settings import ReferralSettings
from referral.use_cases.job_seekers import JobSeekerInput
from referral.use_cases.referrals import SendReferral, send_referral
from referral.use_cases.scheme_events import FEED_OF
from shared.auth.tokens import Principal, Role
from shared.contracts import declared_event_types
from shared.contracts.agency_requests import TrainingRequested
from shared.contracts.asyncapi import example_data
from shared.contracts.topics import DISPOSITIFS_EVENTS, agency_feed
from shared.db.database import Database
from shared.testing_kafka import eventually, publish, read_topic, running_consumer

COUNSELLOR = Principal("conseiller.dupont", Role.COUNSELLOR, ft_structure="75101")
AGENCY = "agc-interim-nord-lille"
FEED = agency_feed("interim-nord").name

#: What an agency must never read on its feed about a scheme (parties, links, tutors, incidents).
NOT_FOR_THE_AGENCY = {
    "links",
    "tutor_name",
    "tutor_email",
    "violations",
    "incident_id",
    "reported_by",
    "occurred_on",
    "counsellor_id",
}


def _about_referrals() -> list[type]:
    return [
        model
        for model in declared_event_types().values()
        if model.topic == DISPOSITIFS_EVENTS.name and "referral_id" in model.model_fields
    ]


def test_every_dispositifs_event_type_about_a_referral_has_its_feed_entry() -> None:
    assert set(_about_referrals()) == set(FEED_OF)
    routing = {"referral_id": uuid.uuid4(), "agency_id": AGENCY, "network_id": "interim-nord"}
    for model in FEED_OF:
        feed = FEED_OF[model](_example(model), routing)
        assert feed.topic == "agency.{network_id}.feed"
        assert feed.referral_id == routing["referral_id"]


def _example(model: type) -> Any:
    """A valid event of ``model``, every field set (the AsyncAPI document's example)."""
    return model.model_validate(example_data(model))


@pytest.fixture
async def database(referral_settings: ReferralSettings) -> AsyncIterator[Database]:
    db = Database(referral_settings.database_url)
    yield db
    await db.dispose()


async def _referral(database: Database, ft_identifier: str) -> uuid.UUID:
    async with database.transaction() as session:
        referral = await send_referral(
            session,
            SendReferral(
                job_seeker=JobSeekerInput(ft_identifier, "Camille", "Martin", None, None),
                agency_id=AGENCY,
                rome_code="H2913",
                message="Profil motivé.",
            ),
            COUNSELLOR,
        )
        return referral.id


async def _staged(database: Database, topic: str) -> list[tuple[str, dict]]:
    outbox = PLATFORM.outbox
    async with database.sessionmaker() as session:
        rows = await session.execute(
            select(outbox).where(outbox.c.topic == topic).order_by(outbox.c.id)
        )
        return [(row.event_type, row.data) for row in rows]


async def test_each_dispositifs_event_about_a_referral_is_staged_once_for_its_feed(
    referral_settings: ReferralSettings,
    database: Database,
    kafka_bootstrap: str,
    unique: Callable[[str], str],
) -> None:
    referral_id = await _referral(database, "7654321A")
    settings = referral_settings.model_copy(update={"kafka_bootstrap_servers": kafka_bootstrap})
    topic = unique("dispositifs.events")
    models = _about_referrals()
    async with running_consumer(
        settings=settings,
        database=database,
        tables=PLATFORM,
        registry=dispositifs_handlers(),
        topic=topic,
        group=unique("referral-dispositifs"),
    ):
        for model in models:
            data = _example(model).model_copy(update={"referral_id": referral_id})
            event_id = await publish(kafka_bootstrap, topic, data)
            if model is models[0]:
                first_id = event_id
        assert first_id

        async def all_staged() -> list[tuple[str, dict]]:
            staged = [
                s
                for s in await _staged(database, FEED)
                if s[0] != "coop.agency.referral_received.v1"
            ]
            return staged if len(staged) >= len(models) else []

        staged = await eventually(all_staged)
    assert len(staged) == len(models)
    expected = {
        FEED_OF[m](
            _example(m),
            {"referral_id": referral_id, "agency_id": AGENCY, "network_id": "interim-nord"},
        ).event_type
        for m in models
    }
    assert {event_type for event_type, _ in staged} == expected
    for _event_type, data in staged:
        assert data["referral_id"] == str(referral_id)
        assert data["agency_id"] == AGENCY
        assert not NOT_FOR_THE_AGENCY & set(data), data


async def test_a_training_request_is_republished_for_dispositifs_or_dead_lettered(
    referral_settings: ReferralSettings,
    database: Database,
    kafka_bootstrap: str,
    unique: Callable[[str], str],
) -> None:
    referral_id = await _referral(database, "7654322A")
    settings = referral_settings.model_copy(update={"kafka_bootstrap_servers": kafka_bootstrap})
    topic = unique("agency.responses")
    async with running_consumer(
        settings=settings,
        database=database,
        tables=PLATFORM,
        registry=agency_response_handlers(network_of=lambda _topic: "interim-nord"),
        topic=topic,
        group=unique("referral"),
    ):
        now = datetime.now(UTC)
        await publish(
            kafka_bootstrap,
            topic,
            TrainingRequested(
                referral_id=referral_id,
                agency_id=AGENCY,
                occurred_at=now,
                hours=280,
                training_organisation="AFPA Lille",
            ),
        )
        await publish(  # another agency of the network: not its referral
            kafka_bootstrap,
            topic,
            TrainingRequested(
                referral_id=referral_id, agency_id="agc-interim-nord-arras", occurred_at=now
            ),
        )
        letters = await read_topic(kafka_bootstrap, topic + ".dlq", 1)

        async def requested() -> list[tuple[str, dict]]:
            return [
                s
                for s in await _staged(database, "referral.events")
                if s[0] == "coop.referral.training_requested.v1"
            ]

        (staged,) = await eventually(requested)
    assert dict(letters[0].headers)["dlq_reason"] == b"rejected"
    assert "n'est pas adressée à l'agence".encode() in dict(letters[0].headers)["dlq_error"]
    _type, data = staged
    assert data["referral_id"] == str(referral_id)
    assert data["kind"] == "poei"
    assert data["hours"] == 280
    assert data["rome_code"] == "H2913"
    assert data["training_organisation"] == "AFPA Lille"

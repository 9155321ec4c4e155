"""Network isolation over real per-network topic names: an answer is applied only when it comes on
the response topic of the network the referral was addressed to, naming that network's agency; a
forged one is dead-lettered, audited and counted, and the referral is unchanged."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from stdnum.fr import siren as siren_number
from stdnum.fr import siret as siret_number

from referral.adapters.network_topics import topics_of
from referral.consumers import agency_response_handlers
from referral.models import PLATFORM, Referral, RefusedResponse
from referral.settings import ReferralSettings
from referral.use_cases.agencies import AgencyInput, create_agency
from referral.use_cases.job_seekers import JobSeekerInput
from referral.use_cases.networks import REFUSED_RESPONSES, record_refused_response
from referral.use_cases.referrals import SendReferral, send_referral
from shared.auth.tokens import Principal, Role
from shared.contracts.agency import ReferralAccepted, ReferralAcknowledged
from shared.contracts.topics import agency_responses
from shared.db.database import Database
from shared.messaging.consumer import EventConsumer
from shared.messaging.kafka import make_producer
from shared.messaging.provisioning import ensure_topics
from shared.testing_kafka import eventually, publish, read_topic

COUNSELLOR = Principal("conseiller.dupont", Role.COUNSELLOR, ft_structure="75101")
OPS = Principal("ops", Role.OPS)


@pytest.fixture
async def database(referral_settings: ReferralSettings) -> AsyncIterator[Database]:
    db = Database(referral_settings.database_url)
    yield db
    await db.dispose()


@pytest.fixture
def networks(unique: Callable[[str], str]) -> tuple[str, str]:
    return unique("reseau-a"), unique("reseau-b")


@pytest.fixture
async def consumer(
    referral_settings: ReferralSettings,
    database: Database,
    kafka_bootstrap: str,
    networks: tuple[str, str],
    unique: Callable[[str], str],
) -> AsyncIterator[EventConsumer]:
    settings = referral_settings.model_copy(update={"kafka_bootstrap_servers": kafka_bootstrap})
    await ensure_topics(settings, [spec for n in networks for spec in topics_of(n)])
    consumer = EventConsumer(
        name=unique("referral"),
        pattern=rf"^agency\.({networks[0]}|{networks[1]})\.responses$",
        registry=agency_response_handlers(),
        database=database,
        tables=PLATFORM,
        settings=settings,
        producer_factory=lambda: make_producer(settings, client_id="test-dlq"),
        on_dead_letter=record_refused_response,
    )
    task = asyncio.create_task(consumer.run())
    try:
        yield consumer
    finally:
        await consumer.stop()
        await task


def _siret() -> str:
    """A fresh Luhn-valid SIRET (the seeded directory already uses the well-known ones)."""
    digits = "0123456789"
    head = "4" + "".join(random.choice(digits) for _ in range(7))
    siren = next(head + d for d in digits if siren_number.is_valid(head + d))
    body = siren + "".join(random.choice(digits) for _ in range(4))
    return next(body + d for d in digits if siret_number.is_valid(body + d))


async def _agency(database: Database, network: str) -> str:
    agency_id = f"agc-{network}"
    async with database.transaction() as session:
        await create_agency(
            session,
            AgencyInput(
                id=agency_id,
                name=f"Agence {network}",
                network_id=network,
                siret=_siret(),
                address=None,
                departement="59",
                email=None,
                rome_codes=("H2913",),
            ),
            OPS,
        )
    return agency_id


async def test_forged_answer_is_refused_audited_counted_and_the_referral_unchanged(
    database: Database, consumer: EventConsumer, kafka_bootstrap: str, networks: tuple[str, str]
) -> None:
    network_a, network_b = networks
    agency_a = await _agency(database, network_a)
    agency_b = await _agency(database, network_b)
    async with database.transaction() as session:
        referral = await send_referral(
            session,
            SendReferral(
                job_seeker=JobSeekerInput("1234567A", "Camille", "Martin"),
                agency_id=agency_a,
                rome_code="H2913",
                message="Profil motivé.",
            ),
            COUNSELLOR,
        )
    now = datetime.now(UTC)
    counted = REFUSED_RESPONSES.labels(network_b, "forbidden")._value.get()
    # Network B, on its own topic: about A's referral naming A's agency, then naming its own.
    forged = [
        await publish(
            kafka_bootstrap,
            agency_responses(network_b).name,
            ReferralAccepted(referral_id=referral.id, agency_id=agency, occurred_at=now),
        )
        for agency in (agency_a, agency_b)
    ]
    letters = await read_topic(kafka_bootstrap, agency_responses(network_b).name + ".dlq", 2)
    assert {dict(r.headers)["ce_id"].decode() for r in letters} == set(forged)
    assert {dict(r.headers)["dlq_error"].decode() for r in letters} == {
        f"L'orientation {referral.id} n'est pas adressée au réseau {network_b} : répondez"
        " seulement aux orientations reçues sur votre flux."
    }

    async def audited() -> list[RefusedResponse] | None:
        async with database.sessionmaker() as session:
            rows = await session.scalars(
                select(RefusedResponse).where(RefusedResponse.network_id == network_b)
            )
            found = list(rows)
        return found if len(found) == len(forged) else None

    rows = await eventually(audited)
    assert {(r.event_id, r.kind, r.referral_id) for r in rows} == {
        (event_id, "forbidden", str(referral.id)) for event_id in forged
    }
    assert REFUSED_RESPONSES.labels(network_b, "forbidden")._value.get() == counted + 2

    # A, on its own topic, about its own referral: applied.
    await publish(
        kafka_bootstrap,
        agency_responses(network_a).name,
        ReferralAcknowledged(referral_id=referral.id, agency_id=agency_a, occurred_at=now),
    )

    async def acknowledged() -> bool:
        async with database.sessionmaker() as session:
            current = await session.get(Referral, referral.id)
            return current is not None and current.status == "acknowledged"

    await eventually(acknowledged)


async def test_an_agency_of_another_network_is_refused_on_the_right_topic(
    database: Database, consumer: EventConsumer, kafka_bootstrap: str, networks: tuple[str, str]
) -> None:
    network_a, network_b = networks
    agency_a = await _agency(database, network_a)
    agency_b = await _agency(database, network_b)
    async with database.transaction() as session:
        referral = await send_referral(
            session,
            SendReferral(
                job_seeker=JobSeekerInput("7654321B", "Léa", "Roux"),
                agency_id=agency_a,
                rome_code="H2913",
                message="Profil motivé.",
            ),
            COUNSELLOR,
        )
    event_id = await publish(
        kafka_bootstrap,
        agency_responses(network_a).name,
        ReferralAccepted(
            referral_id=referral.id, agency_id=agency_b, occurred_at=datetime.now(UTC)
        ),
    )
    letters = await read_topic(kafka_bootstrap, agency_responses(network_a).name + ".dlq", 1)
    assert dict(letters[0].headers)["ce_id"] == event_id.encode()
    assert dict(letters[0].headers)["dlq_error"] == (
        f"L'agence {agency_b} n'appartient pas au réseau {network_a} : vérifiez l'agency_id"
        " (identifiant de l'annuaire de la plateforme).".encode()
    )
    async with database.sessionmaker() as session:
        assert (await session.get(Referral, referral.id)).status == "sent"  # type: ignore[union-attr]

"""A hard-to-fill offer reaches the feeds of the networks with agencies in its territory and
trade, and not the others; an agency answers it on its network's response topic and the answer is
recorded for the indicators (axis 2); an answer from a network the offer was not published to,
or naming another network's agency, is refused, audited and counted — on the real broker
(issue 16, item 5, "Done when")."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from referral.adapters.network_topics import topics_of
from referral.consumers import agency_response_handlers
from referral.domain import HardToFillSource
from referral.models import PLATFORM, OfferAnswer, RefusedResponse
from referral.seed import demo_siret
from referral.settings import ReferralSettings
from referral.use_cases.agencies import AgencyInput, create_agency
from referral.use_cases.indicators import IndicatorFilters
from referral.use_cases.local_actions import measure_local_actions
from referral.use_cases.networks import record_refused_response
from referral.use_cases.offers import OfferInput, create_offer
from shared.auth.tokens import Principal, Role
from shared.contracts.territory import OfferAnswered, OfferAnswerKind
from shared.contracts.topics import agency_feed, agency_responses
from shared.contracts.vocabulary import ContractType
from shared.db.database import Database
from shared.messaging.consumer import EventConsumer
from shared.messaging.kafka import make_producer
from shared.messaging.outbox import OutboxRelay
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
def networks(unique: Callable[[str], str]) -> dict[str, str]:
    # same trade here; same domain (H29) here; another trade here; same trade elsewhere.
    return {name: unique(name) for name in ("exact", "domain", "other-trade", "elsewhere")}


@pytest.fixture
async def settings(
    referral_settings: ReferralSettings, kafka_bootstrap: str, networks: dict[str, str]
) -> ReferralSettings:
    settings = referral_settings.model_copy(update={"kafka_bootstrap_servers": kafka_bootstrap})
    await ensure_topics(settings, [spec for n in networks.values() for spec in topics_of(n)])
    return settings


@pytest.fixture
async def consumer(
    settings: ReferralSettings,
    database: Database,
    networks: dict[str, str],
    unique: Callable[[str], str],
) -> AsyncIterator[EventConsumer]:
    names = "|".join(networks.values())
    consumer = EventConsumer(
        name=unique("referral"),
        pattern=rf"^agency\.({names})\.responses$",
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


async def _directory(database: Database, networks: dict[str, str]) -> dict[str, str]:
    places = {
        "exact": ("80", ("H2913",)),
        "domain": ("80", ("H2909",)),
        "other-trade": ("80", ("N1103",)),
        "elsewhere": ("13", ("H2913",)),
    }
    agencies = {}
    async with database.transaction() as session:
        for number, (name, (departement, codes)) in enumerate(places.items(), start=9000):
            agency_id = f"agc-{networks[name]}"
            await create_agency(
                session,
                AgencyInput(
                    id=agency_id,
                    name=f"Agence {name}",
                    network_id=networks[name],
                    # A thousand numbers per place: two places never draw the same SIRET.
                    siret=demo_siret(
                        number * 1000 + int.from_bytes(agency_id.encode()[-3:]) % 1000
                    ),
                    departement=departement,
                    rome_codes=codes,
                ),
                OPS,
            )
            agencies[name] = agency_id
    return agencies


async def test_a_hard_to_fill_offer_reaches_the_right_feeds_and_an_agency_answers_it(
    settings: ReferralSettings,
    database: Database,
    consumer: EventConsumer,
    kafka_bootstrap: str,
    networks: dict[str, str],
) -> None:
    agencies = await _directory(database, networks)
    async with database.transaction() as session:
        offer = await create_offer(
            session,
            OfferInput(
                title="Soudeur / soudeuse TIG",
                rome_code="H2913",
                departement="80",
                contract_type=ContractType.MISSION,
                posts=3,
                hard_to_fill=True,
                hard_to_fill_source=HardToFillSource.BMO,
            ),
            COUNSELLOR,
        )
        offer_id = offer.id
    relay = OutboxRelay(
        database, PLATFORM, lambda: make_producer(settings, client_id="test-relay"), service="t"
    )
    try:
        while await relay.publish_pending():
            pass
    finally:
        await relay.stop()
        await relay.run()

    for name in ("exact", "domain"):
        (record,) = await read_topic(kafka_bootstrap, agency_feed(networks[name]).name, 1)
        headers = dict(record.headers)
        assert headers["ce_type"] == b"coop.agency.hard_to_fill_offer_published.v1"
        data = json.loads(record.value)
        assert (data["offer_id"], data["agency_ids"]) == (str(offer_id), [agencies[name]])
        assert (data["hard_to_fill_source"], data["rome_code"]) == ("bmo", "H2913")
        assert record.key == str(offer_id).encode()
    for name in ("other-trade", "elsewhere"):
        with pytest.raises(TimeoutError):
            await read_topic(kafka_bootstrap, agency_feed(networks[name]).name, 1, timeout=3)

    now = datetime.now(UTC)
    applied = await publish(
        kafka_bootstrap,
        agency_responses(networks["exact"]).name,
        OfferAnswered(
            offer_id=offer_id,
            agency_id=agencies["exact"],
            answer=OfferAnswerKind.HAS_CANDIDATES,
            candidates=2,
            occurred_at=now,
        ),
    )
    await publish(
        kafka_bootstrap,
        agency_responses(networks["domain"]).name,
        OfferAnswered(
            offer_id=offer_id,
            agency_id=agencies["domain"],
            answer=OfferAnswerKind.REQUEST_MRS,
            occurred_at=now,
        ),
    )
    # Not published to this network; then another network's agency on a published network's topic.
    forged = [
        await publish(
            kafka_bootstrap,
            agency_responses(networks["other-trade"]).name,
            OfferAnswered(
                offer_id=offer_id,
                agency_id=agencies["other-trade"],
                answer=OfferAnswerKind.REQUEST_POEI,
                occurred_at=now,
            ),
        ),
        await publish(
            kafka_bootstrap,
            agency_responses(networks["domain"]).name,
            OfferAnswered(
                offer_id=offer_id,
                agency_id=agencies["exact"],
                answer=OfferAnswerKind.REQUEST_PMSMP,
                occurred_at=now,
            ),
        ),
    ]

    async def answers() -> list[OfferAnswer] | None:
        async with database.sessionmaker() as session:
            rows = list(await session.scalars(select(OfferAnswer).order_by(OfferAnswer.id)))
        return rows if len(rows) >= 2 else None

    rows = await eventually(answers)
    assert {(r.agency_id, r.answer, r.candidates) for r in rows} == {
        (agencies["exact"], "has_candidates", 2),
        (agencies["domain"], "request_mrs", None),
    }
    exact = next(r for r in rows if r.event_id == applied)
    assert (exact.rome_code, exact.departement, exact.region) == ("H2913", "80", "32")
    assert exact.hard_to_fill_source == "bmo"

    async def refused() -> list[RefusedResponse] | None:
        async with database.sessionmaker() as session:
            found = list(
                await session.scalars(
                    select(RefusedResponse).where(RefusedResponse.event_id.in_(forged))
                )
            )
        return found if len(found) == 2 else None

    audit = await eventually(refused)
    assert {r.kind for r in audit} == {"forbidden"}
    assert {r.error.split(" : ")[0] for r in audit} == {
        f"L'offre {offer_id} n'a pas été publiée au réseau {networks['other-trade']}",
        f"L'agence {agencies['exact']} n'appartient pas au réseau {networks['domain']}",
    }
    async with database.sessionmaker() as session:
        count = len(list(await session.scalars(select(OfferAnswer.id))))
    assert count == 2

    # The MRS request flows on to the dispositifs service (referral.events), the answer with
    # candidates and the refused ones do not.
    async with database.sessionmaker() as session:
        outbox = PLATFORM.outbox
        staged = list(
            await session.execute(
                select(outbox.c.topic, outbox.c.data).where(
                    outbox.c.event_type == "coop.offer.scheme_requested.v1"
                )
            )
        )
    assert [(topic, data["scheme"], data["agency_id"]) for topic, data in staged] == [
        ("referral.events", "mrs", agencies["domain"])
    ]
    assert staged[0][1]["offer_id"] == str(offer_id)
    assert (staged[0][1]["rome_code"], staged[0][1]["departement"]) == ("H2913", "80")

    # The indicators count it under axis 2: one offer published to two networks, answered.
    steering = Principal(subject="copil", role=Role.STEERING)
    async with database.sessionmaker() as session:
        local = await measure_local_actions(session, steering, IndicatorFilters())
    assert local["hard_to_fill_offers"] == {
        "published": 1,
        "answered": 1,
        "answers": {
            "has_candidates": 1,
            "request_pmsmp": 0,
            "request_mrs": 1,
            "request_poei": 0,
        },
    }
    # Filtered by région, both counts follow the offer's (Hauts-de-France, 32), none elsewhere.
    async with database.sessionmaker() as session:
        here = await measure_local_actions(session, steering, IndicatorFilters(region="32"))
        elsewhere = await measure_local_actions(session, steering, IndicatorFilters(region="84"))
    assert (here["hard_to_fill_offers"]["published"], here["hard_to_fill_offers"]["answered"]) == (
        1,
        1,
    )
    assert elsewhere["hard_to_fill_offers"]["published"] == 0
    assert elsewhere["hard_to_fill_offers"]["answered"] == 0

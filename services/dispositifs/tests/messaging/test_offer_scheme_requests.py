"""An agency's PMSMP/MRS/POEI request on a hard-to-fill offer flows to the dispositifs service
through the real broker (issue 16, item 5): ``coop.offer.scheme_requested.v1`` on
``referral.events`` opens one request per applied answer (a redelivery adds nothing)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select

from dispositifs.consumers import referral_event_handlers
from dispositifs.models import PLATFORM, OfferSchemeRequest
from dispositifs.settings import DispositifsSettings
from shared.contracts.territory import OfferScheme
from shared.db.database import Database
from shared.testing_kafka import eventually, publish, running_consumer

from ..service.test_offer_scheme_requests import scheme_requested


async def test_scheme_requests_on_offers_open_requests_once(
    settings: DispositifsSettings,
    database: Database,
    kafka_bootstrap: str,
    unique: Callable[[str], str],
) -> None:
    topic = unique("referral.events")
    mrs = scheme_requested("59350", OfferScheme.MRS)
    poei = scheme_requested(None, OfferScheme.POEI)
    async with running_consumer(
        settings=settings,
        database=database,
        tables=PLATFORM,
        registry=referral_event_handlers(settings),
        topic=topic,
        group=unique("dispositifs"),
    ):
        await publish(kafka_bootstrap, topic, mrs)
        await publish(kafka_bootstrap, topic, mrs)  # the same answer again: one request
        await publish(kafka_bootstrap, topic, poei)

        async def requests() -> list[OfferSchemeRequest]:
            """The requests once the three deliveries (the repeat included) are processed."""
            async with database.sessionmaker() as session:
                processed = await session.scalar(
                    select(func.count()).select_from(PLATFORM.processed_events)
                )
                rows = list(await session.scalars(select(OfferSchemeRequest)))
            return rows if processed == 3 else []

        found = await eventually(requests)
    assert sorted((r.scheme, r.structure_code, r.status) for r in found) == [
        ("mrs", "59350", "open"),
        ("poei", None, "open"),
    ]
    assert {r.offer_id for r in found} == {mrs.offer_id, poei.offer_id}

"""The referral as agencies live it (issue 12), through the real referral service and broker: the
agency answers on its network's response topic, the counsellor reads the referral over HTTP, the
feeds are read from the broker. Vivier then mission; postponement then acceptance; pre-hire PMSMP
then hire; transfer to a sister agency; two agencies, one places and the other's referral turns
obsolete (its network's feed says so); staleness with a clock moved to seconds (reminder, then
``no_news``); a placement extended past 6 months becomes durable.

One referral service of its own, whose staleness delays are seconds (the "moved clock"): every
other path here ends out of the watched states, or is checked before the delay runs out."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from devstack.services import ServiceProcess
from shared.contracts import agency as a
from shared.contracts.referral import PriorToHireAction
from shared.contracts.vocabulary import ContractType
from shared.domain.placements import add_months

from .referral_steps import (
    header,
    records_about,
    referral_alone,
    referral_detail,
    wait_for_status,
)
from .steps import agency_answers, eventually, now, send_referral

pytestmark = pytest.mark.e2e

LILLE = "agc-interim-nord-lille"
ARRAS = "agc-interim-nord-arras"
LYON = "agc-travail-plus-lyon"
NORD = "/agencies/interim-nord"
TRAVAIL_PLUS = "/agencies/travail-plus"
STALE_SECONDS = 4


@pytest.fixture(scope="module")
async def service(  # type: ignore[no-untyped-def]
    kafka_broker, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ServiceProcess]:
    async with referral_alone(
        kafka_broker.bootstrap_servers,
        tmp_path_factory.mktemp("lifecycle"),
        {
            "STALE_AFTER_SECONDS": str(STALE_SECONDS),
            "STALE_CLOSE_AFTER_SECONDS": str(STALE_SECONDS),
            "EXPIRY_JOB_INTERVAL_SECONDS": "1",
        },
    ) as process:
        yield process


async def _answer(kafka_broker, response: a.AgencyResponse, *, network: str = "interim-nord"):  # type: ignore[no-untyped-def]
    source = NORD if network == "interim-nord" else TRAVAIL_PLUS
    await agency_answers(kafka_broker.bootstrap_servers, response, source=source, network=network)


async def test_vivier_then_mission(service, kafka_broker, counsellor_headers) -> None:  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(timeout=10) as client:
        created = await send_referral(
            client, service.url, counsellor_headers, ft_identifier="6100001L"
        )
        referral_id = uuid.UUID(created["id"])
        await _answer(
            kafka_broker,
            a.ReferralPooled(
                referral_id=referral_id, agency_id=LILLE, occurred_at=now(), rome_codes=["H2913"]
            ),
        )
        pooled = await wait_for_status(
            client, service.url, counsellor_headers, created["id"], "pool"
        )
        assert pooled["lifecycle"]["pool_rome_codes"] == ["H2913"]
        assert pooled["timeline"][-1]["label"] == (
            "Candidat inscrit dans le vivier de l'agence (métiers : H2913)"
        )
        await _answer(
            kafka_broker,
            a.PlacementStarted(
                referral_id=referral_id,
                agency_id=LILLE,
                occurred_at=now(),
                contract_type=ContractType.MISSION,
                start_date=now().date(),
                expected_end_date=now().date() + timedelta(days=20),
            ),
        )
        await wait_for_status(client, service.url, counsellor_headers, created["id"], "placed")


async def test_postponement_then_acceptance(service, kafka_broker, counsellor_headers) -> None:  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(timeout=10) as client:
        created = await send_referral(
            client, service.url, counsellor_headers, ft_identifier="6100002L"
        )
        referral_id = uuid.UUID(created["id"])
        come_back = now().date() + timedelta(days=14)
        await _answer(
            kafka_broker,
            a.ReferralPostponed(
                referral_id=referral_id, agency_id=LILLE, occurred_at=now(), come_back_on=come_back
            ),
        )
        postponed = await wait_for_status(
            client, service.url, counsellor_headers, created["id"], "postponed"
        )
        assert postponed["lifecycle"]["postponed_until"] == come_back.isoformat()
        assert postponed["timeline"][-1]["label"].endswith(f"(jusqu'au {come_back:%d/%m/%Y})")
        await _answer(
            kafka_broker,
            a.ReferralAccepted(referral_id=referral_id, agency_id=LILLE, occurred_at=now()),
        )
        accepted = await wait_for_status(
            client, service.url, counsellor_headers, created["id"], "accepted"
        )
        assert [e["action"] for e in accepted["timeline"]] == ["send", "postpone", "accept"]


async def test_pre_hire_pmsmp_then_hire(service, kafka_broker, counsellor_headers) -> None:  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(timeout=10) as client:
        created = await send_referral(
            client, service.url, counsellor_headers, ft_identifier="6100003L"
        )
        referral_id = uuid.UUID(created["id"])
        await _answer(
            kafka_broker,
            a.PriorToHireStarted(
                referral_id=referral_id,
                agency_id=LILLE,
                occurred_at=now(),
                prior_action=PriorToHireAction.PMSMP,
            ),
        )
        prior = await wait_for_status(
            client, service.url, counsellor_headers, created["id"], "prior_to_hire"
        )
        assert prior["lifecycle"]["prior_to_hire_action"] == "pmsmp"
        await _answer(
            kafka_broker,
            a.PlacementStarted(
                referral_id=referral_id,
                agency_id=LILLE,
                occurred_at=now(),
                contract_type=ContractType.CDI,
                start_date=now().date(),
            ),
        )
        placed = await wait_for_status(
            client, service.url, counsellor_headers, created["id"], "placed"
        )
        assert placed["placement"]["durable"] is True


async def test_transfer_to_a_sister_agency(service, kafka_broker, counsellor_headers) -> None:  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(timeout=10) as client:
        created = await send_referral(
            client, service.url, counsellor_headers, ft_identifier="6100004L"
        )
        referral_id = uuid.UUID(created["id"])
        await _answer(
            kafka_broker,
            a.ReferralTransferred(
                referral_id=referral_id, agency_id=LILLE, occurred_at=now(), to_agency_id=ARRAS
            ),
        )
        moved = await wait_for_status(
            client, service.url, counsellor_headers, created["id"], "transferred"
        )
        assert (moved["agency_id"], moved["lifecycle"]["transferred_from_agency_id"]) == (
            ARRAS,
            LILLE,
        )
        await _answer(
            kafka_broker,
            a.ReferralAcknowledged(referral_id=referral_id, agency_id=ARRAS, occurred_at=now()),
        )
        await wait_for_status(
            client, service.url, counsellor_headers, created["id"], "acknowledged"
        )
    bootstrap = kafka_broker.bootstrap_servers
    internal = await records_about(bootstrap, "referral.events", created["id"], count=2)
    assert header(internal[1], "ce_type") == "coop.referral.agency_changed.v1"
    feed = await records_about(bootstrap, "agency.interim-nord.feed", created["id"], count=2)
    assert header(feed[1], "ce_type") == "coop.agency.referral_transferred.v1"


async def test_one_agency_places_the_others_referral_turns_obsolete(  # type: ignore[no-untyped-def]
    service, kafka_broker, counsellor_headers
) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        hiring = await send_referral(
            client, service.url, counsellor_headers, ft_identifier="6100005L"
        )
        other = await send_referral(
            client, service.url, counsellor_headers, ft_identifier="6100005L", agency_id=LYON
        )
        await _answer(
            kafka_broker,
            a.ReferralAcknowledged(
                referral_id=uuid.UUID(other["id"]), agency_id=LYON, occurred_at=now()
            ),
            network="travail-plus",
        )
        await wait_for_status(client, service.url, counsellor_headers, other["id"], "acknowledged")
        await _answer(
            kafka_broker,
            a.PlacementStarted(
                referral_id=uuid.UUID(hiring["id"]),
                agency_id=LILLE,
                occurred_at=now(),
                contract_type=ContractType.MISSION,
                start_date=now().date(),
                expected_end_date=now().date() + timedelta(days=30),
            ),
        )
        # Placed straight from sent is refused: the agency acknowledges first.
        await _answer(
            kafka_broker,
            a.ReferralAcknowledged(
                referral_id=uuid.UUID(hiring["id"]), agency_id=LILLE, occurred_at=now()
            ),
        )
        await _answer(
            kafka_broker,
            a.PlacementStarted(
                referral_id=uuid.UUID(hiring["id"]),
                agency_id=LILLE,
                occurred_at=now(),
                contract_type=ContractType.MISSION,
                start_date=now().date(),
                expected_end_date=now().date() + timedelta(days=30),
            ),
        )
        await wait_for_status(client, service.url, counsellor_headers, hiring["id"], "placed")
        obsolete = await wait_for_status(
            client, service.url, counsellor_headers, other["id"], "obsolete"
        )
        assert obsolete["timeline"][-1]["label"] == (
            "Orientation sans objet : candidat embauché ailleurs"
        )
    feed = await records_about(
        kafka_broker.bootstrap_servers, "agency.travail-plus.feed", other["id"], count=2
    )
    assert [header(r, "ce_type") for r in feed] == [
        "coop.agency.referral_received.v1",
        "coop.agency.referral_obsolete.v1",
    ]
    assert hiring["id"].encode() not in feed[1].value  # the competitor is not told who hired


async def test_staleness_reminds_then_closes_without_news(  # type: ignore[no-untyped-def]
    service, kafka_broker, counsellor_headers
) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        created = await send_referral(
            client, service.url, counsellor_headers, ft_identifier="6100006L"
        )
        await _answer(
            kafka_broker,
            a.ReferralAccepted(
                referral_id=uuid.UUID(created["id"]), agency_id=LILLE, occurred_at=now()
            ),
        )
        closed = await wait_for_status(
            client,
            service.url,
            counsellor_headers,
            created["id"],
            "no_news",
            timeout=STALE_SECONDS * 2 + 20,
        )
        assert [e["action"] for e in closed["timeline"]][-3:] == [
            "accept",
            "remind_stale",
            "close_no_news",
        ]
    feed = await records_about(
        kafka_broker.bootstrap_servers, "agency.interim-nord.feed", created["id"], count=3
    )
    assert [header(r, "ce_type") for r in feed] == [
        "coop.agency.referral_received.v1",
        "coop.agency.referral_reminder.v1",
        "coop.agency.referral_closed_no_news.v1",
    ]


async def test_a_placement_extended_past_six_months_becomes_durable(  # type: ignore[no-untyped-def]
    service, kafka_broker, counsellor_headers
) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        created = await send_referral(
            client, service.url, counsellor_headers, ft_identifier="6100007L"
        )
        referral_id = uuid.UUID(created["id"])
        # Dates from today: a start months ago would make the daily follow-up job (every second
        # here) write its own timeline entries meanwhile. Three months, then extended to six.
        start = now().date()
        last_day = add_months(start, 6) - timedelta(days=1)
        await _answer(
            kafka_broker,
            a.ReferralAcknowledged(referral_id=referral_id, agency_id=LILLE, occurred_at=now()),
        )
        await _answer(
            kafka_broker,
            a.PlacementStarted(
                referral_id=referral_id,
                agency_id=LILLE,
                occurred_at=now(),
                contract_type=ContractType.CDD,
                start_date=start,
                expected_end_date=add_months(start, 3) - timedelta(days=1),
            ),
        )
        placed = await wait_for_status(
            client, service.url, counsellor_headers, created["id"], "placed"
        )
        assert placed["placement"]["durable"] is False
        await _answer(
            kafka_broker,
            a.PlacementExtended(
                referral_id=referral_id,
                agency_id=LILLE,
                occurred_at=now(),
                new_end_date=last_day,
            ),
        )

        async def extended() -> dict[str, Any] | None:
            detail = await referral_detail(client, service.url, counsellor_headers, created["id"])
            return detail if detail["timeline"][-1]["action"] == "extend_placement" else None

        detail = await eventually(extended, timeout=20)
        assert detail["placement"]["expected_end_date"] == last_day.isoformat()
        assert detail["placement"]["durable"] is True
        assert detail["timeline"][-1]["label"] == (
            f"Contrat prolongé (jusqu'au {last_day:%d/%m/%Y})"
        )

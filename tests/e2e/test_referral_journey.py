"""The referral journey through the real services and broker: a counsellor refers, the agency
answers over Kafka (accepted, interview, placement started), the dispositifs service reports an
MRS evaluation → the timeline and the indicators reflect it. A decline path and an expiry path
too (the expiry path runs its own referral service with a delay of seconds)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta

import httpx
import pytest

from devstack.services import ServiceProcess
from shared.contracts.agency import (
    InterviewScheduled,
    PlacementStarted,
    ReferralAccepted,
    ReferralDeclined,
)
from shared.contracts.dispositifs import MrsEvaluated
from shared.contracts.vocabulary import ContractType, DeclineReason

from .conftest import Stack
from .referral_steps import (
    header,
    indicators,
    publish_event,
    records_about,
    referral_alone,
    referral_detail,
    wait_for_status,
)
from .steps import agency_answers, eventually, now, send_referral

pytestmark = pytest.mark.e2e

AGENCY = "agc-interim-nord-lille"
AGENCY_SOURCE = "/agencies/interim-nord"


async def test_accepted_interview_and_placement_show_in_timeline_and_indicators(
    stack: Stack, counsellor_headers: dict[str, str], ops_headers: dict[str, str]
) -> None:
    base = stack.url("referral")
    async with httpx.AsyncClient(timeout=10) as client:
        before = await indicators(client, base, ops_headers, network_id="interim-nord")
        created = await send_referral(client, base, counsellor_headers, ft_identifier="5100001J")
        referral_id = uuid.UUID(created["id"])
        bootstrap = stack.bootstrap_servers

        await agency_answers(
            bootstrap,
            ReferralAccepted(referral_id=referral_id, agency_id=AGENCY, occurred_at=now()),
            source=AGENCY_SOURCE,
        )
        await agency_answers(
            bootstrap,
            InterviewScheduled(
                referral_id=referral_id,
                agency_id=AGENCY,
                occurred_at=now(),
                interview_at=now() + timedelta(days=2),
                location="Agence de Lille",
            ),
            source=AGENCY_SOURCE,
        )
        await publish_event(  # as the dispositifs service would
            bootstrap,
            MrsEvaluated(
                session_id=uuid.uuid4(),
                candidate_id=uuid.uuid4(),
                referral_id=referral_id,
                rome_code="H2913",
                positive=True,
                occurred_at=now(),
            ),
            source="/coop/dispositifs",
        )
        await agency_answers(
            bootstrap,
            PlacementStarted(
                referral_id=referral_id,
                agency_id=AGENCY,
                occurred_at=now(),
                contract_type=ContractType.CDI_INTERIMAIRE,
                start_date=date.today() + timedelta(days=7),
                weekly_hours=35,
            ),
            source=AGENCY_SOURCE,
        )

        detail = await wait_for_status(client, base, counsellor_headers, created["id"], "placed")
        assert [e["to_status"] for e in detail["timeline"] if e["kind"] == "transition"] == [
            "sent",
            "accepted",
            "interview_scheduled",
            "placed",
        ]
        assert detail["placement"]["contract_type"] == "cdi_interimaire"

        async def with_mrs() -> dict[str, object] | None:
            body = await referral_detail(client, base, counsellor_headers, created["id"])
            kinds = [e.get("scheme") for e in body["timeline"] if e["kind"] == "scheme_event"]
            return body if kinds == ["mrs"] else None

        detail = await eventually(with_mrs, timeout=15)
        assert [e["kind"] for e in detail["timeline"]] == [
            "transition",
            "transition",
            "transition",
            "scheme_event",
            "transition",
        ]

        after = await indicators(client, base, ops_headers, network_id="interim-nord")
        assert after["referrals_sent"] == before["referrals_sent"] + 1
        assert after["accepted"] == before["accepted"] + 1
        assert after["placements"] == before["placements"] + 1
        assert after["durable_placements"] == before["durable_placements"] + 1
        assert after["placement_after_mrs"]["placed"] == before["placement_after_mrs"]["placed"] + 1

        # Other services learn each step from referral.events.
        events = await records_about(bootstrap, "referral.events", created["id"], count=4)
        assert [header(r, "ce_type") for r in events] == [
            "coop.referral.sent.v1",
            "coop.referral.status_changed.v1",
            "coop.referral.status_changed.v1",
            "coop.referral.status_changed.v1",
        ]


async def test_declined_referral_counts_by_reason_and_a_late_answer_is_dead_lettered(
    stack: Stack, counsellor_headers: dict[str, str], ops_headers: dict[str, str]
) -> None:
    base = stack.url("referral")
    async with httpx.AsyncClient(timeout=10) as client:
        before = await indicators(client, base, ops_headers)
        created = await send_referral(client, base, counsellor_headers, ft_identifier="5100002J")
        referral_id = uuid.UUID(created["id"])
        await agency_answers(
            stack.bootstrap_servers,
            ReferralDeclined(
                referral_id=referral_id,
                agency_id=AGENCY,
                occurred_at=now(),
                reason=DeclineReason.LACKING_SKILLS,
                comment="Pas d'expérience en soudure TIG.",
            ),
            source=AGENCY_SOURCE,
        )
        detail = await wait_for_status(client, base, counsellor_headers, created["id"], "declined")
        last = detail["timeline"][-1]
        assert (last["reason"], last["reason_label"]) == (
            "lacking_skills",
            "Compétences insuffisantes pour le poste",
        )
        late = await agency_answers(
            stack.bootstrap_servers,
            ReferralAccepted(referral_id=referral_id, agency_id=AGENCY, occurred_at=now()),
            source=AGENCY_SOURCE,
        )
        letters = await records_about(
            stack.bootstrap_servers, "agency.interim-nord.responses.dlq", created["id"], count=1
        )
        assert header(letters[0], "ce_id") == late.id
        assert header(letters[0], "dlq_error").startswith(
            "« Candidature acceptée par l'agence » (accept) impossible : l'orientation est"
            " « Déclinée » (declined)."
        )

        after = await indicators(client, base, ops_headers)
        assert after["declined"] == before["declined"] + 1
        reasons_before, reasons_after = before["declined_by_reason"], after["declined_by_reason"]
        assert reasons_after["lacking_skills"] == reasons_before["lacking_skills"] + 1
        # Still declined: the late answer changed nothing.
        assert (await referral_detail(client, base, counsellor_headers, created["id"]))[
            "status"
        ] == "declined"


@pytest.fixture(scope="module")
async def quick_expiry_referral(  # type: ignore[no-untyped-def]
    kafka_broker, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ServiceProcess]:
    """The referral service alone, expiring unanswered referrals after 3 seconds."""
    async with referral_alone(
        kafka_broker.bootstrap_servers,
        tmp_path_factory.mktemp("expiry"),
        {"EXPIRY_AFTER_SECONDS": "3", "EXPIRY_JOB_INTERVAL_SECONDS": "1"},
    ) as process:
        yield process


async def test_unanswered_referral_expires_and_says_so_on_the_topic(
    quick_expiry_referral: ServiceProcess,
    kafka_broker,  # type: ignore[no-untyped-def]
    counsellor_headers: dict[str, str],
) -> None:
    base = quick_expiry_referral.url
    async with httpx.AsyncClient(timeout=10) as client:
        created = await send_referral(client, base, counsellor_headers, ft_identifier="5100003J")
        detail = await wait_for_status(
            client, base, counsellor_headers, created["id"], "expired", timeout=30
        )
        last = detail["timeline"][-1]
        assert (last["action"], last["actor"]) == ("expire", "system")
    events = await records_about(
        kafka_broker.bootstrap_servers, "referral.events", created["id"], count=2
    )
    assert [header(r, "ce_type") for r in events] == [
        "coop.referral.sent.v1",
        "coop.referral.expired.v1",
    ]

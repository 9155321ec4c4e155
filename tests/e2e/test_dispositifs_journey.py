"""The dispositifs journey through the real services and broker: referral sent → the agency asks
for an immersion over Kafka → the counsellor completes and validates it over HTTP → immersion
completed with "hired" → the referral's timeline shows it and the indicators count it; and a
request that breaks a rule is answered with ``immersion.rejected`` and its article.

Steps that need the referral service to republish the agency's request
(``coop.referral.immersion_requested.v1``) or to put dispositifs events on its timeline are
marked ``[referral side]``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from .conftest import Stack
from .dispositifs_steps import (
    COUNSELLOR_COMPLETION,
    convention_of,
    counsellor_step,
    dispositifs_events_about,
    immersion_request,
    sign_by_every_party,
    signing_links,
    timeline_entry,
)
from .steps import agency_answers, eventually, send_referral

pytestmark = pytest.mark.e2e

AGENCY_SOURCE = "/agencies/interim-nord"


async def _known_to_dispositifs(
    client: httpx.AsyncClient, stack: Stack, headers: dict[str, str], referral_id: str
) -> None:
    async def known() -> bool:
        response = await client.get(
            f"{stack.url('dispositifs')}/v1/referrals/{referral_id}", headers=headers
        )
        return response.status_code == 200

    await eventually(known, timeout=10)


async def test_agency_immersion_request_to_hire_shows_on_the_timeline_and_in_the_indicators(
    stack: Stack, counsellor_headers: dict[str, str], ops_headers: dict[str, str]
) -> None:
    today = datetime.now(UTC).date()
    dispositifs = stack.url("dispositifs")
    async with httpx.AsyncClient(timeout=10) as client:
        referral = await send_referral(
            client, stack.url("referral"), counsellor_headers, ft_identifier="4444444D"
        )
        rid = referral["id"]
        await _known_to_dispositifs(client, stack, counsellor_headers, rid)

        # Dated so that its last day is today: it may be completed (issue 13).
        await agency_answers(
            stack.bootstrap_servers,
            immersion_request(rid, today - timedelta(days=13)),
            source=AGENCY_SOURCE,
        )
        # [referral side] the referral service republishes the request after its checks.
        convention = await convention_of(client, dispositifs, counsellor_headers, rid)
        assert (convention["status"], convention["origin"]) == ("requested", "agency")
        assert convention["agency_id"] == "agc-interim-nord-lille"
        assert convention["tutor"]["name"] == "Nadia Benali"
        cid = convention["id"]

        completed = await client.patch(
            f"{dispositifs}/v1/immersions/{cid}",
            json=COUNSELLOR_COMPLETION,
            headers=counsellor_headers,
        )
        assert completed.status_code == 200, completed.text
        await counsellor_step(client, dispositifs, counsellor_headers, cid, "ready")
        # Each party signs through its own link (issue 13: the counsellor signs for no one).
        links = await signing_links(stack.bootstrap_servers, rid)
        await sign_by_every_party(client, dispositifs, links)
        validated = await counsellor_step(client, dispositifs, counsellor_headers, cid, "validate")
        assert validated["status"] == "validated"
        await counsellor_step(client, dispositifs, counsellor_headers, cid, "start")
        done = await counsellor_step(
            client,
            dispositifs,
            counsellor_headers,
            cid,
            "complete",
            {
                "objectives_reached": True,
                "hired": True,
                "assessment": "Embauchée en CDI intérimaire",
            },
        )
        assert done["status"] == "completed"

        # [referral side] dispositifs events on the referral's timeline.
        entry = await timeline_entry(
            client, stack.url("referral"), counsellor_headers, rid, mentioning="Immersion terminée"
        )
        assert "embauche" in str(entry)

        start = (today - timedelta(days=13)).isoformat()
        params = {"from": start, "to": today.isoformat(), "region": "32"}
        indicators = (
            await client.get(f"{dispositifs}/v1/indicators", params=params, headers=ops_headers)
        ).json()
        [hauts_de_france] = indicators["regions"]
        assert hauts_de_france["region_name"] == "Hauts-de-France"
        assert hauts_de_france["immersions"]["booked"] >= 1
        assert hauts_de_france["immersions"]["hired_after"] >= 1


async def test_an_immersion_request_breaking_a_rule_is_answered_with_its_reason_and_article(
    stack: Stack, counsellor_headers: dict[str, str]
) -> None:
    today = datetime.now(UTC).date()
    async with httpx.AsyncClient(timeout=10) as client:
        referral = await send_referral(
            client, stack.url("referral"), counsellor_headers, ft_identifier="5555555E"
        )
        rid = referral["id"]
        await _known_to_dispositifs(client, stack, counsellor_headers, rid)
        await agency_answers(
            stack.bootstrap_servers,
            immersion_request(rid, today, weekly_hours=49, end_date=today + timedelta(days=40)),
            source=AGENCY_SOURCE,
        )
        # [referral side] the request reaches dispositifs through the referral service.
        [rejected] = await dispositifs_events_about(
            stack.bootstrap_servers, rid, "coop.immersion.rejected.v1"
        )
        assert "Code du travail, art. D5135-3" in rejected["article"]
        assert "L3121-20" in rejected["article"]
        assert {v["field"] for v in rejected["violations"]} >= {"end_date", "weekly_hours"}
        convention = await convention_of(client, stack.url("dispositifs"), counsellor_headers, rid)
        assert convention["status"] == "rejected"

        # [referral side] the agency learns why through the referral's timeline and feed.
        entry = await timeline_entry(
            client, stack.url("referral"), counsellor_headers, rid, mentioning="D5135-3"
        )
        assert "49 h" in str(entry)

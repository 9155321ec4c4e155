"""A job dating across processes (issue 16, "Done when"): the referral service as a real process
against the real broker; a counsellor sets up a job dating with three agencies of two networks
and invites ten job seekers in bulk; each network's ERP reads its invitations on its own feed;
attendance is recorded; two agencies answer a hire over Kafka — and the figures invited / came /
hired show it in the indicators and on the steering dashboard's page."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from devstack.services import ServiceProcess
from shared.auth.tokens import Role, mint_token
from shared.contracts import agency as a
from shared.contracts.vocabulary import ContractType
from shared.settings import DEVELOPMENT_JWT_SECRET

from .referral_steps import records_about, referral_alone, wait_for_status
from .steps import agency_answers, eventually, now

pytestmark = pytest.mark.e2e

AGENCIES = {
    "agc-interim-nord-lille": "interim-nord",
    "agc-interim-nord-arras": "interim-nord",
    "agc-travail-plus-lyon": "travail-plus",
}


@pytest.fixture(scope="module")
async def service(  # type: ignore[no-untyped-def]
    kafka_broker, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ServiceProcess]:
    async with referral_alone(
        kafka_broker.bootstrap_servers,
        tmp_path_factory.mktemp("job-dating"),
        {
            # Cells of 1 shown: this test counts (three absent, two hired); statistical secrecy
            # has its own tests (services/referral/tests/unit/test_secrecy.py).
            "STATISTICAL_SECRECY_THRESHOLD": "1"
        },
    ) as process:
        yield process


def _steering() -> dict[str, str]:
    token = mint_token(
        key=DEVELOPMENT_JWT_SECRET,
        subject="e2e-copil",
        role=Role.STEERING,
        issuer="coop-platform-dev",
        audience="coop-platform",
    )
    return {"Authorization": f"Bearer {token}"}


def _key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


async def test_a_job_dating_with_three_agencies_ten_invited_and_two_hires_across_processes(  # type: ignore[no-untyped-def]
    service, kafka_broker, counsellor_headers
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    starts = (now() + timedelta(days=10)).replace(hour=9, minute=0, second=0, microsecond=0)
    period = {"from": starts.date().isoformat(), "to": starts.date().isoformat()}
    async with httpx.AsyncClient(base_url=service.url, timeout=15) as client:
        created = await client.post(
            "/v1/job-datings",
            json={
                "kind": "job_dating",
                "title": "Job dating logistique",
                "starts_at": starts.isoformat(),
                "ends_at": (starts + timedelta(hours=4)).isoformat(),
                "place": "Agence France Travail Lille Centre, 1 rue Nationale",
                "departement": "59",
                "rome_code": "N1103",
                "agencies": [{"agency_id": agency_id} for agency_id in AGENCIES],
                "slots": [(starts + timedelta(minutes=20 * i)).isoformat() for i in range(12)],
            },
            headers={**counsellor_headers, **_key()},
        )
        assert created.status_code == 201, created.text
        job_dating_id = created.json()["id"]

        seekers = []
        for n in range(10):
            response = await client.post(
                "/v1/job-seekers",
                json={
                    "ft_identifier": f"{6200100 + n}J",
                    "first_name": f"Invité{n}",
                    "last_name": "Salon",
                    "departement": "59",
                },
                headers={**counsellor_headers, **_key()},
            )
            assert response.status_code == 201, response.text
            seekers.append(response.json()["id"])

        invited: list[dict[str, Any]] = []
        groups = (seekers[:4], seekers[4:7], seekers[7:])
        for agency_id, group in zip(AGENCIES, groups, strict=True):
            response = await client.post(
                f"/v1/job-datings/{job_dating_id}/invitations",
                json={"agency_id": agency_id, "job_seeker_ids": group, "message": "À bientôt."},
                headers={**counsellor_headers, **_key()},
            )
            assert response.status_code == 201, response.text
            invited += response.json()
        assert len({i["referral_id"] for i in invited}) == 10

        # Each network's ERP reads its agencies' invitations on its own feed, keyed by the job
        # dating, without the job seekers' identity (none was shared).
        nord = await records_about(
            bootstrap, "agency.interim-nord.feed", job_dating_id, count=2, timeout=60
        )
        plus = await records_about(
            bootstrap, "agency.travail-plus.feed", job_dating_id, count=1, timeout=60
        )
        by_agency = {
            payload["agency_id"]: payload
            for payload in (json.loads(record.value) for record in (*nord, *plus))
        }
        assert {k: len(v["invitations"]) for k, v in by_agency.items()} == {
            "agc-interim-nord-lille": 4,
            "agc-interim-nord-arras": 3,
            "agc-travail-plus-lyon": 3,
        }
        assert "Invité0" not in str(by_agency)

        came = {i["id"] for i in invited[:7]}
        attendance = await client.post(
            f"/v1/job-datings/{job_dating_id}/attendance",
            json={
                "entries": [{"invitation_id": i["id"], "came": i["id"] in came} for i in invited]
            },
            headers=counsellor_headers,
        )
        assert attendance.status_code == 200, attendance.text

        # Two hires, answered by Intérim Nord's ERP over Kafka (the usual answers).
        hired = (invited[0], invited[4])
        for row in hired:
            referral_id = uuid.UUID(row["referral_id"])
            for answer in (
                a.ReferralAccepted(
                    referral_id=referral_id, agency_id=row["agency_id"], occurred_at=now()
                ),
                a.PlacementStarted(
                    referral_id=referral_id,
                    agency_id=row["agency_id"],
                    occurred_at=now(),
                    contract_type=ContractType.CDI,
                    start_date=now().date(),
                ),
            ):
                await agency_answers(bootstrap, answer, source="/agencies/interim-nord")
        for row in hired:
            await wait_for_status(
                client, service.url, counsellor_headers, row["referral_id"], "placed", timeout=60
            )

        expected = {"events": 1, "invited": 10, "came": 7, "did_not_come": 3, "hired": 2}

        async def counted() -> dict[str, Any] | None:
            local = await client.get(
                "/v1/indicators/local-actions", params=period, headers=_steering()
            )
            assert local.status_code == 200, local.text
            return local.json() if local.json()["job_datings"] == expected else None

        await eventually(counted, timeout=30)
        detail = await client.get(f"/v1/job-datings/{job_dating_id}", headers=counsellor_headers)
        assert detail.json()["figures"]["total"] == {
            "invited": 10,
            "came": 7,
            "did_not_come": 3,
            "hired": 2,
        }

        # The steering committee's page (server-rendered, every period) shows what the API says.
        api = await client.get("/v1/indicators/local-actions", headers=_steering())
        datings = api.json()["job_datings"]
        assert datings["invited"] == 10
        link = await client.post("/v1/steering/dashboard-link", headers=_steering())
        assert link.status_code in (200, 201), link.text
        page = await client.get(link.json()["url"], follow_redirects=True)
        assert page.status_code == 200, page.text
        for element, key in (
            ("job-datings-events", "events"),
            ("job-datings-invited", "invited"),
            ("job-datings-came", "came"),
            ("job-datings-absent", "did_not_come"),
            ("job-datings-hired", "hired"),
        ):
            shown = page.text.split(f'id="{element}">', 1)[1].split("<", 1)[0].strip()
            assert shown == str(datings[key]), (element, shown, datings)

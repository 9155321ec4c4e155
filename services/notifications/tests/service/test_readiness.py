"""Pending deliveries are visible (issue 14, "lag is visible"): ``/health/ready`` carries their
count and says "degraded" beyond ``NOTIFICATIONS_READINESS_DELIVERIES_PENDING_DEGRADED`` — still
200, a slow but working instance is not dropped — and ``coop_backlog{name="deliveries"}`` is
the same figure."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
from prometheus_client import REGISTRY
from sqlalchemy import update

from notifications.app import create_app
from notifications.models import Delivery
from notifications.settings import NotificationsSettings
from notifications.use_cases import recipients
from shared.contracts.referral import ReferralSent
from shared.db.database import Database

from ..conftest import record_event

AGENCY = "agc-interim-nord-lille"


def _sent() -> ReferralSent:
    return ReferralSent(
        referral_id=uuid.uuid4(),
        job_seeker_id=uuid.uuid4(),
        agency_id=AGENCY,
        network_id="interim-nord",
        rome_code="H2913",
        counsellor_id="conseiller.dupont",
        sent_at=datetime.now(UTC),
    )


async def _ready(settings: NotificationsSettings) -> tuple[int, dict]:  # type: ignore[type-arg]
    app = create_app(settings)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://n.test") as client:
            response = await client.get("/health/ready")
        return response.status_code, response.json()
    finally:
        await app.state.runtime.stop()


async def test_pending_deliveries_beyond_the_setting_make_the_instance_degraded_not_unready(
    settings: NotificationsSettings, database: Database
) -> None:
    settings = settings.model_copy(update={"readiness_deliveries_pending_degraded": 2})
    status, body = await _ready(settings)
    assert (status, body["status"]) == (200, "ready")
    assert body["checks"]["deliveries"] == {"ok": True, "pending": 0, "degraded": False}

    async with database.transaction() as session:
        await recipients.upsert(
            session,
            "agency",
            AGENCY,
            email="lille@interim-nord.example",
            webhook_url="https://erp.interim-nord.example/hooks/coop",
            webhook_secret="s" * 40,
        )
    await record_event(database, _sent())  # two pending: email and webhook
    status, body = await _ready(settings)
    assert (status, body["status"]) == (200, "ready")
    assert body["checks"]["deliveries"] == {"ok": True, "pending": 2, "degraded": False}

    await record_event(database, _sent())  # four pending
    status, body = await _ready(settings)
    assert (status, body["status"], body["degraded"]) == (200, "degraded", ["deliveries"])
    assert body["checks"]["deliveries"] == {
        "ok": True,
        "pending": 4,
        "degraded": True,
        "degraded_above": 2,
    }
    gauge = {"service": "notifications", "name": "deliveries"}
    assert REGISTRY.get_sample_value("coop_backlog", gauge) == 4

    # Given up (or sent), a delivery no longer waits.
    async with database.transaction() as session:
        await session.execute(
            update(Delivery).where(Delivery.channel == "webhook").values(status="failed")
        )
    status, body = await _ready(settings)
    assert (status, body["status"]) == (200, "ready")
    assert body["checks"]["deliveries"]["pending"] == 2

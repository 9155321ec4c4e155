"""Webhook targets (issue 10, item 10), against a real HTTP receiver on loopback and the real
worker and store: ops cannot register a target on loopback, a private network or the cloud's
metadata service (by address or by a name resolving there); a name that resolves there at delivery
time (DNS rebinding) is not called; the request goes to the address checked, with the URL's host
name kept; and the receiver's answer body is never recorded nor shown."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI

from notifications.adapters.webhook_targets import TargetRules, UnsafeTarget, check
from notifications.app import create_app
from notifications.jobs import DeliveryWorker
from notifications.settings import NotificationsSettings
from shared.db.database import Database

from ..conftest import OPS, WebhookReceiver, record_event
from .test_delivery import _delivery, _register, _sent, _work_until

AGENCY = "agc-interim-nord-lille"


@pytest.fixture
def strict(settings: NotificationsSettings) -> NotificationsSettings:
    """The service as deployed: no network allowed beyond public addresses."""
    return settings.model_copy(update={"webhook_allowed_networks": []})


@pytest.fixture
async def strict_client(strict: NotificationsSettings) -> AsyncIterator[httpx.AsyncClient]:
    app: FastAPI = create_app(strict)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://notifications.test") as c:
        yield c
    await app.state.runtime.stop()


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:{port}/hooks", "bouclage"),
        ("http://localhost:{port}/hooks", "bouclage"),  # a name resolving to loopback
        ("http://[::1]:{port}/hooks", "bouclage"),
        ("http://[::ffff:127.0.0.1]:{port}/hooks", "bouclage"),
        ("http://169.254.169.254/latest/meta-data/", "métadonnées"),
        ("http://[fd00:ec2::254]/latest/meta-data/", "métadonnées"),
        ("http://10.1.2.3/hooks", "privé"),
        ("http://192.168.1.10/hooks", "privé"),
        ("http://[fe80::1]/hooks", "lien local"),
        ("http://224.0.0.1/hooks", "multicast"),
        ("http://100.64.0.1/hooks", "non publique"),
        ("http://0.0.0.0:{port}/hooks", "non spécifiée"),
    ],
)
async def test_ops_cannot_register_a_target_inside_the_platform_or_its_cloud(
    strict_client: httpx.AsyncClient, webhook_receiver: WebhookReceiver, url: str, reason: str
) -> None:
    port = urlsplit(webhook_receiver.url).port
    response = await strict_client.put(
        f"/v1/recipients/agency/{AGENCY}", json={"webhook_url": url.format(port=port)}, headers=OPS
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["errors"][0]["field"] == "webhook_url"
    assert reason in problem["errors"][0]["message"]
    assert (
        await strict_client.get(f"/v1/recipients/agency/{AGENCY}", headers=OPS)
    ).status_code == 404
    assert webhook_receiver.requests == []


async def test_a_public_target_is_registered_and_https_is_required_outside_development(
    strict_client: httpx.AsyncClient, strict: NotificationsSettings
) -> None:
    public = await strict_client.put(
        f"/v1/recipients/agency/{AGENCY}",
        json={"webhook_url": "http://93.184.215.14/hooks"},  # development: http allowed
        headers=OPS,
    )
    assert public.status_code == 200, public.text
    assert strict.environment == "development"
    production = TargetRules.of(environment="production", allowed_networks=[])
    with pytest.raises(UnsafeTarget, match="https"):
        await check("http://93.184.215.14/hooks", production)
    assert (await check("https://93.184.215.14/hooks", production)).port == 443


async def test_a_name_resolving_to_loopback_at_delivery_is_not_called(
    strict: NotificationsSettings, database: Database, webhook_receiver: WebhookReceiver
) -> None:
    """Registered while it resolved elsewhere (or before it resolved), the name now points at
    loopback: the worker checks again before the call and does not send."""
    port = urlsplit(webhook_receiver.url).port
    await _register(database, webhook=f"http://localhost:{port}/hooks/coop")
    await record_event(database, _sent())

    failed = await _work_until(DeliveryWorker(strict), database, "webhook", "failed")

    assert webhook_receiver.requests == []
    assert failed.attempts == 1  # refused for good, not retried
    assert failed.last_error == "Cible de webhook refusée : adresse de bouclage (loopback)."


async def test_the_call_goes_to_the_checked_address_with_the_url_host_name(
    settings: NotificationsSettings, database: Database, webhook_receiver: WebhookReceiver
) -> None:
    port = urlsplit(webhook_receiver.url).port
    await _register(database, webhook=f"http://localhost:{port}/hooks/coop")
    await record_event(database, _sent())

    delivered = await _work_until(DeliveryWorker(settings), database, "webhook", "delivered")

    assert delivered.attempts == 1
    [request] = webhook_receiver.requests
    assert request.path == "/hooks/coop"
    assert request.headers["Host"] == f"localhost:{port}"


async def test_the_receivers_error_body_is_neither_recorded_nor_shown(
    settings: NotificationsSettings,
    database: Database,
    webhook_receiver: WebhookReceiver,
    client: httpx.AsyncClient,
) -> None:
    await _register(database, webhook=webhook_receiver.url)
    webhook_receiver.statuses = [503, 400]  # the receiver answers {"error": "scripted"}
    await record_event(database, _sent())

    failed = await _work_until(DeliveryWorker(settings), database, "webhook", "failed")

    assert failed.last_error == "HTTP 400 : le récepteur a refusé l'envoi."
    shown = await client.get(f"/v1/deliveries/{failed.id}", headers=OPS)
    assert shown.status_code == 200
    attempts = shown.json()["attempt_log"]
    assert [a["outcome"] for a in attempts] == ["retry", "failed"]
    assert "scripted" not in shown.text
    assert "le récepteur est indisponible" in shown.text  # the 503, by its status and reason
    listed = await client.get("/v1/deliveries", params={"status": "failed"}, headers=OPS)
    assert "scripted" not in listed.text
    assert (await _delivery(database, "webhook")).last_error == failed.last_error

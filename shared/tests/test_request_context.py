"""The request context middleware (pure ASGI): request id echoed or made, one metric per request."""

from __future__ import annotations

import uuid

import httpx
import pytest
import structlog
import structlog.testing
from fastapi import APIRouter
from prometheus_client import REGISTRY

from shared.http import app as http_app
from shared.testing import http_test_app


def _router() -> APIRouter:
    router = APIRouter()

    @router.get("/v1/boom")
    async def boom() -> None:
        raise RuntimeError("détail interne à ne pas montrer")

    @router.get("/v1/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    return router


def _count(status: str, template: str) -> float:
    value = REGISTRY.get_sample_value(
        "coop_http_request_seconds_count",
        {"service": "edge-test", "method": "GET", "route": template, "status": status},
    )
    return value or 0.0


async def test_request_ids_are_echoed_or_made_and_every_request_is_measured() -> None:
    app = http_test_app([_router()])
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://edge.test") as client:
        before = _count("200", "/v1/items/{item_id}")
        given = await client.get("/v1/items/1", headers={"X-Request-ID": "req-42"})
        assert given.headers["x-request-id"] == "req-42"
        assert _count("200", "/v1/items/{item_id}") == before + 1

        made = await client.get("/v1/items/2")
        uuid.UUID(made.headers["x-request-id"])
        odd = await client.get("/v1/items/3", headers={"X-Request-ID": "x" * 500})
        assert odd.headers["x-request-id"] != "x" * 500  # not copied into every log line

        before_500 = _count("500", "/v1/boom")
        failed = await client.get("/v1/boom")
        assert failed.status_code == 500
        assert "détail interne" not in failed.text
        assert _count("500", "/v1/boom") == before_500 + 1


async def test_the_access_log_names_the_route_and_never_a_signed_links_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    router = APIRouter()

    @router.get("/moi/{token}")
    async def page(token: str) -> dict[str, int]:
        return {"length": len(token)}

    @router.get("/v1/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    secret = "eyJhbGciOi.secret-link-token.sig"
    app = http_test_app([router], log_level="INFO")  # configures logging: before the capture
    with structlog.testing.capture_logs() as captured:
        # The module's logger may be cached from an earlier test: a fresh one sees the capture.
        monkeypatch.setattr(http_app, "log", structlog.get_logger("shared.http.app"))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://edge.test") as client:
            assert (await client.get(f"/moi/{secret}")).status_code == 200
            assert (await client.get("/v1/items/7")).status_code == 200
    events = [event for event in captured if event["event"] == "http request"]
    by_route = {event["route"]: event for event in events}
    assert by_route["/moi/{token}"]["path"] == "/moi/<masqué>"
    assert secret not in repr(captured)
    assert by_route["/v1/items/{item_id}"]["path"] == "/v1/items/7"  # ids stay for ops

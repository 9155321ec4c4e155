"""The event loop's watch (shared.observability.loop_watch) and the routes built at start-up."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import fastapi.routing as fastapi_routing
import httpx
import pytest
import structlog
from fastapi import APIRouter
from prometheus_client import REGISTRY

from shared.observability.loop_watch import LoopWatch
from shared.testing import http_test_app, serving


def _lag_count(service: str) -> float:
    value = REGISTRY.get_sample_value("coop_event_loop_lag_seconds_count", {"service": service})
    return value or 0.0


def _lag_over(service: str, bound: str) -> float:
    """Ticks that lagged more than ``bound`` seconds (a bucket's complement)."""
    below = REGISTRY.get_sample_value(
        "coop_event_loop_lag_seconds_bucket", {"service": service, "le": bound}
    )
    return _lag_count(service) - (below or 0.0)


def _hold_the_loop(seconds: float) -> None:
    """Python work that never yields: what a stall is."""
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        sum(range(1000))


async def _watched_hold(watch: LoopWatch, hold: float) -> tuple[float, list[dict[str, Any]]]:
    """Run ``watch``, hold the loop ``hold`` seconds between quiet ticks, stop it; the ticks
    counted before the hold, and what was logged."""
    stopping = asyncio.Event()
    with structlog.testing.capture_logs() as logs:
        task = asyncio.create_task(watch.run(stopping))
        await asyncio.sleep(0.1)  # a few quiet ticks
        quiet = _lag_count(watch.service)
        _hold_the_loop(hold)
        await asyncio.sleep(0.1)
        stopping.set()
        await asyncio.wait_for(task, 2)
    return quiet, logs


async def test_a_stall_is_measured_and_logged_with_where_the_loop_was() -> None:
    service = "loop-watch-stall"
    watch = LoopWatch(service, interval=0.02, stall_seconds=0.15)
    quiet, logs = await _watched_hold(watch, 0.4)
    assert quiet >= 2
    # (At least: on a busy machine a quiet tick may lag past the threshold too.)
    assert watch.stalls >= 1
    assert _lag_over(service, "0.25") >= 1
    stalls = [entry for entry in logs if entry["event"] == "event loop stalled"]
    assert len(stalls) == watch.stalls
    held = [e for e in stalls if any("_hold_the_loop" in frame for frame in e["frames"])]
    # The watchdog took the stack while the loop was held: it names the function holding it,
    # and the stall lasted at least the hold less one tick.
    assert len(held) == 1
    assert held[0]["log_level"] == "warning"
    assert held[0]["stalled_ms"] >= 350
    assert all(":" in frame for frame in held[0]["frames"])
    # The development console renders it (a ``stack`` key would have made it fail).
    entry = {k: v for k, v in held[0].items() if k != "log_level"}
    assert "event loop stalled" in structlog.dev.ConsoleRenderer()(None, "warning", entry)


async def test_without_the_watchdog_the_lag_is_still_measured_and_nothing_is_logged() -> None:
    service = "loop-watch-off"
    watch = LoopWatch(service, interval=0.02, stall_seconds=0)
    _, logs = await _watched_hold(watch, 0.2)
    assert _lag_over(service, "0.1") >= 1
    assert watch.stalls == 0
    assert not [entry for entry in logs if entry["event"] == "event loop stalled"]


@pytest.fixture
def counted_dependants(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each call of FastAPI's dependency analysis of a route (what it does lazily)."""
    calls: list[str] = []
    original = fastapi_routing.get_dependant

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs.get("path", "?"))
        return original(*args, **kwargs)

    monkeypatch.setattr(fastapi_routing, "get_dependant", counting)
    return calls


async def test_the_routes_are_built_at_start_up_not_in_the_first_request(
    counted_dependants: list[str],
) -> None:
    router = APIRouter()

    @router.post("/notes")
    async def notes(text: str) -> dict[str, str]:
        return {"text": text}

    app = http_test_app([router])
    async with serving(app) as (host, port):
        built_at_start = len(counted_dependants)
        async with httpx.AsyncClient(base_url=f"http://{host}:{port}") as client:
            first = await client.post("/notes", params={"text": "bonjour"})
            await client.get("/health/live")
    assert first.status_code == 200
    assert built_at_start > 0  # the lifespan built them
    assert len(counted_dependants) == built_at_start  # the requests built nothing more

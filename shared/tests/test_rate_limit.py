"""Per-caller rate limits on writes and probes: 429 problem with Retry-After."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import APIRouter

from shared.auth.tokens import Role, mint_token
from shared.http.rate_limit import BucketPolicy, RateLimiter
from shared.http.security import CurrentPrincipal, ProbeLimit
from shared.settings import DEVELOPMENT_JWT_SECRET
from shared.testing import http_test_app


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_grants_its_burst_then_refills_at_its_rate() -> None:
    clock = Clock()
    limiter = RateLimiter({"write": BucketPolicy(rate=2.0, burst=3)}, clock=clock)
    assert [limiter.take("write", "alice") for _ in range(3)] == [None, None, None]
    assert limiter.take("write", "alice") == pytest.approx(0.5)
    assert limiter.take("write", "bob") is None  # another caller, another bucket
    clock.now += 0.25
    assert limiter.take("write", "alice") == pytest.approx(0.25)
    clock.now += 0.25
    assert limiter.take("write", "alice") is None
    clock.now += 100  # refills up to the burst, not beyond
    assert [limiter.take("write", "alice") for _ in range(4)][-1] is not None


def test_a_rate_of_zero_or_an_unknown_kind_is_not_limited() -> None:
    limiter = RateLimiter({"write": BucketPolicy(rate=0, burst=1)})
    assert all(limiter.take("write", "alice") is None for _ in range(50))
    assert limiter.take("probe", "alice") is None


def test_the_least_recent_callers_are_forgotten_past_the_bound() -> None:
    clock = Clock()
    limiter = RateLimiter({"write": BucketPolicy(rate=1, burst=1)}, max_callers=2, clock=clock)
    assert limiter.take("write", "a") is None
    assert limiter.take("write", "b") is None
    assert limiter.take("write", "a") is not None  # a's bucket is empty, and a is recent now
    assert limiter.take("write", "c") is None  # b, the least recent, is dropped
    assert limiter.take("write", "a") is not None
    assert limiter.take("write", "b") is None  # forgotten: back full


def _router() -> APIRouter:
    router = APIRouter()

    @router.post("/v1/notes")
    async def create(principal: CurrentPrincipal) -> dict[str, str]:
        return {"by": principal.subject}

    @router.get("/v1/notes")
    async def listing(principal: CurrentPrincipal) -> dict[str, str]:
        return {"by": principal.subject}

    @router.get("/v1/job-seekers", dependencies=[ProbeLimit])
    async def exists(principal: CurrentPrincipal, ft_identifier: str) -> dict[str, bool]:
        return {"exists": False}

    return router


def _auth(subject: str) -> dict[str, str]:
    token = mint_token(
        key=DEVELOPMENT_JWT_SECRET,
        subject=subject,
        role=Role.OPS,
        issuer="coop-platform-dev",
        audience="coop-platform",
    )
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = http_test_app(
        [_router()],
        rate_limit_write_burst=3,
        rate_limit_writes_per_second=0.5,
        rate_limit_probe_burst=2,
        rate_limit_probes_per_second=0.1,
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://edge.test") as c:
        yield c


def _assert_limited(response: httpx.Response, retry_after: int) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == str(retry_after)
    problem: dict[str, Any] = response.json()
    assert problem["title"] == "Trop de requêtes"
    assert problem["type"].endswith("/rate-limited")
    assert f"réessayez dans {retry_after} s" in problem["detail"]


async def test_writes_past_the_burst_are_refused_with_retry_after(
    client: httpx.AsyncClient,
) -> None:
    for _ in range(3):
        assert (await client.post("/v1/notes", headers=_auth("alice"))).status_code == 200
    _assert_limited(await client.post("/v1/notes", headers=_auth("alice")), retry_after=2)
    # Another caller is not slowed down by alice; reads are not writes.
    assert (await client.post("/v1/notes", headers=_auth("bob"))).status_code == 200
    for _ in range(10):
        assert (await client.get("/v1/notes", headers=_auth("alice"))).status_code == 200


async def test_an_unauthenticated_write_is_a_401_and_takes_no_token(
    client: httpx.AsyncClient,
) -> None:
    for _ in range(5):
        assert (await client.post("/v1/notes")).status_code == 401
    assert (await client.post("/v1/notes", headers=_auth("carol"))).status_code == 200


async def test_probes_have_their_own_smaller_bucket(client: httpx.AsyncClient) -> None:
    params = {"ft_identifier": "1234567A"}
    for _ in range(2):
        response = await client.get("/v1/job-seekers", params=params, headers=_auth("dan"))
        assert response.status_code == 200
    limited = await client.get("/v1/job-seekers", params=params, headers=_auth("dan"))
    _assert_limited(limited, retry_after=10)


async def test_limits_are_settings_and_zero_turns_them_off() -> None:
    app = http_test_app([_router()], rate_limit_writes_per_second=0, rate_limit_write_burst=1)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://edge.test"
    ) as client:
        for _ in range(20):
            assert (await client.post("/v1/notes", headers=_auth("erin"))).status_code == 200

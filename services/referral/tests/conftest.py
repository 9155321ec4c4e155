"""Fixtures of the referral service's tests: a migrated store of its own, an app on it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

import referral
from referral.app import create_app
from referral.seed import seed_demo
from referral.settings import ReferralSettings
from shared.auth.tokens import Role, mint_token
from shared.settings import DEVELOPMENT_JWT_SECRET

MIGRATIONS = Path(referral.__file__).parent / "migrations"


@pytest.fixture
async def referral_settings(
    new_migrated_database: Callable[[str, Path], Awaitable[str]],
) -> ReferralSettings:
    settings = ReferralSettings(
        database_url=await new_migrated_database("referral", MIGRATIONS),
        kafka_enabled=False,
        log_json=False,
        # The tests count single referrals; secrecy has its own tests (test_secrecy.py).
        statistical_secrecy_threshold=1,
    )
    await seed_demo(settings)
    return settings


@pytest.fixture
async def app(referral_settings: ReferralSettings) -> AsyncIterator[FastAPI]:
    application = create_app(referral_settings)
    yield application
    await application.state.runtime.stop()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://referral.test") as c:
        yield c


def token(role: Role, subject: str = "someone", **claims: str) -> str:
    return mint_token(
        key=DEVELOPMENT_JWT_SECRET,
        subject=subject,
        role=role,
        issuer="coop-platform-dev",
        audience="coop-platform",
        **claims,  # type: ignore[arg-type]
    )


def bearer(role: Role, subject: str = "someone", **claims: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(role, subject, **claims)}"}

"""Fixtures of the dispositifs service's tests: a migrated store of its own, an app on it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

import dispositifs
from dispositifs.app import create_app
from dispositifs.models import KnownReferral
from dispositifs.settings import DispositifsSettings
from shared.auth.tokens import Role, mint_token
from shared.settings import DEVELOPMENT_JWT_SECRET

MIGRATIONS = Path(dispositifs.__file__).parent / "migrations"
STRUCTURE = "59350"


def bearer(role: Role, subject: str = "someone", **claims: str | bool) -> dict[str, str]:
    token = mint_token(
        key=DEVELOPMENT_JWT_SECRET,
        subject=subject,
        role=role,
        issuer="coop-platform-dev",
        audience="coop-platform",
        **claims,  # type: ignore[arg-type]
    )
    return {"Authorization": f"Bearer {token}"}


COUNSELLOR = bearer(Role.COUNSELLOR, "conseillere.leroy", ft_structure=STRUCTURE)
OTHER_COUNSELLOR = bearer(Role.COUNSELLOR, "conseiller.autre", ft_structure="13055")
#: The structure's PMSMP validator (decides a convention under the two-step review).
VALIDATOR = bearer(Role.COUNSELLOR, "valideur.dupont", ft_structure=STRUCTURE, pmsmp_validator=True)
OPS = bearer(Role.OPS, "ops")


def creating(headers: dict[str, str], key: str | None = None) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key or str(uuid.uuid4())}


@pytest.fixture
async def settings(
    new_migrated_database: Callable[[str, Path], Awaitable[str]],
) -> DispositifsSettings:
    return DispositifsSettings(
        database_url=await new_migrated_database("dispositifs", MIGRATIONS),
        kafka_enabled=False,
        jobs_enabled=False,
        log_json=False,
        # The tests count single conventions; secrecy has its own tests (test_indicators_scope.py).
        statistical_secrecy_threshold=1,
    )


@pytest.fixture
async def app(settings: DispositifsSettings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    yield application
    await application.state.runtime.stop()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://dispositifs.test") as c:
        yield c


@pytest.fixture
def known_referral(app: FastAPI) -> Callable[..., Awaitable[KnownReferral]]:
    """Record a referral as ``referral.sent`` would have (the consumer is tested elsewhere)."""

    async def factory(**overrides: Any) -> KnownReferral:
        values: dict[str, Any] = {
            "referral_id": uuid.uuid4(),
            "job_seeker_id": uuid.uuid4(),
            "agency_id": "agc-interim-nord-lille",
            "network_id": "interim-nord",
            "rome_code": "N1101",
            "departement": "59",
            "structure_code": STRUCTURE,
            "sent_at": datetime.now(UTC),
            "recorded_at": datetime.now(UTC),
            "status": "sent",
        }
        values.update(overrides)
        known = KnownReferral(**values)
        async with app.state.runtime.database.transaction() as session:
            session.add(known)
        return known

    return factory

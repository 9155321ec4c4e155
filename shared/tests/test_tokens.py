"""Bearer tokens: roles and scope claims, HS256 for development, RS256 for production; tokens fail
closed (explicit development for the development secret, bounded lifetime, typed claims)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import APIRouter
from pydantic import ValidationError
from pydantic_settings import SettingsConfigDict

from shared.auth.tokens import Principal, Role, TokenError, TokenVerifier, mint_token
from shared.http.security import CurrentPrincipal
from shared.settings import DEVELOPMENT_JWT_SECRET, ServiceSettings
from shared.testing import http_test_app

SECRET = "test-secret-with-enough-length-for-hs256"


def _settings(**overrides: object) -> ServiceSettings:
    values: dict[str, object] = {"database_url": "sqlite+aiosqlite://", "jwt_secret": SECRET}
    values.update(overrides)
    return ServiceSettings(**values)  # type: ignore[arg-type]


def _mint(role: Role = Role.COUNSELLOR, key: str = SECRET, **claims: object) -> str:
    defaults: dict[str, object] = {"issuer": "coop-platform-dev", "audience": "coop-platform"}
    defaults.update(claims)
    return mint_token(key=key, subject="alice", role=role, **defaults)  # type: ignore[arg-type]


def test_counsellor_token_carries_structure_scope() -> None:
    principal = TokenVerifier(_settings()).verify(_mint(ft_structure="75101"))
    assert principal.role is Role.COUNSELLOR
    assert principal.ft_structure == "75101"
    assert principal.key == "counsellor:alice@ft:75101"


def test_a_counsellor_token_may_say_the_pmsmp_validator_without_changing_the_key() -> None:
    verifier = TokenVerifier(_settings())
    validator = verifier.verify(_mint(ft_structure="75101", pmsmp_validator=True))
    plain = verifier.verify(_mint(ft_structure="75101"))
    assert validator.pmsmp_validator is True
    assert plain.pmsmp_validator is False
    # A permission, not another caller: idempotency records and rate limits are shared.
    assert validator.key == plain.key == "counsellor:alice@ft:75101"
    assert (
        jwt.decode(_mint(ft_structure="75101"), options={"verify_signature": False}).get(
            "pmsmp_validator"
        )
        is None
    )
    # Explicitly false or null is a counsellor without the permission, on any role.
    for claims in (
        {"role": "counsellor", "ft_structure": "75101", "pmsmp_validator": False},
        {"role": "counsellor", "ft_structure": "75101", "pmsmp_validator": None},
        {"role": "ops", "pmsmp_validator": False},
    ):
        assert verifier.verify(_raw(claims)).pmsmp_validator is False
    assert Principal("s", Role.COUNSELLOR, ft_structure="75101").pmsmp_validator is False


def test_the_pmsmp_validator_claim_is_refused_off_a_counsellor_with_a_french_reason() -> None:
    with pytest.raises(TokenError, match="ne vaut que pour un conseiller"):
        TokenVerifier(_settings()).verify(_raw({"role": "ops", "pmsmp_validator": True}))
    with pytest.raises(TokenError, match="doit être un booléen"):
        TokenVerifier(_settings()).verify(
            _raw({"role": "counsellor", "ft_structure": "75101", "pmsmp_validator": "yes"})
        )


def test_the_principal_key_names_the_whole_caller() -> None:
    verifier = TokenVerifier(_settings())
    keys = {
        verifier.verify(_mint(ft_structure="75101")).key,
        verifier.verify(_mint(ft_structure="59350")).key,
        verifier.verify(_mint(Role.AGENCY, agency_id="a1", network_id="n1")).key,
        verifier.verify(_mint(Role.AGENCY, agency_id="a1", network_id="n2")).key,
        verifier.verify(_mint(Role.AGENCY, agency_id="a2", network_id="n1")).key,
        verifier.verify(_mint(Role.OPS)).key,
    }
    assert len(keys) == 6  # same subject "alice", six different callers
    assert "ops:alice" in keys
    longest = Principal("s" * 200, Role.AGENCY, agency_id="a" * 64, network_id="n" * 64)
    assert len(longest.key) <= 255
    assert longest.key == Principal("s" * 200, Role.AGENCY, None, "a" * 64, "n" * 64).key
    assert longest.key != Principal("s" * 200, Role.AGENCY, None, "a" * 64, "m" * 64).key


def test_agency_token_needs_agency_and_network() -> None:
    verifier = TokenVerifier(_settings())
    with pytest.raises(TokenError, match="« agency_id » et « network_id »"):
        verifier.verify(_mint(Role.AGENCY, agency_id="a1"))
    principal = verifier.verify(_mint(Role.AGENCY, agency_id="a1", network_id="n1"))
    assert (principal.agency_id, principal.network_id) == ("a1", "n1")


def test_expired_token_is_refused() -> None:
    token = _mint(Role.OPS, ttl=timedelta(minutes=-5))
    with pytest.raises(TokenError, match="expiré"):
        TokenVerifier(_settings()).verify(token)


def test_a_token_verified_once_is_refused_again_once_it_has_expired() -> None:
    # The verifier remembers a verified token (its signature is not checked on every request),
    # but its expiry is: the same token, accepted while valid, is refused once expired.
    verifier = TokenVerifier(_settings())
    token = _mint(Role.OPS, ttl=timedelta(seconds=-25))  # within the 30 s leeway: still valid
    first = verifier.verify(token)
    assert verifier.verify(token) is first
    time.sleep(6)  # now past exp + leeway
    with pytest.raises(TokenError, match="expiré"):
        verifier.verify(token)
    with pytest.raises(TokenError, match="expiré"):
        verifier.verify(token)  # and never remembered again


def test_token_for_another_audience_or_key_is_refused() -> None:
    verifier = TokenVerifier(_settings())
    with pytest.raises(TokenError, match="autre destinataire"):
        verifier.verify(_mint(Role.OPS, audience="someone-else"))
    with pytest.raises(TokenError, match="Signature du jeton invalide"):
        verifier.verify(_mint(Role.OPS, key="another-secret-of-sufficient-length!"))


def _rsa_pair() -> tuple[str, str]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private_pem, public_pem


def test_rs256_tokens_verify_with_the_public_key_only() -> None:
    private_pem, public_pem = _rsa_pair()
    settings = _settings(environment="production", jwt_algorithm="RS256", jwt_public_key=public_pem)
    token = _mint(Role.OPS, key=private_pem, algorithm="RS256")
    assert TokenVerifier(settings).verify(token).role is Role.OPS
    with pytest.raises(TokenError):
        TokenVerifier(settings).verify(_mint(Role.OPS))  # HS256 with a shared secret


def test_production_refuses_the_shared_development_secret() -> None:
    with pytest.raises(ValidationError, match="production requires"):
        _settings(environment="production")


# -- environments: the development secret only with an explicit ENVIRONMENT=development ----------


class DemoSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DEMO_", extra="ignore")


@pytest.fixture
def no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on a server where nobody set the variables (the test harness sets development)."""
    for name in ("ENVIRONMENT", "JWT_SECRET", "JWT_ALGORITHM", "JWT_PUBLIC_KEY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(f"DEMO_{name}", raising=False)


@pytest.mark.usefixtures("no_environment")
def test_a_service_with_no_environment_is_production_and_refuses_to_start() -> None:
    with pytest.raises(ValidationError, match="production requires DEMO_JWT_ALGORITHM=RS256"):
        DemoSettings(database_url="sqlite+aiosqlite://")
    with pytest.raises(ValidationError, match="DEMO_ENVIRONMENT=development"):
        DemoSettings(database_url="sqlite+aiosqlite://")


@pytest.mark.usefixtures("no_environment")
def test_the_development_secret_needs_an_explicit_development_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for environment in ("test", "production"):
        monkeypatch.setenv("DEMO_ENVIRONMENT", environment)
        with pytest.raises(ValidationError):
            DemoSettings(database_url="sqlite+aiosqlite://")
        monkeypatch.setenv("DEMO_JWT_SECRET", DEVELOPMENT_JWT_SECRET)
        with pytest.raises(ValidationError, match=r"development JWT secret is refused|production"):
            DemoSettings(database_url="sqlite+aiosqlite://")
        monkeypatch.delenv("DEMO_JWT_SECRET")
    monkeypatch.setenv("DEMO_ENVIRONMENT", "development")
    settings = DemoSettings(database_url="sqlite+aiosqlite://")
    assert settings.jwt_secret is not None
    assert settings.jwt_secret.get_secret_value() == DEVELOPMENT_JWT_SECRET
    token = _mint(Role.OPS, key=DEVELOPMENT_JWT_SECRET)
    assert TokenVerifier(settings).verify(token).role is Role.OPS


@pytest.mark.usefixtures("no_environment")
def test_a_test_environment_takes_its_own_strong_secret_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DEMO_ENVIRONMENT", "test")
    monkeypatch.setenv("DEMO_JWT_SECRET", "too-short")
    with pytest.raises(ValidationError, match="at least 32 characters"):
        DemoSettings(database_url="sqlite+aiosqlite://")
    monkeypatch.setenv("DEMO_JWT_SECRET", SECRET)
    settings = DemoSettings(database_url="sqlite+aiosqlite://")
    assert TokenVerifier(settings).verify(_mint(Role.OPS)).role is Role.OPS
    with pytest.raises(TokenError, match="Signature"):
        TokenVerifier(settings).verify(_mint(Role.OPS, key=DEVELOPMENT_JWT_SECRET))


@pytest.mark.usefixtures("no_environment")
def test_production_requires_rs256_even_with_a_strong_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DEMO_ENVIRONMENT", "production")
    monkeypatch.setenv("DEMO_JWT_SECRET", SECRET)
    with pytest.raises(ValidationError, match="production requires"):
        DemoSettings(database_url="sqlite+aiosqlite://")
    _, public_pem = _rsa_pair()
    monkeypatch.setenv("DEMO_JWT_ALGORITHM", "RS256")
    monkeypatch.setenv("DEMO_JWT_PUBLIC_KEY", public_pem)
    assert DemoSettings(database_url="sqlite+aiosqlite://").environment == "production"


def test_an_unknown_algorithm_or_environment_is_refused() -> None:
    with pytest.raises(ValidationError, match="HS256 et RS256"):
        _settings(jwt_algorithm="none")
    with pytest.raises(ValidationError):
        _settings(environment="prod")


# -- lifetime ------------------------------------------------------------------------------------


def _raw(claims: dict[str, Any], key: str = SECRET) -> str:
    now = int(time.time())
    base: dict[str, Any] = {
        "sub": "alice",
        "role": "ops",
        "iss": "coop-platform-dev",
        "aud": "coop-platform",
        "iat": now,
        "exp": now + 600,
    }
    base.update(claims)
    return jwt.encode({k: v for k, v in base.items() if v is not None}, key, algorithm="HS256")


def test_a_ten_year_token_is_refused() -> None:
    with pytest.raises(TokenError, match="trop longue : 12 h au plus"):
        TokenVerifier(_settings()).verify(_mint(Role.OPS, ttl=timedelta(days=3650)))


def test_a_token_within_the_maximum_lifetime_is_accepted() -> None:
    assert TokenVerifier(_settings()).verify(_mint(Role.OPS, ttl=timedelta(hours=12))).role


def test_lifetime_is_checked_from_iat_and_from_now() -> None:
    verifier = TokenVerifier(_settings())
    now = int(time.time())
    with pytest.raises(TokenError, match="trop longue"):  # issued long ago, still valid
        verifier.verify(_raw({"iat": now - 30 * 86400, "exp": now + 3600}))
    with pytest.raises(TokenError, match="trop longue"):  # exp - now too far, whatever iat says
        verifier.verify(_raw({"iat": now + 20, "exp": now + 13 * 3600}))


def test_the_maximum_lifetime_is_a_setting() -> None:
    verifier = TokenVerifier(_settings(jwt_max_lifetime_seconds=3600))
    with pytest.raises(TokenError, match="1 h au plus"):
        verifier.verify(_mint(Role.OPS, ttl=timedelta(hours=2)))
    assert verifier.verify(_mint(Role.OPS, ttl=timedelta(minutes=50))).role is Role.OPS


@pytest.mark.parametrize("claim", ["exp", "iat", "sub", "role"])
def test_a_token_without_a_required_claim_is_refused(claim: str) -> None:
    with pytest.raises(TokenError, match=f"« {claim} » est obligatoire"):
        TokenVerifier(_settings()).verify(_raw({claim: None}))


# -- claim types ---------------------------------------------------------------------------------

BAD_CLAIMS: list[dict[str, Any]] = [
    {"role": "counsellor", "ft_structure": ["75101", "59350"]},
    {"role": "counsellor", "ft_structure": 75101},
    {"role": "counsellor", "ft_structure": {"code": "75101"}},
    {"role": "counsellor", "ft_structure": "7" * 65},
    {"role": "agency", "agency_id": ["a1"], "network_id": "n1"},
    {"role": "agency", "agency_id": "a1", "network_id": 7},
    {"role": ["ops"]},
    {"role": 1},
    {"role": "root"},
    {"sub": 42},
    {"sub": ["alice"]},
    {"exp": "tomorrow"},
    {"iat": True},
    # The PMSMP validator claim: a JSON boolean only, and a counsellor's only.
    {"role": "counsellor", "ft_structure": "75101", "pmsmp_validator": "true"},
    {"role": "counsellor", "ft_structure": "75101", "pmsmp_validator": 1},
    {"role": "counsellor", "ft_structure": "75101", "pmsmp_validator": 0},
    {"role": "counsellor", "ft_structure": "75101", "pmsmp_validator": [True]},
    {"role": "counsellor", "ft_structure": "75101", "pmsmp_validator": {"v": True}},
    {"role": "ops", "pmsmp_validator": True},
    {"role": "steering", "pmsmp_validator": True},
    {"role": "agency", "agency_id": "a1", "network_id": "n1", "pmsmp_validator": True},
]


@pytest.mark.parametrize("claims", BAD_CLAIMS)
def test_a_claim_of_the_wrong_type_is_a_token_error(claims: dict[str, Any]) -> None:
    with pytest.raises(TokenError):
        TokenVerifier(_settings()).verify(_raw(claims))


@pytest.fixture
async def edge() -> AsyncIterator[httpx.AsyncClient]:
    router = APIRouter()

    @router.get("/v1/me")
    async def me(principal: CurrentPrincipal) -> dict[str, str | None]:
        return {"role": principal.role.value, "ft_structure": principal.ft_structure}

    app = http_test_app([router], jwt_secret=SECRET)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://edge.test") as client:
        yield client


@pytest.mark.parametrize("claims", BAD_CLAIMS)
async def test_a_bad_claim_is_a_401_problem_never_a_500(
    edge: httpx.AsyncClient, claims: dict[str, Any]
) -> None:
    response = await edge.get("/v1/me", headers={"Authorization": f"Bearer {_raw(claims)}"})
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["title"] == "Jeton invalide"
    assert problem["detail"].startswith(("Jeton", "Rôle", "Un jeton", "Durée"))


async def test_a_long_lived_or_unsigned_token_is_a_401(edge: httpx.AsyncClient) -> None:
    long_lived = _mint(Role.OPS, ttl=timedelta(days=3650))
    unsigned = jwt.encode({"sub": "x", "role": "ops"}, key=None, algorithm="none")
    for token in (long_lived, unsigned, "not-a-jwt"):
        response = await edge.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")


async def test_a_good_token_passes_the_edge(edge: httpx.AsyncClient) -> None:
    token = _mint(Role.COUNSELLOR, ft_structure="59350")
    response = await edge.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json() == {"role": "counsellor", "ft_structure": "59350"}

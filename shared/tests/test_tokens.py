"""Bearer tokens: roles and scope claims, HS256 for development, RS256 for production."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import ValidationError

from shared.auth.tokens import Role, TokenError, TokenVerifier, mint_token
from shared.settings import ServiceSettings

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
    assert principal.key == "counsellor:alice"


def test_agency_token_needs_agency_and_network() -> None:
    verifier = TokenVerifier(_settings())
    with pytest.raises(TokenError, match="agency_id and network_id"):
        verifier.verify(_mint(Role.AGENCY, agency_id="a1"))
    principal = verifier.verify(_mint(Role.AGENCY, agency_id="a1", network_id="n1"))
    assert (principal.agency_id, principal.network_id) == ("a1", "n1")


def test_expired_token_is_refused() -> None:
    token = _mint(Role.OPS, ttl=timedelta(minutes=-5))
    with pytest.raises(TokenError, match="expired"):
        TokenVerifier(_settings()).verify(token)


def test_token_for_another_audience_or_key_is_refused() -> None:
    verifier = TokenVerifier(_settings())
    with pytest.raises(TokenError, match="invalid token"):
        verifier.verify(_mint(Role.OPS, audience="someone-else"))
    with pytest.raises(TokenError, match="invalid token"):
        verifier.verify(_mint(Role.OPS, key="another-secret-of-sufficient-length!"))


def test_rs256_tokens_verify_with_the_public_key_only() -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    settings = _settings(environment="production", jwt_algorithm="RS256", jwt_public_key=public_pem)
    token = _mint(Role.OPS, key=private_pem, algorithm="RS256")
    assert TokenVerifier(settings).verify(token).role is Role.OPS
    with pytest.raises(TokenError):
        TokenVerifier(settings).verify(_mint(Role.OPS))  # HS256 with a shared secret


def test_production_refuses_the_shared_development_secret() -> None:
    with pytest.raises(ValidationError, match="production requires"):
        _settings(environment="production")

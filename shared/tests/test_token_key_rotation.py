"""RS256 key rotation (issue 15): the services verify a list of public keys by ``kid``, so the
identity provider's new key is listed before it signs with it, and the old one removed after."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import ValidationError

from shared.auth.tokens import Role, TokenError, TokenVerifier, mint_token
from shared.settings import ServiceSettings


def _pair() -> tuple[str, rsa.RSAPublicKey]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return pem, key.public_key()


def _b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _jwk(kid: str, public: rsa.RSAPublicKey) -> dict[str, str]:
    numbers = public.public_numbers()
    return {
        "kid": kid,
        "kty": "RSA",
        "alg": "RS256",
        "use": "sig",
        "n": _b64(numbers.n),
        "e": _b64(numbers.e),
    }


def _pem(public: rsa.RSAPublicKey) -> str:
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def _verifier(keys: Any) -> TokenVerifier:
    return TokenVerifier(
        ServiceSettings(
            database_url="sqlite+aiosqlite://",
            environment="production",
            jwt_algorithm="RS256",
            jwt_public_keys=json.dumps(keys),
        )
    )


def _token(private_pem: str, kid: str | None) -> str:
    return mint_token(
        key=private_pem,
        algorithm="RS256",
        subject="ops-1",
        role=Role.OPS,
        issuer="coop-platform-dev",
        audience="coop-platform",
        kid=kid,
    )


OLD, NEW = _pair(), _pair()


@pytest.mark.parametrize("form", ["jwks", "pem-by-kid"])
def test_old_and_new_keys_both_accepted_while_both_listed_then_old_refused(form: str) -> None:
    def keys(*pairs: tuple[str, tuple[str, rsa.RSAPublicKey]]) -> Any:
        if form == "jwks":
            return {"keys": [_jwk(kid, pair[1]) for kid, pair in pairs]}
        return {kid: _pem(pair[1]) for kid, pair in pairs}

    old_token, new_token = _token(OLD[0], "2026-01"), _token(NEW[0], "2026-07")
    before = _verifier(keys(("2026-01", OLD)))
    assert before.verify(old_token).role is Role.OPS
    with pytest.raises(TokenError, match="inconnue"):
        before.verify(new_token)  # the issuer must not sign with a key not listed yet

    during = _verifier(keys(("2026-01", OLD), ("2026-07", NEW)))
    assert during.verify(old_token).subject == "ops-1"
    assert during.verify(new_token).subject == "ops-1"

    after = _verifier(keys(("2026-07", NEW)))
    assert after.verify(new_token).role is Role.OPS
    with pytest.raises(TokenError, match="inconnue"):
        after.verify(old_token)


def test_a_kid_names_one_key_only() -> None:
    """A token signed with the old key but naming the new kid is refused: no trying every key."""
    verifier = _verifier({"keys": [_jwk("2026-01", OLD[1]), _jwk("2026-07", NEW[1])]})
    with pytest.raises(TokenError, match="Signature"):
        verifier.verify(_token(OLD[0], "2026-07"))


def test_without_kid_only_a_single_key_is_used() -> None:
    assert _verifier({"keys": [_jwk("a", OLD[1])]}).verify(_token(OLD[0], None)).role is Role.OPS
    two = _verifier({"keys": [_jwk("a", OLD[1]), _jwk("b", NEW[1])]})
    with pytest.raises(TokenError, match="kid"):
        two.verify(_token(OLD[0], None))


def test_production_accepts_the_key_list_alone_and_refuses_a_private_key() -> None:
    assert _verifier({"keys": [_jwk("a", OLD[1])]})
    private_jwk = {**_jwk("a", OLD[1]), "d": "AQAB"}
    with pytest.raises(ValueError, match="not an RSA public key"):
        _verifier({"keys": [private_jwk]})
    with pytest.raises(ValidationError, match="production requires"):
        ServiceSettings(
            database_url="sqlite+aiosqlite://", environment="production", jwt_algorithm="RS256"
        )

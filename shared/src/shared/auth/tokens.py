"""Bearer tokens (JWT) and the principal they describe.

Claims: ``sub``; ``role`` (counsellor, agency, ops); scope claims ``ft_structure`` (the counsellor's
France Travail structure code), ``agency_id`` and ``network_id`` (for agency integrations); ``iss``,
``aud``, ``exp``, ``iat``. HS256 with a shared secret is for development; production verifies RS256
with the identity provider's public key.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from shared.settings import ServiceSettings


class Role(enum.StrEnum):
    COUNSELLOR = "counsellor"
    AGENCY = "agency"
    OPS = "ops"


class TokenError(Exception):
    """The token is missing, malformed, expired, or not for us."""


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str
    role: Role
    ft_structure: str | None = None
    agency_id: str | None = None
    network_id: str | None = None

    @property
    def key(self) -> str:
        """Stable identity for per-caller records (idempotency keys)."""
        return f"{self.role.value}:{self.subject}"


class TokenVerifier:
    def __init__(self, settings: ServiceSettings) -> None:
        self._algorithm = settings.jwt_algorithm
        if self._algorithm == "RS256":
            if not settings.jwt_public_key:
                raise ValueError("RS256 needs jwt_public_key")
            self._key: Any = settings.jwt_public_key
        elif self._algorithm == "HS256":
            if settings.jwt_secret is None:
                raise ValueError("HS256 needs jwt_secret")
            self._key = settings.jwt_secret.get_secret_value()
        else:
            raise ValueError(f"unsupported JWT algorithm {self._algorithm}")
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience

    def verify(self, token: str) -> Principal:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[self._algorithm],
                issuer=self._issuer,
                audience=self._audience,
                options={"require": ["sub", "exp", "iat", "role"]},
                leeway=30,
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenError("token expired") from exc
        except jwt.InvalidTokenError as exc:
            raise TokenError(f"invalid token: {exc}") from exc
        try:
            role = Role(claims["role"])
        except ValueError as exc:
            raise TokenError(f"unknown role {claims['role']!r}") from exc
        principal = Principal(
            subject=str(claims["sub"]),
            role=role,
            ft_structure=claims.get("ft_structure"),
            agency_id=claims.get("agency_id"),
            network_id=claims.get("network_id"),
        )
        if role is Role.COUNSELLOR and not principal.ft_structure:
            raise TokenError("a counsellor token needs the ft_structure claim")
        if role is Role.AGENCY and not (principal.agency_id and principal.network_id):
            raise TokenError("an agency token needs agency_id and network_id claims")
        return principal


def mint_token(
    *,
    key: str,
    subject: str,
    role: Role,
    algorithm: str = "HS256",
    issuer: str,
    audience: str,
    ttl: timedelta = timedelta(hours=12),
    ft_structure: str | None = None,
    agency_id: str | None = None,
    network_id: str | None = None,
) -> str:
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": subject,
        "role": role.value,
        "iss": issuer,
        "aud": audience,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    for name, value in (
        ("ft_structure", ft_structure),
        ("agency_id", agency_id),
        ("network_id", network_id),
    ):
        if value:
            claims[name] = value
    return jwt.encode(claims, key, algorithm=algorithm)

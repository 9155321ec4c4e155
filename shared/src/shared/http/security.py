"""FastAPI dependencies for bearer authentication, role checks and per-caller rate limits.

:func:`authenticate` also takes a token from the caller's write bucket on every write
(``shared.http.rate_limit``); ``dependencies=[ProbeLimit]`` on a route limits login-like probes.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.auth.tokens import Principal, Role, TokenError, TokenVerifier
from shared.http.problems import ProblemError
from shared.http.rate_limit import WRITE_METHODS, RateLimiter

_bearer = HTTPBearer(auto_error=False, description="JWT signed by the platform's identity provider")


async def authenticate(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ProblemError(
            401,
            "Authentification requise",
            "En-tête Authorization: Bearer <jeton> attendu.",
            problem="unauthenticated",
            headers={"WWW-Authenticate": "Bearer"},
        )
    verifier: TokenVerifier = request.app.state.token_verifier
    try:
        principal = verifier.verify(credentials.credentials)
    except TokenError as exc:
        raise ProblemError(
            401,
            "Jeton invalide",
            str(exc),
            problem="invalid-token",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        ) from exc
    if request.method in WRITE_METHODS:
        _limiter(request).check("write", principal.key)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]


async def limit_probes(request: Request, principal: CurrentPrincipal) -> None:
    """A login-like probe (existence of an identifier): one token from the probe bucket."""
    _limiter(request).check("probe", principal.key)


#: ``dependencies=[ProbeLimit]`` on a route that tells whether something exists.
ProbeLimit = Depends(limit_probes)


def _limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter | None = getattr(request.app.state, "rate_limiter", None)
    return limiter if limiter is not None else _NO_LIMIT


_NO_LIMIT = RateLimiter({})


def require_roles(*roles: Role) -> Callable[..., Coroutine[Any, Any, Principal]]:
    allowed = frozenset(roles)

    async def dependency(principal: CurrentPrincipal) -> Principal:
        if principal.role not in allowed:
            raise ProblemError(
                403,
                "Accès refusé",
                f"Rôle {principal.role.value!r} non autorisé ici "
                f"(attendu: {', '.join(sorted(r.value for r in allowed))}).",
                problem="forbidden",
            )
        return principal

    return dependency

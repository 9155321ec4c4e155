"""FastAPI dependencies for bearer authentication and role checks."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.auth.tokens import Principal, Role, TokenError, TokenVerifier
from shared.http.problems import ProblemError

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
        return verifier.verify(credentials.credentials)
    except TokenError as exc:
        raise ProblemError(
            401,
            "Jeton invalide",
            str(exc),
            problem="invalid-token",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        ) from exc


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]


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

"""What every router of the service uses: the runtime and settings, the roles, the paging
parameters, creating with an ``Idempotency-Key``, and the mapping of domain refusals to
problem+json."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from dispositifs.domain.immersion import TransitionNotAllowed
from dispositifs.domain.violations import NotAllowed, NotFound, RulesBroken
from dispositifs.models import PLATFORM
from dispositifs.settings import DispositifsSettings
from dispositifs.use_cases import Session
from shared.auth.tokens import Principal, Role
from shared.http.app import RuntimeDep
from shared.http.idempotency import create_once
from shared.http.problems import FieldError, problem_response
from shared.http.security import require_roles
from shared.runtime import ServiceRuntime

Counsellor = Annotated[Principal, Depends(require_roles(Role.COUNSELLOR))]
CounsellorOrOps = Annotated[Principal, Depends(require_roles(Role.COUNSELLOR, Role.OPS))]


Runtime = RuntimeDep
Limit = Annotated[int, Query(ge=1, le=200)]
Cursor = Annotated[str | None, Query()]


def settings_of(runtime: ServiceRuntime) -> DispositifsSettings:
    settings = runtime.settings
    assert isinstance(settings, DispositifsSettings)
    return settings


async def create_idempotently(
    runtime: ServiceRuntime,
    principal: Principal,
    key: str,
    request: Request,
    body: BaseModel,
    create: Callable[[Session], Awaitable[tuple[dict[str, Any], str]]],
) -> Response:
    """Run ``create`` once per (caller, key): a retry gets the first response back."""
    return await create_once(
        runtime.database,
        PLATFORM,
        principal,
        key,
        {"path": request.url.path, "body": body.model_dump(mode="json")},
        create,
    )


def install_domain_problems(app: FastAPI) -> None:
    """A broken rule is a 422 citing its article; a lifecycle refusal a 409."""

    @app.exception_handler(RulesBroken)
    async def _rules(request: Request, exc: RulesBroken) -> JSONResponse:
        articles = exc.articles
        detail = "; ".join(v.describe() for v in exc.violations)
        return problem_response(
            request,
            422,
            "Règle non respectée" if articles else "Requête invalide",
            detail,
            problem="rule-violation" if articles else "validation-error",
            errors=[FieldError(v.field, v.describe()) for v in exc.violations],
            extra={
                "article": articles[0] if articles else None,
                "articles": articles,
                "violations": [
                    {"rule": v.rule, "field": v.field, "message": v.message, "article": v.article}
                    for v in exc.violations
                ],
            },
        )

    @app.exception_handler(NotAllowed)
    @app.exception_handler(TransitionNotAllowed)
    async def _lifecycle(request: Request, exc: Exception) -> JSONResponse:
        return problem_response(
            request, 409, "Transition refusée", str(exc), problem="transition-not-allowed"
        )

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> JSONResponse:
        return problem_response(request, 404, "Ressource introuvable", str(exc))

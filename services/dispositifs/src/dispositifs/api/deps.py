"""What every router of the service uses: the runtime and settings, the roles, creating with an
``Idempotency-Key``, keyset pagination, and the mapping of domain refusals to problem+json."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy import Select, and_, or_
from sqlalchemy.ext.asyncio import AsyncSession

from dispositifs.domain.immersion import TransitionNotAllowed
from dispositifs.domain.violations import RulesBroken
from dispositifs.models import PLATFORM
from dispositifs.settings import DispositifsSettings
from dispositifs.use_cases.immersions import NotAllowed
from shared.auth.tokens import Principal, Role
from shared.http.app import RuntimeDep
from shared.http.idempotency import create_once
from shared.http.pagination import decode_time_cursor, encode_time_cursor
from shared.http.problems import FieldError, ProblemError, problem_response
from shared.http.security import require_roles
from shared.runtime import ServiceRuntime

Counsellor = Annotated[Principal, Depends(require_roles(Role.COUNSELLOR))]
CounsellorOrOps = Annotated[Principal, Depends(require_roles(Role.COUNSELLOR, Role.OPS))]


Runtime = RuntimeDep


def settings_of(runtime: ServiceRuntime) -> DispositifsSettings:
    settings = runtime.settings
    assert isinstance(settings, DispositifsSettings)
    return settings


def not_found(what: str, ident: object) -> ProblemError:
    return ProblemError(404, "Ressource introuvable", f"{what} {ident} introuvable.")


def visible(principal: Principal, structure_code: str | None) -> bool:
    """A counsellor sees what belongs to their France Travail structure; ops see everything."""
    return principal.role is Role.OPS or structure_code == principal.ft_structure


async def create_idempotently(
    runtime: ServiceRuntime,
    principal: Principal,
    key: str,
    request: Request,
    body: BaseModel,
    create: Callable[[AsyncSession], Awaitable[tuple[dict[str, Any], str]]],
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


def keyset(query: Select[Any], model: Any, cursor: str | None) -> Select[Any]:
    """Newest first, by (created_at, id), after ``cursor``."""
    query = query.order_by(model.created_at.desc(), model.id.desc())
    if cursor:
        created, last = decode_time_cursor(cursor)
        query = query.where(
            or_(model.created_at < created, and_(model.created_at == created, model.id < last))
        )
    return query


def page(rows: list[Any], limit: int, out: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_time_cursor(rows[-1].created_at, rows[-1].id)
    return {"items": [out(row) for row in rows], "next_cursor": next_cursor}


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

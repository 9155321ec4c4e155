"""Domain errors as problem+json, in one place for every service: 404, 403, 409, 422."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from shared.domain.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    RulesBroken,
)
from shared.http.problems import FieldError, problem_response

_STATUS: tuple[tuple[type[DomainError], int], ...] = (
    (NotFound, 404),
    (Forbidden, 403),
    (Conflict, 409),
    (InvalidInput, 422),
)


def status_of(exc: DomainError) -> int:
    for kind, status in _STATUS:
        if isinstance(exc, kind):
            return status
    return 400


def domain_problem(request: Request, exc: DomainError) -> JSONResponse:
    title = exc.title_for_people if isinstance(exc, RulesBroken) else exc.title
    return problem_response(
        request,
        status_of(exc),
        title,
        exc.message,
        problem=exc.code,
        errors=[FieldError(e.field, e.message, e.location) for e in exc.errors],
        extra=exc.extra,
    )


def install_domain_problem_handler(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        return domain_problem(request, exc)

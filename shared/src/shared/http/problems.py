"""Errors as RFC 9457 ``application/problem+json``, with the field at fault for validation errors.

Every error a service returns goes through here, so clients parse one shape:
``{"type", "title", "status", "detail", "instance", "errors": [{"field", "location", "message"}]}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.http import validation

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE = "https://coop-emploi.example/problems/"


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    message: str
    location: str = "body"

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "location": self.location, "message": self.message}


class ProblemError(Exception):
    """Raise from a route or a use case to answer with a problem document."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        problem: str | None = None,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.problem = problem
        self.errors = errors or []
        self.headers = headers
        self.extra = extra or {}


def problem_response(
    request: Request,
    status: int,
    title: str,
    detail: str | None = None,
    *,
    problem: str | None = None,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + problem if problem else "about:blank",
        "title": title,
        "status": status,
        "instance": request.url.path,
    }
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = [error.as_dict() for error in errors]
    body.update(extra or {})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(
            request,
            exc.status,
            exc.title,
            exc.detail,
            problem=exc.problem,
            errors=exc.errors,
            headers=exc.headers,
            extra=exc.extra,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [_field_error(error, exc.body) for error in exc.errors()]
        return problem_response(
            request,
            422,
            "Requête invalide",
            "; ".join(f"{e.field}: {e.message}" for e in errors),
            problem="validation-error",
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(
            request,
            exc.status_code,
            _TITLES.get(exc.status_code, "Erreur"),
            str(exc.detail) if exc.detail else None,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        return problem_response(
            request,
            500,
            "Erreur interne",
            "Une erreur inattendue est survenue; elle a été journalisée.",
        )


def _field_error(error: dict[str, Any], body: Any = None) -> FieldError:
    """French message, field named as the client sent it (``shared.http.validation``)."""
    location, field, message = validation.describe(error, body)
    return FieldError(field=field, message=message, location=location)


_TITLES = {
    400: "Requête incorrecte",
    401: "Authentification requise",
    403: "Accès refusé",
    404: "Ressource introuvable",
    405: "Méthode non autorisée",
    409: "Conflit",
    413: "Requête trop volumineuse",
    415: "Type de contenu non pris en charge",
    422: "Requête invalide",
    503: "Service indisponible",
}

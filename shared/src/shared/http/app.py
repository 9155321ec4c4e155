"""The FastAPI app every service builds on: lifespan, errors, auth, request context, health,
metrics. A service adds its routers."""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shared.auth.tokens import TokenVerifier
from shared.contracts import asyncapi
from shared.http.domain_problems import install_domain_problem_handler
from shared.http.problems import install_problem_handlers
from shared.observability.context import set_traceparent
from shared.observability.logging import configure_logging
from shared.observability.metrics import HTTP_REQUESTS
from shared.runtime import ServiceRuntime

log = structlog.get_logger(__name__)


def current_runtime(request: Request) -> ServiceRuntime:
    """FastAPI dependency: the runtime (store, relay, consumers) of the app serving the request."""
    return request.app.state.runtime  # type: ignore[no-any-return]


#: ``runtime: RuntimeDep`` in a route gives it the service's runtime.
RuntimeDep = Annotated[ServiceRuntime, Depends(current_runtime)]


def create_service_app(
    runtime: ServiceRuntime,
    *,
    title: str,
    description: str,
    version: str,
    routers: Sequence[APIRouter],
    on_startup: Callable[[], Awaitable[None]] | None = None,
) -> FastAPI:
    settings = runtime.settings
    configure_logging(settings.service_name, level=settings.log_level, json=settings.log_json)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        if on_startup is not None:
            await on_startup()
        log.info("service started")
        try:
            yield
        finally:
            await runtime.stop()
            log.info("service stopped")

    app = FastAPI(title=title, description=description, version=version, lifespan=lifespan)
    app.state.settings = settings
    app.state.runtime = runtime
    app.state.token_verifier = TokenVerifier(settings)
    install_problem_handlers(app)
    install_domain_problem_handler(app)
    _install_request_context(app, settings.service_name)
    app.include_router(_operations_router(runtime))
    for router in routers:
        app.include_router(router)
    return app


def _install_request_context(app: FastAPI, service: str) -> None:
    @app.middleware("http")
    async def request_context(
        request: Request, call_next: Callable[..., Awaitable[Response]]
    ) -> Response:
        request_id = request.headers.get("x-request-id") or str(uuid.uuid4())
        set_traceparent(request.headers.get("traceparent"))
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        response = await call_next(request)
        elapsed = time.perf_counter() - started
        route = request.scope.get("route")
        template = getattr(route, "path", "unmatched")
        HTTP_REQUESTS.labels(service, request.method, template, str(response.status_code)).observe(
            elapsed
        )
        response.headers["X-Request-ID"] = request_id
        if not template.startswith(("/health", "/metrics")):
            log.info(
                "http request",
                method=request.method,
                path=request.url.path,
                status=response.status_code,
                duration_ms=round(elapsed * 1000, 1),
            )
        return response


def _operations_router(runtime: ServiceRuntime) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/health/live", summary="The process answers")
    async def live() -> dict[str, str]:
        return {"status": "live"}

    @router.get("/health/ready", summary="Database, broker and consumers are usable")
    async def ready() -> JSONResponse:
        checks = await runtime.readiness()
        ok = all(check.ok for check in checks.values())
        body = {
            "status": "ready" if ok else "not_ready",
            "checks": {name: {"ok": check.ok, **check.detail} for name, check in checks.items()},
        }
        return JSONResponse(body, status_code=200 if ok else 503)

    @router.get("/asyncapi.yaml", summary="The event contract (AsyncAPI 3.0, YAML)")
    async def asyncapi_yaml() -> Response:
        return Response(_asyncapi_yaml(), media_type="application/yaml")

    @router.get("/asyncapi.json", summary="The event contract (AsyncAPI 3.0, JSON)")
    async def asyncapi_json() -> JSONResponse:
        return JSONResponse(_asyncapi_document())

    @router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


@functools.cache
def _asyncapi_document() -> dict[str, object]:
    return asyncapi.build_document()


@functools.cache
def _asyncapi_yaml() -> str:
    return asyncapi.render_yaml()

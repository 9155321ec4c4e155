"""The FastAPI app every service builds on: lifespan, errors, auth, request context, body-size
limit, health, metrics. A service adds its routers.

Both middlewares are pure ASGI (no ``BaseHTTPMiddleware``, which costs a task and a copy of every
message per request): the request context (request id, metrics, access log) outermost, then the
body-size limit (``shared.http.body_limit``).
"""

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
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.auth.tokens import TokenVerifier
from shared.collector import freeze_start_up_objects
from shared.contracts import asyncapi
from shared.http.body_limit import (
    BodySizeLimitMiddleware,
    BodyTooLarge,
    NulRefused,
    body_too_large_handler,
    build_route_contexts,
    nul_refused_handler,
)
from shared.http.domain_problems import install_domain_problem_handler
from shared.http.problems import install_problem_handlers
from shared.http.rate_limit import BucketPolicy, RateLimiter
from shared.observability.context import set_traceparent
from shared.observability.logging import configure_logging
from shared.observability.metrics import HTTP_REQUESTS
from shared.observability.tracing import SpanKind, configure_tracing, span
from shared.runtime import ServiceRuntime

log = structlog.get_logger(__name__)


async def current_runtime(request: Request) -> ServiceRuntime:
    """FastAPI dependency: the runtime (store, relay, consumers) of the app serving the request.

    ``async``: FastAPI runs a plain ``def`` dependency in the thread pool, one hand-off per
    request for an attribute read."""
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
    configure_tracing(
        settings.service_name,
        settings.tracing_exporter,
        otlp_endpoint=settings.tracing_otlp_endpoint,
        sample_ratio=settings.tracing_sample_ratio,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        if on_startup is not None:
            await on_startup()
        # FastAPI resolves its routes' dependencies at their first request (~0.4 s for the
        # referral service's routes, the event loop held meanwhile): done here, before the
        # service says it is ready, not in the first counsellor's request.
        build_route_contexts(_app)
        if settings.gc_freeze:
            freeze_start_up_objects()
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
    app.state.rate_limiter = RateLimiter(
        {
            "write": BucketPolicy(
                settings.rate_limit_writes_per_second, settings.rate_limit_write_burst
            ),
            "probe": BucketPolicy(
                settings.rate_limit_probes_per_second, settings.rate_limit_probe_burst
            ),
        }
    )
    install_problem_handlers(app)
    install_domain_problem_handler(app)
    app.add_exception_handler(BodyTooLarge, body_too_large_handler)
    app.add_exception_handler(NulRefused, nul_refused_handler)
    # The last added runs first: the request context sees (and logs) the body limit's 413s.
    app.add_middleware(BodySizeLimitMiddleware, max_body_bytes=settings.http_max_body_bytes)
    app.add_middleware(RequestContextMiddleware, service=settings.service_name)
    app.include_router(_operations_router(runtime))
    for router in routers:
        app.include_router(router)
    return app


#: A client's X-Request-ID is kept only if it looks like an id (it goes into every log line).
_REQUEST_ID_MAX_LENGTH = 128


class RequestContextMiddleware:
    """Request id (the client's ``X-Request-ID`` or a new one, echoed back), trace parent, request
    duration metric and one access-log line per request (not for health and metrics)."""

    def __init__(self, app: ASGIApp, *, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        request_id = _request_id(headers.get("x-request-id"))
        set_traceparent(headers.get("traceparent"))
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500  # if the app fails before it answers, the error middleware sends a 500

        async def send_with_request_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                response_headers = MutableHeaders(raw=list(message.get("headers", [])))
                response_headers["X-Request-ID"] = request_id
                message["headers"] = response_headers.raw
            await send(message)

        method = scope.get("method", "")
        request_span = span(
            f"{method} {scope.get('path', '')}",
            kind=SpanKind.SERVER,
            parent=headers.get("traceparent"),
            attributes={"coop.service": self.service, "http.request.method": method},
        )
        try:
            with request_span as current:
                try:
                    await self.app(scope, receive, send_with_request_id)
                finally:
                    if current is not None:  # tracing on: name it by its route, not its ids
                        route = getattr(scope.get("route"), "path", "unmatched")
                        current.update_name(f"{method} {route}")
                        current.set_attribute("http.route", route)
                        current.set_attribute("http.response.status_code", status)
        finally:
            elapsed = time.perf_counter() - started
            template = getattr(scope.get("route"), "path", "unmatched")
            HTTP_REQUESTS.labels(self.service, method, template, str(status)).observe(elapsed)
            if not template.startswith(("/health", "/metrics")):
                log.info(
                    "http request",
                    method=method,
                    route=template,
                    path=_loggable_path(scope),
                    status=status,
                    duration_ms=round(elapsed * 1000, 1),
                )


#: Shown in the access log in place of a path parameter that is a secret (a signed link's token).
_MASKED = "<masqué>"


def _loggable_path(scope: Scope) -> str:
    """The request's path with the values of its secret path parameters masked: a signed link
    (``/moi/{token}``, ``/conventions/lien/{token}``, ``/pilotage/acces/{token}``) is a bearer
    credential, and a log line must not hand it to whoever reads the logs."""
    path: str = scope.get("path", "")
    for name, value in (scope.get("path_params") or {}).items():
        if "token" in name.lower() and value:
            path = path.replace(str(value), _MASKED)
    return path


def _request_id(given: str | None) -> str:
    if given and len(given) <= _REQUEST_ID_MAX_LENGTH and given.isascii() and given.isprintable():
        return given
    return str(uuid.uuid4())


def _operations_router(runtime: ServiceRuntime) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/health/live", summary="The process answers")
    async def live() -> dict[str, str]:
        return {"status": "live"}

    @router.get("/health/ready", summary="Database, broker and consumers are usable")
    async def ready() -> JSONResponse:
        # 503 only when something is broken; late but working is 200 "degraded", so that a load
        # balancer keeps a slow instance while the body tells ops what is late.
        status_code, body = await runtime.readiness_report()
        return JSONResponse(body, status_code=status_code)

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

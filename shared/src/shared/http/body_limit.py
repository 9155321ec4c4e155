"""Request bodies over a size limit are refused with 413 before they are read.

A pure ASGI middleware (installed by ``shared.http.app``): a ``Content-Length`` over the limit is
answered at once, without calling the app, so not a byte of the body is read — whoever sends it,
token or not (FastAPI reads a body before it runs the authentication dependency). A body without
``Content-Length`` (chunked) is counted as the app reads it, and reading stops with a 413 as soon as
the count passes the limit.

The limit is the service's ``http_max_body_bytes`` setting; a route that needs more (an upload)
declares FastAPI's own ``max_body_size`` (``@router.post("/v1/uploads", max_body_size=20 * MIB)``)
and that value replaces the default for that route, up or down. The route is looked up only when
a body is over the smallest limit in force, so ordinary requests pay for one header lookup.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.http.problems import problem_response

MIB = 1024 * 1024

TITLE = "Requête trop volumineuse"


def too_large_detail(limit: int) -> str:
    return f"Le corps de la requête dépasse la taille maximale acceptée ici ({_size(limit)})."


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a streamed body passes the limit. An ``HTTPException`` so that
    FastAPI lets it through its body parsing and the app's problem handler answers it."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large_detail(limit), headers={"Connection": "close"})
        self.limit = limit


class BodySizeLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self._threshold: int | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        threshold = self.threshold(scope)
        declared = _content_length(scope)
        limit = None
        if declared is not None and declared > threshold:
            limit = self.route_limit(scope)
            if declared > limit:
                await _refuse(scope, receive, send, limit)
                return
        await _LimitedRequest(self, scope, receive, send, threshold, limit).run()

    def threshold(self, scope: Scope) -> int:
        """Below this many bytes no route refuses a body: the default, or a smaller route limit."""
        if self._threshold is None:
            limits = [self.max_body_bytes]
            for route in _routes(scope):
                declared = getattr(route, "max_body_size", None)
                if isinstance(declared, int):
                    limits.append(declared)
            self._threshold = min(limits)
        return self._threshold

    def route_limit(self, scope: Scope) -> int:
        """The ``max_body_size`` of the route the request goes to, else the default."""
        for route in _routes(scope):
            try:
                match, _ = route.matches(scope)
            except Exception:  # noqa: S112 - a route that cannot judge this scope is not the one
                continue
            if match is Match.FULL:
                declared = getattr(route, "max_body_size", None)
                return declared if isinstance(declared, int) else self.max_body_bytes
        return self.max_body_bytes


class _LimitedRequest:
    """One request whose body is counted as the app reads it."""

    def __init__(
        self,
        middleware: BodySizeLimitMiddleware,
        scope: Scope,
        receive: Receive,
        send: Send,
        threshold: int,
        limit: int | None,
    ) -> None:
        self.middleware = middleware
        self.scope = scope
        self._receive = receive
        self._send = send
        #: The route's limit once looked up; until then, the threshold under which none refuses.
        self.limit = threshold if limit is None else limit
        self.route_checked = limit is not None
        self.received = 0
        self.response_started = False

    async def run(self) -> None:
        try:
            await self.middleware.app(self.scope, self.receive, self.send)
        except BodyTooLarge as exc:
            # Nobody turned it into a response (no handler on this path): answer it here.
            if self.response_started:
                raise
            await _refuse(self.scope, self._receive, self._send, exc.limit)

    async def receive(self) -> Message:
        if self.received > self.limit:
            raise BodyTooLarge(self.limit)
        message = await self._receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limit and not self.route_checked:
                self.route_checked = True
                self.limit = self.middleware.route_limit(self.scope)
            if self.received > self.limit:
                raise BodyTooLarge(self.limit)
        return message

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.response_started = True
        await self._send(message)


async def body_too_large_handler(request: Request, exc: Exception) -> JSONResponse:
    """Exception handler for :class:`BodyTooLarge` raised while a route reads its body."""
    assert isinstance(exc, BodyTooLarge)
    return _problem(request, exc.limit)


def _problem(request: Request, limit: int) -> JSONResponse:
    return problem_response(
        request,
        413,
        TITLE,
        too_large_detail(limit),
        problem="payload-too-large",
        headers={"Connection": "close"},
        extra={"max_body_bytes": limit},
    )


async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    await _problem(Request(scope), limit)(scope, receive, send)


def _routes(scope: Scope) -> list[Any]:
    router = getattr(scope.get("app"), "router", None)
    return list(iter_route_contexts(router.routes)) if router is not None else []


def _content_length(scope: Scope) -> int | None:
    value = Headers(scope=scope).get("content-length")
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None  # the server refuses such requests; if not, the body is counted


def _size(limit: int) -> str:
    if limit >= MIB and limit % MIB == 0:
        return f"{limit // MIB} Mio"
    if limit >= 1024 and limit % 1024 == 0:
        return f"{limit // 1024} Kio"
    return f"{limit} octets"

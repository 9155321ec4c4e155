"""Request bodies over a size limit are refused with 413 before they are read.

A pure ASGI middleware (installed by ``shared.http.app``): a ``Content-Length`` over the limit is
answered at once, without calling the app, so not a byte of the body is read — whoever sends it,
token or not (FastAPI reads a body before it runs the authentication dependency). A body without
``Content-Length`` (chunked) is counted as the app reads it, and reading stops with a 413 as soon as
the count passes the limit.

The same middleware refuses the NUL character (U+0000) with a 422 naming the field: PostgreSQL
cannot store it in a text column (``invalid byte sequence``), so it would otherwise end as a 500.
A JSON body spells it ``\u0000``: the bytes are searched as they pass, and only a body holding them
is parsed once more, at its end, for the field; a path or a query string spells it ``%00``.

The limit is the service's ``http_max_body_bytes`` setting; a route that needs more (an upload)
declares FastAPI's own ``max_body_size`` (``@router.post("/v1/uploads", max_body_size=20 * MIB)``)
and that value replaces the default for that route, up or down. The route is looked up only when
a body is over the smallest limit in force, so ordinary requests pay for one header lookup.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.http.problems import FieldError, problem_response

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


NUL_MESSAGE = "Caractère nul (U+0000) refusé : il ne peut pas être enregistré."
_NUL_ESCAPE = b"\\u0000"
_NUL_URL = b"%00"


class NulRefused(HTTPException):
    """Raised from ``receive`` at the end of a body one of whose strings holds U+0000."""

    def __init__(self, error: FieldError) -> None:
        super().__init__(422, NUL_MESSAGE)
        self.error = error


class BodySizeLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self._threshold: int | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        in_url = _nul_in_url(scope)
        if in_url is not None:
            await _nul_problem(Request(scope), in_url)(scope, receive, send)
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
        #: The body's chunks (references, not copies) and whether one may hold ``\u0000``.
        self.chunks: list[bytes] = []
        self.suspect = False

    async def run(self) -> None:
        try:
            await self.middleware.app(self.scope, self.receive, self.send)
        except BodyTooLarge as exc:
            # Nobody turned it into a response (no handler on this path): answer it here.
            if self.response_started:
                raise
            await _refuse(self.scope, self._receive, self._send, exc.limit)
        except NulRefused as exc:
            if self.response_started:
                raise
            await _nul_problem(Request(self.scope), exc.error)(
                self.scope, self._receive, self._send
            )

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
            body = message.get("body", b"")
            if body:
                last = self.chunks[-1][-5:] if self.chunks else b""
                self.chunks.append(body)
                self.suspect = self.suspect or _NUL_ESCAPE in body or _NUL_ESCAPE in last + body[:5]
            if self.suspect and not message.get("more_body", False):
                field = _nul_field(b"".join(self.chunks))
                if field is not None:
                    raise NulRefused(FieldError(field=field, message=NUL_MESSAGE))
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


async def nul_refused_handler(request: Request, exc: Exception) -> JSONResponse:
    """Exception handler for :class:`NulRefused` raised while a route reads its body."""
    assert isinstance(exc, NulRefused)
    return _nul_problem(request, exc.error)


def _nul_problem(request: Request, error: FieldError) -> JSONResponse:
    return problem_response(
        request,
        422,
        "Requête invalide",
        f"{error.field}: {error.message}",
        problem="validation-error",
        errors=[error],
    )


def _nul_in_url(scope: Scope) -> FieldError | None:
    if _NUL_URL in scope.get("raw_path", b""):
        return FieldError(field="path", message=NUL_MESSAGE, location="path")
    query = scope.get("query_string", b"")
    if _NUL_URL in query:
        names = [k for k, v in parse_qsl(query.decode("latin-1")) if "\x00" in k + v]
        return FieldError(
            field=names[0] if names else "query", message=NUL_MESSAGE, location="query"
        )
    return None


def _nul_field(body: bytes) -> str | None:
    """The client's path (``a.b[2]``) of the first string or key holding U+0000, if any (a
    body that is not JSON is left to the route's own validation)."""
    try:
        document = json.loads(body)
    except ValueError:
        return None
    return _nul_path(document, "")


def _nul_path(value: Any, path: str) -> str | None:
    if isinstance(value, str):
        return (path or "body") if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            inner = f"{path}.{key}" if path else str(key)
            if "\x00" in key:
                return inner
            found = _nul_path(item, inner)
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _nul_path(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    await _problem(Request(scope), limit)(scope, receive, send)


def _routes(scope: Scope) -> list[Any]:
    return build_route_contexts(scope.get("app"))


def build_route_contexts(app: Any) -> list[Any]:
    """The app's routes with their resolved context (limits, dependencies). FastAPI builds and
    keeps these at the first request that needs them; the service's lifespan calls this at
    start-up so that no request pays it."""
    router = getattr(app, "router", None)
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

"""Request bodies over the limit are refused with a French 413 problem before they are read."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel
from starlette.types import Message, Receive, Scope, Send

from shared.auth.tokens import Role, mint_token
from shared.http.body_limit import MIB
from shared.http.security import CurrentPrincipal
from shared.settings import DEVELOPMENT_JWT_SECRET
from shared.testing import http_test_app, serving

CHUNK = 64 * 1024


class Note(BaseModel):
    text: str


def _router() -> APIRouter:
    router = APIRouter()

    @router.post("/v1/notes")
    async def notes(note: Note, _principal: CurrentPrincipal) -> dict[str, int]:
        return {"length": len(note.text)}

    @router.post("/v1/uploads", max_body_size=4 * MIB)
    async def uploads(note: Note) -> dict[str, int]:
        return {"length": len(note.text)}

    @router.post("/v1/tiny", max_body_size=100)
    async def tiny(note: Note) -> dict[str, int]:
        return {"length": len(note.text)}

    return router


class CountingApp:
    """Counts the body bytes the app pulled from the server."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.received = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def counting() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                self.received += len(message.get("body", b""))
            return message

        await self.app(scope, counting, send)


def _token() -> str:
    return mint_token(
        key=DEVELOPMENT_JWT_SECRET,
        subject="c1",
        role=Role.COUNSELLOR,
        issuer="coop-platform-dev",
        audience="coop-platform",
        ft_structure="59350",
    )


def _json(size: int) -> bytes:
    """A JSON body of exactly ``size`` bytes."""
    return json.dumps({"text": "x" * (size - len('{"text": ""}'))}).encode()


@pytest.fixture
def app() -> FastAPI:
    return http_test_app([_router()])


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://edge.test") as c:
        yield c


def _assert_too_large(status: int, headers: Any, body: bytes, limit: str) -> None:
    assert status == 413
    assert headers["content-type"] == "application/problem+json"
    problem = json.loads(body)
    assert problem["title"] == "Requête trop volumineuse"
    assert problem["status"] == 413
    assert problem["type"].endswith("/payload-too-large")
    assert f"taille maximale acceptée ici ({limit})" in problem["detail"]


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    pairs = (line.split(":", 1) for line in lines[1:] if line)
    headers = {name.strip().lower(): value.strip() for name, value in pairs}
    body = await reader.readexactly(int(headers["content-length"]))
    return status, headers, body


async def test_an_announced_80_mb_body_without_token_is_refused_before_it_is_sent(
    app: FastAPI,
) -> None:
    counting = CountingApp(app)
    async with serving(counting) as (host, port):
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(
            b"POST /v1/notes HTTP/1.1\r\nHost: edge\r\nContent-Type: application/json\r\n"
            b"Content-Length: 83886080\r\n\r\n"
        )
        await writer.drain()
        # Not one byte of the body is sent: the answer cannot be waiting for it.
        status, headers, body = await asyncio.wait_for(_read_response(reader), timeout=5)
        writer.close()
    _assert_too_large(status, headers, body, "1 Mio")
    assert headers["connection"] == "close"
    assert "x-request-id" in headers
    assert counting.received == 0


async def test_a_chunked_body_over_real_http_is_cut_at_the_limit(app: FastAPI) -> None:
    counting = CountingApp(app)
    async with serving(counting) as (host, port):
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(
            b"POST /v1/notes HTTP/1.1\r\nHost: edge\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"%x\r\n%s\r\n" % (CHUNK, b"x" * CHUNK)
        for _ in range(MIB // CHUNK + 8):  # past the limit, and never the final empty chunk
            writer.write(chunk)
        await writer.drain()
        status, headers, body = await asyncio.wait_for(_read_response(reader), timeout=5)
        writer.close()
    _assert_too_large(status, headers, body, "1 Mio")
    assert counting.received <= MIB + 2 * CHUNK  # the limit and the last piece the server read


async def test_an_80_mb_stream_is_read_only_up_to_the_limit(client: httpx.AsyncClient) -> None:
    produced = 0

    async def eighty_megabytes() -> AsyncIterator[bytes]:
        nonlocal produced
        for _ in range(80 * MIB // CHUNK):
            produced += CHUNK
            yield b" " * CHUNK

    response = await client.post(
        "/v1/notes", content=eighty_megabytes(), headers={"Content-Type": "application/json"}
    )
    _assert_too_large(response.status_code, response.headers, response.content, "1 Mio")
    assert produced <= MIB + 2 * CHUNK


async def test_bodies_within_the_limit_pass(client: httpx.AsyncClient) -> None:
    auth = {"Authorization": f"Bearer {_token()}", "Content-Type": "application/json"}
    body = _json(MIB)
    response = await client.post("/v1/notes", content=body, headers=auth)
    assert response.status_code == 200, response.text

    async def streamed() -> AsyncIterator[bytes]:
        for start in range(0, len(body), CHUNK):
            yield body[start : start + CHUNK]

    response = await client.post("/v1/notes", content=streamed(), headers=auth)
    assert response.status_code == 200, response.text

    response = await client.post("/v1/notes", content=_json(MIB + 1), headers=auth)
    _assert_too_large(response.status_code, response.headers, response.content, "1 Mio")


async def test_a_route_may_allow_a_larger_body(client: httpx.AsyncClient) -> None:
    headers = {"Content-Type": "application/json"}
    accepted = await client.post("/v1/uploads", content=_json(3 * MIB), headers=headers)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json() == {"length": 3 * MIB - len('{"text": ""}')}

    body = _json(3 * MIB)

    async def streamed() -> AsyncIterator[bytes]:
        for start in range(0, len(body), CHUNK):
            yield body[start : start + CHUNK]

    assert (await client.post("/v1/uploads", content=streamed(), headers=headers)).is_success

    refused = await client.post("/v1/uploads", content=_json(4 * MIB + 1), headers=headers)
    _assert_too_large(refused.status_code, refused.headers, refused.content, "4 Mio")


async def test_a_route_may_allow_a_smaller_body(client: httpx.AsyncClient) -> None:
    headers = {"Content-Type": "application/json"}
    assert (await client.post("/v1/tiny", content=_json(100), headers=headers)).is_success
    refused = await client.post("/v1/tiny", content=_json(101), headers=headers)
    _assert_too_large(refused.status_code, refused.headers, refused.content, "100 octets")

    async def streamed() -> AsyncIterator[bytes]:
        yield _json(200)

    refused = await client.post("/v1/tiny", content=streamed(), headers=headers)
    _assert_too_large(refused.status_code, refused.headers, refused.content, "100 octets")


async def test_the_default_limit_is_a_setting() -> None:
    app = http_test_app([_router()], http_max_body_bytes=2048)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://edge.test"
    ) as client:
        response = await client.post(
            "/v1/notes", content=_json(4096), headers={"Content-Type": "application/json"}
        )
    _assert_too_large(response.status_code, response.headers, response.content, "2 Kio")
    assert response.json()["max_body_bytes"] == 2048


async def test_an_oversized_body_to_an_unknown_path_is_refused_too(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/v1/nowhere", content=b"x" * (MIB + 1))
    _assert_too_large(response.status_code, response.headers, response.content, "1 Mio")


async def test_health_answers_while_a_large_body_is_refused(app: FastAPI) -> None:
    async with serving(app) as (host, port):
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"POST /v1/notes HTTP/1.1\r\nHost: edge\r\nContent-Length: 83886080\r\n\r\n")
        await writer.drain()
        async with httpx.AsyncClient(base_url=f"http://{host}:{port}") as http:
            # Answered while the other connection's body is still announced and never sent.
            live = await http.get("/health/live")
            assert live.status_code == 200
        status, _, _ = await asyncio.wait_for(_read_response(reader), timeout=5)
        assert status == 413
        writer.close()

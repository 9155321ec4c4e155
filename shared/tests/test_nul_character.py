"""The NUL character (U+0000) is refused with a French 422 naming the field, in a JSON body, a
path or a query string — PostgreSQL cannot store it in a text column, which was a 500 (found by
the API fuzz test on the notifications service)."""

from __future__ import annotations

import asyncio
import json

import httpx
from fastapi import APIRouter
from pydantic import BaseModel

from shared.http.body_limit import NUL_MESSAGE
from shared.testing import http_test_app, serving


class Note(BaseModel):
    text: str


class Notes(BaseModel):
    items: list[Note]


def _app() -> object:
    router = APIRouter()

    @router.post("/v1/notes")
    async def notes(body: Notes) -> dict[str, int]:
        return {"length": sum(len(n.text) for n in body.items)}

    @router.get("/v1/notes/{name}")
    async def note(name: str, q: str = "") -> dict[str, int]:
        return {"length": len(name) + len(q)}

    return http_test_app([router])


def _assert_refused(response: httpx.Response, field: str, location: str) -> None:
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["errors"] == [{"field": field, "location": location, "message": NUL_MESSAGE}]
    assert "secret" not in response.text  # nothing of the value comes back


async def test_a_nul_in_a_json_body_is_refused_with_its_field() -> None:
    async with (
        serving(_app()) as (host, port),
        httpx.AsyncClient(base_url=f"http://{host}:{port}") as http,
    ):
        body = {"items": [{"text": "ok"}, {"text": "secret\u0000x"}]}
        _assert_refused(await http.post("/v1/notes", json=body), "items[1].text", "body")
        # The six characters \u0000 written out are text like any other.
        written_out = await http.post("/v1/notes", json={"items": [{"text": "\\u0000"}]})
        assert written_out.status_code == 200
        assert written_out.json() == {"length": 6}


async def test_a_nul_escape_split_across_chunks_is_found() -> None:
    async with serving(_app()) as (host, port):
        reader, writer = await asyncio.open_connection(host, port)
        payload = json.dumps({"items": [{"text": "secret\u0000"}]}).encode()
        cut = payload.index(b"\\u0000") + 3  # "\u0" in one chunk, "000" in the next
        writer.write(
            b"POST /v1/notes HTTP/1.1\r\nHost: edge\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        )
        for part in (payload[:cut], payload[cut:]):
            writer.write(b"%x\r\n%s\r\n" % (len(part), part))
            await writer.drain()
            await asyncio.sleep(0.05)  # two reads on the server's side
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), timeout=5)
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 422")
    assert json.loads(body)["errors"][0]["field"] == "items[0].text"


async def test_a_nul_in_the_path_or_the_query_is_refused() -> None:
    async with (
        serving(_app()) as (host, port),
        httpx.AsyncClient(base_url=f"http://{host}:{port}") as http,
    ):
        # (The problem's "instance" is the path, as for every problem.)
        _assert_refused(await http.get("/v1/notes/x%00"), "path", "path")
        _assert_refused(await http.get("/v1/notes/a", params={"q": "secret\u0000"}), "q", "query")
        assert (await http.get("/v1/notes/a", params={"q": "b"})).json() == {"length": 2}

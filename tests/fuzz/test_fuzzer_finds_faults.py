"""The fuzzer can fail: on an app of the shared factory with a route that breaks on some valid
inputs (a 500) and one that answers outside its documented schema, the same harness as the
services' run reports both — so a green fuzz run means something."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import pytest
import schemathesis.python.asgi as asgi
from fastapi import APIRouter, FastAPI, Query
from pydantic import BaseModel

from shared.http.security import CurrentPrincipal
from shared.testing import http_test_app

from .test_openapi_fuzz import _fuzz

router = APIRouter(prefix="/v1")


class Answer(BaseModel):
    total: int


@router.get("/fragile", response_model=None)
async def fragile(
    principal: CurrentPrincipal, n: Annotated[int, Query(ge=0, le=1000)] = 0
) -> dict[str, int]:
    return {"ratio": 100 // (n % 7)}  # ZeroDivisionError for n = 0, 7, 14…


@router.get("/wrong-shape", responses={200: {"model": Answer}}, response_model=None)
async def wrong_shape(principal: CurrentPrincipal) -> dict[str, str]:
    return {"total": "not a number"}


@pytest.fixture
def faulty_app() -> Iterator[FastAPI]:
    app = http_test_app([router])
    yield app
    asgi.shutdown_lifespans()


def test_the_fuzzer_reports_a_server_error_and_an_answer_outside_the_document(
    faulty_app: FastAPI,
) -> None:
    failures = _fuzz(faulty_app)
    assert any("GET /v1/fragile" in f and "→ 500" in f for f in failures), failures
    assert any("GET /v1/wrong-shape" in f and "schema" in f.lower() for f in failures), failures
    # The anonymous caller is refused (401) before any fault: only the tokens' calls fail.
    assert not any(f.startswith("anonymous:") for f in failures), failures

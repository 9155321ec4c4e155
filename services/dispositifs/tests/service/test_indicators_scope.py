"""Dispositifs indicators scoped and protected (issue 10 item 2, issue 11 item 6): a counsellor
gets their own organisation's figures only, ops every organisation's; a count under the secrecy
threshold reads "secret", with a second région hidden so that the total gives neither back, and
rates that would give a small count back are hidden too."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from dispositifs.domain.secrecy import protect_indicators
from dispositifs.models import KnownReferral
from shared.privacy import SECRET_MARK

from .conftest import COUNSELLOR, OPS, OTHER_COUNSELLOR, creating
from .test_immersions_api import TODAY, full_content

KnownFactory = Callable[..., Awaitable[KnownReferral]]
PARAMS = {
    "from": (TODAY - timedelta(days=1)).isoformat(),
    "to": (TODAY + timedelta(days=1)).isoformat(),
}


async def _request(
    client: httpx.AsyncClient, known: KnownFactory, headers: dict[str, str], **referral: Any
) -> None:
    ref = await known(**referral)
    body = full_content(referral_id=str(ref.referral_id), departement=referral["departement"])
    created = await client.post("/v1/immersions", json=body, headers=creating(headers))
    assert created.status_code == 201, created.text


async def _indicators(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.get("/v1/indicators", params=PARAMS, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_a_counsellor_counts_their_organisation_only_and_ops_count_all(
    client: httpx.AsyncClient, known_referral: KnownFactory
) -> None:
    for _ in range(2):
        await _request(client, known_referral, COUNSELLOR, departement="59")
    await _request(
        client, known_referral, OTHER_COUNSELLOR, departement="13", structure_code="13055"
    )
    mine = await _indicators(client, COUNSELLOR)
    assert [r["region_code"] for r in mine["regions"]] == ["32"]
    assert mine["total"]["immersions"]["requested"] == 2
    # Even asking for everyone (the old flag), a counsellor gets their own figures.
    asked_all = await client.get(
        "/v1/indicators", params={**PARAMS, "structure_only": "false"}, headers=COUNSELLOR
    )
    assert asked_all.json()["total"]["immersions"]["requested"] == 2
    theirs = await _indicators(client, OTHER_COUNSELLOR)
    assert [r["region_code"] for r in theirs["regions"]] == ["93"]
    assert theirs["total"]["immersions"]["requested"] == 1
    everyone = await _indicators(client, OPS)
    assert everyone["total"]["immersions"]["requested"] == 3


@pytest.fixture
def secrecy(app: FastAPI) -> FastAPI:
    app.state.runtime.settings.statistical_secrecy_threshold = 5
    return app


async def test_a_cell_of_one_is_secret_with_a_second_region_hidden(
    secrecy: FastAPI, client: httpx.AsyncClient, known_referral: KnownFactory
) -> None:
    # Hauts-de-France 6, Provence-Alpes-Côte d'Azur 1, Île-de-France 7 (ops see them all).
    for departement, count in (("59", 6), ("13", 1), ("75", 7)):
        for _ in range(count):
            await _request(client, known_referral, COUNSELLOR, departement=departement)
    body = await _indicators(client, OPS)
    requested = {r["region_code"]: r["immersions"]["requested"] for r in body["regions"]}
    assert requested["93"] == SECRET_MARK  # a cell of one
    # The total stays published, so a second région is hidden: 14 - 7 would give 6 + 1 back.
    assert body["total"]["immersions"]["requested"] == 14
    assert list(requested.values()).count(SECRET_MARK) == 2
    assert requested["11"] == 7 or requested["32"] == 6
    assert body["secrecy"] == {"threshold": 5, "mark": SECRET_MARK}
    # Zero is not secret (no one to single out).
    assert body["total"]["immersions"]["rejected"] == 0
    assert "1" not in {str(v) for v in requested.values()}


def test_rates_that_would_give_back_a_small_count_are_hidden() -> None:
    def scheme(**values: Any) -> dict[str, Any]:
        return values

    region = {
        "region_code": "32",
        "immersions": scheme(
            requested=12,
            rejected=0,
            booked=10,
            completed=10,
            objectives_reached=9,
            hired_after=9,
            completion_rate=1.0,
            hired_rate=0.9,
        ),
        "mrs": scheme(
            registered=0, evaluated=0, positive=0, recruited=0, recruitment_rate_among_positive=None
        ),
        "poei": scheme(enrolled=0, completed=0, hired=0, hired_rate=None),
        "poec": scheme(enrolled=0, completed=0, hired=0, missions_overdue=0, hired_rate=None),
    }
    total = {k: dict(v) if isinstance(v, dict) else v for k, v in region.items()}
    result = protect_indicators({"regions": [region], "total": total}, threshold=5)
    immersions = result["total"]["immersions"]
    # 9 hired out of 10 names the one who was not: the rate is hidden, the counts (9, 10) are not.
    assert immersions["hired_rate"] == SECRET_MARK
    assert immersions["hired_after"] == 9
    assert immersions["completion_rate"] == 1.0

"""Issue 10, "Why": on PostgreSQL, unbounded strings landed in fixed-length columns (recipient ids
255, webhook URLs 1000) and the store's refusal was a 500. Each is a 422 in French on the field the
client sent, and nothing is kept (run on PostgreSQL with ``COOP_TEST_POSTGRES_URL``)."""

from __future__ import annotations

import httpx

from ..conftest import OPS

LONG_ID = "c" * 256
LONG_URL = "https://erp.example.org/" + "x" * 1000


async def test_a_recipient_id_longer_than_its_column_is_a_422_on_recipient_id(
    client: httpx.AsyncClient,
) -> None:
    for method, suffix, body in (
        ("PUT", "", {"email": "claire@example.org"}),
        ("PUT", "/preferences", {"opted_out_channels": ["email"], "opted_out_kinds": []}),
        ("GET", "", None),
    ):
        response = await client.request(
            method, f"/v1/recipients/counsellor/{LONG_ID}{suffix}", json=body, headers=OPS
        )
        assert response.status_code == 422, (method, suffix, response.text)
        assert [(e["field"], e["location"]) for e in response.json()["errors"]] == [
            ("recipient_id", "path")
        ]
        assert "255" in response.json()["errors"][0]["message"]
    fits = await client.put(
        f"/v1/recipients/counsellor/{'c' * 255}", json={"email": "claire@example.org"}, headers=OPS
    )
    assert fits.status_code == 200, fits.text


async def test_a_webhook_url_longer_than_its_column_is_a_422_on_webhook_url(
    client: httpx.AsyncClient,
) -> None:
    response = await client.put(
        "/v1/recipients/agency/agc-interim-nord-lille", json={"webhook_url": LONG_URL}, headers=OPS
    )
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["webhook_url"]
    kept = await client.get("/v1/recipients/agency/agc-interim-nord-lille", headers=OPS)
    assert kept.status_code in {200, 404}
    assert "x" * 100 not in kept.text

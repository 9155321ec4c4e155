"""The steering dashboard (issue 16, item 3) in a real browser (Debian's Chromium) on seeded data:
the link opens a cookie session, the figures shown (table by région, progress against each target,
MRS and POEC headlines, months) equal the API's, the charts are drawn by the vendored Chart.js, the
filters narrow them, the download carries the same figures; screenshots at phone and desktop
widths. The access without a link, with a forged one, and after leaving is refused."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from localkafka import free_port
from referral.api.steering import STATIC
from referral.use_cases.steering import IssueDashboardLink, issue_dashboard_link
from shared.auth.tokens import Principal, Role
from shared.testing_browser import PHONE, SCREENSHOTS, screenshot

from ..conftest import bearer
from .test_steering_api import _activity, _convention, _key, _ods_rows

STEERING = bearer(Role.STEERING, "copil.hdf")
OPS = bearer(Role.OPS)


@pytest.fixture
async def served(app: FastAPI) -> AsyncIterator[str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:  # noqa: ASYNC110 (uvicorn offers no started event)
            await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def _shown(value: Any) -> str:
    return "secret" if value == "secret" else str(value)


async def _table(page: Any, selector: str, key: str) -> dict[str, list[str]]:
    rows: dict[str, list[str]] = {}
    for row in await page.locator(f"{selector} tr[data-{key}]").all():
        cells = [c.strip() for c in await row.locator("td").all_inner_texts()]
        rows[await row.get_attribute(f"data-{key}") or ""] = cells
    return rows


async def _expected_regions(client: httpx.AsyncClient, **params: str) -> dict[str, list[str]]:
    query = {"group_by": "region", **params}
    figures = (await client.get("/v1/indicators", params=query, headers=STEERING)).json()
    schemes = (await client.get("/v1/indicators/schemes", params=query, headers=STEERING)).json()
    by_code = {g["group"]: g for g in schemes["groups"]}

    def line(metrics: dict[str, Any], scheme: dict[str, Any]) -> list[str]:
        poei, poec = scheme["poei"]["started"], scheme["poec"]["started"]
        training = "secret" if "secret" in (poei, poec) else poei + poec
        return [
            _shown(metrics["referrals_sent"]),
            _shown(metrics["placements"]),
            _shown(metrics["durable_placements"]),
            _shown(scheme["immersion"]["started"]),
            _shown(scheme["mrs"]["recruited"]),
            _shown(training),
        ]

    expected = {g["group"]: line(g, by_code[g["group"]]) for g in figures["groups"]}
    expected["total"] = line(figures["total"], schemes["total"])
    return expected


async def test_the_dashboard_shows_the_apis_figures_with_progress_and_charts(
    client: httpx.AsyncClient, app: FastAPI, served: str, browser_page: Any
) -> None:
    assert (STATIC / "vendor" / "chart.umd.min.js").is_file(), (
        "Chart.js is not vendored: run `make steering-assets` (make test does)."
    )
    await _activity(client, app)
    created = await client.post(
        "/v1/conventions",
        # Beside the seeded conventions (the demo's Hauts-de-France one among them), its own.
        json=_convention(name="Convention Hauts-de-France — comité du test"),
        headers={**STEERING, **_key()},
    )
    assert created.status_code == 201, created.text
    convention_id = created.json()["id"]
    link = await client.post("/v1/steering/dashboard-link", headers=STEERING)
    assert link.status_code == 200, link.text
    url = link.json()["url"]

    page = browser_page
    await page.goto(served + url)
    assert page.url == served + "/pilotage"  # the token left the address bar for a cookie
    assert await page.title() == "Tableau de bord de pilotage de la convention"
    assert await page.get_attribute("html", "lang") == "fr"
    cookies = {c["name"]: c for c in await page.context.cookies()}
    assert cookies["coop_pilotage"]["httpOnly"] is True
    assert cookies["coop_pilotage"]["path"] == "/pilotage"

    # The table by région equals the API's figures, total included.
    assert await _table(page, "#table-regions", "region") == await _expected_regions(client)

    # Progress against each target equals the convention's progress in the API.
    api = (await client.get(f"/v1/conventions/{convention_id}", headers=STEERING)).json()
    article = page.locator(f'article[data-convention="{convention_id}"]')
    shown = {
        await li.get_attribute("data-axis"): await li.get_attribute("data-achieved")
        for li in await article.locator("li[data-axis]").all()
    }
    assert shown == {line["axis"]: str(line["achieved"]) for line in api["progress"]["lines"]}
    assert await article.locator("progress").count() == len(api["progress"]["lines"])
    referrals_bar = article.locator('li[data-axis="referrals"] progress')
    assert float(await referrals_bar.get_attribute("value")) == pytest.approx(10.0)  # 3 of 30
    assert await referrals_bar.get_attribute("aria-labelledby")

    # Headline figures: MRS recruits, POEC starts.
    schemes = (await client.get("/v1/indicators/schemes", headers=STEERING)).json()["total"]
    assert await page.locator("#mrs-recruited").inner_text() == _shown(schemes["mrs"]["recruited"])
    assert await page.locator("#mrs-positive").inner_text() == _shown(schemes["mrs"]["completed"])
    assert await page.locator("#poec-starts").inner_text() == _shown(schemes["poec"]["started"])

    # The months, and the charts drawn (each with its table).
    months = (
        await client.get("/v1/indicators", params={"group_by": "month"}, headers=STEERING)
    ).json()["groups"]
    assert await _table(page, "#table-months", "month") == {
        m["group"]: [
            _shown(m["referrals_sent"]),
            _shown(m["placements"]),
            _shown(m["durable_placements"]),
        ]
        for m in months
    }
    for chart in ("#chart-regions", "#chart-months"):
        await page.wait_for_selector(f'{chart}[data-rendered="2"]')
        assert await page.locator(chart).get_attribute("aria-label")
    await screenshot(page, "steering-dashboard-desktop")
    await screenshot(page, "steering-dashboard-phone", width=PHONE["width"])
    await page.set_viewport_size({"width": 1280, "height": 900})

    # The download carries the same figures as the page (and the API's CSV).
    ods = await page.request.get(served + "/pilotage/export.ods")
    assert ods.status == 200
    api_csv = await client.get("/v1/indicators.csv", params={"group_by": "region"}, headers=OPS)
    assert _ods_rows(await ods.body(), "regions") == list(csv.reader(io.StringIO(api_csv.text)))
    api_schemes = await client.get(
        "/v1/indicators/schemes.csv", params={"group_by": "region"}, headers=OPS
    )
    assert _ods_rows(await ods.body(), "dispositifs") == list(
        csv.reader(io.StringIO(api_schemes.text))
    )
    conventions = _ods_rows(await ods.body(), "conventions")
    assert [r[4:] for r in conventions if r[0] == api["name"]] == [
        [line["axis"], str(line["target"]), str(line["achieved"])]
        for line in api["progress"]["lines"]
    ]

    # Filter by network: the table and the download narrow to it, as the API does.
    await page.select_option("#reseau", "travail-plus")
    await page.get_by_role("button", name="Filtrer").click()
    await page.wait_for_url("**reseau=travail-plus**")
    narrowed = await _expected_regions(client, network_id="travail-plus")
    assert await _table(page, "#table-regions", "region") == narrowed
    assert set(narrowed) == {"84", "total"}
    assert "Filtres appliqués" in await page.get_by_role("status").inner_text()
    await page.select_option("#reseau", "")
    await page.select_option("#public", "rqth")
    await page.get_by_role("button", name="Filtrer").click()
    await page.wait_for_url("**public=rqth**")
    by_public = await _expected_regions(client, priority_public="rqth")
    assert await _table(page, "#table-regions", "region") == by_public
    await page.fill("#metier", "N4101")
    await page.select_option("#public", "")
    await page.get_by_role("button", name="Filtrer").click()
    await page.wait_for_url("**metier=N4101**")
    assert await _table(page, "#table-regions", "region") == await _expected_regions(
        client, rome_code="N4101"
    )
    csv_link = await page.locator("#download-csv").get_attribute("href")
    assert csv_link == "/pilotage/export.csv?metier=N4101"
    exported = await page.request.get(served + csv_link)
    trade_csv = await client.get(
        "/v1/indicators.csv", params={"group_by": "region", "rome_code": "N4101"}, headers=OPS
    )
    assert await exported.text() == trade_csv.text
    await screenshot(page, "steering-dashboard-filtered-phone", width=PHONE["width"])

    # Leaving ends the session.
    await page.get_by_role("button", name="Quitter le tableau de bord").click()
    await page.goto(served + "/pilotage")
    assert "n'est pas valide" in await page.locator("main").inner_text()


async def test_the_dashboard_is_refused_without_a_valid_link(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    assert (await client.get("/pilotage")).status_code == 401
    assert (await client.get("/pilotage/export.ods")).status_code == 401
    settings = app.state.settings
    reader = Principal(subject="copil", role=Role.STEERING)
    now = datetime.now(UTC)
    good = issue_dashboard_link(
        IssueDashboardLink(settings.link_secret, now, timedelta(hours=1)), reader
    )
    expired = issue_dashboard_link(
        IssueDashboardLink(settings.link_secret, now - timedelta(hours=2), timedelta(hours=1)),
        reader,
    )
    other_key = issue_dashboard_link(
        IssueDashboardLink("another-secret", now, timedelta(hours=1)), reader
    )
    forged = good[:-4] + ("0000" if not good.endswith("0000") else "1111")
    for token in (expired, other_key, forged, "nonsense", str(uuid.uuid4())):
        refused = await client.get(f"/pilotage/acces/{token}")
        assert refused.status_code == 403, token
        assert "coop_pilotage" not in refused.headers.get("set-cookie", "")
        client.cookies.set("coop_pilotage", token)
        assert (await client.get("/pilotage")).status_code == 401
        client.cookies.clear()
    opened = await client.get(f"/pilotage/acces/{good}")
    assert opened.status_code == 303
    assert opened.headers["location"] == "/pilotage"
    assert "HttpOnly" in opened.headers["set-cookie"]
    assert "SameSite=lax" in opened.headers["set-cookie"]
    # The client keeps the cookie the link set (path /pilotage).
    page = await client.get("/pilotage")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    # A counsellor gets no dashboard link, and the static folder serves only its own files.
    counsellor = bearer(Role.COUNSELLOR, "c", ft_structure="75101")
    assert (await client.post("/v1/steering/dashboard-link", headers=counsellor)).status_code == 403
    assert (await client.get("/pilotage/static/../../settings.py")).status_code == 404
    assert (await client.get("/pilotage/static/dashboard.js")).status_code == 200


async def test_a_job_dating_shows_on_the_dashboard_as_in_the_indicators(
    client: httpx.AsyncClient, app: FastAPI, served: str, browser_page: Any
) -> None:
    """Issue 16, "Done when": a job dating with three agencies, ten invited job seekers,
    attendance and two hires appears in the indicators and on the dashboard, the same figures."""
    from .test_job_datings import hold_job_dating

    await hold_job_dating(app, client)
    api = (await client.get("/v1/indicators/local-actions", headers=STEERING)).json()
    assert api["job_datings"] == {
        "events": 1,
        "invited": 10,
        "came": 7,
        "did_not_come": 3,
        "hired": 2,
    }
    link = await client.post("/v1/steering/dashboard-link", headers=STEERING)
    page = browser_page
    await page.goto(served + link.json()["url"])
    shown = {
        key: await page.locator(f"#job-datings-{key}").inner_text()
        for key in ("events", "invited", "came", "absent", "hired")
    }
    datings = api["job_datings"]
    assert shown == {
        "events": str(datings["events"]),
        "invited": _shown(datings["invited"]),
        "came": _shown(datings["came"]),
        "absent": _shown(datings["did_not_come"]),
        "hired": _shown(datings["hired"]),
    }
    offers = api["hard_to_fill_offers"]
    assert await page.locator("#hard-to-fill-published").inner_text() == str(offers["published"])
    assert await page.locator("#hard-to-fill-answered").inner_text() == str(offers["answered"])
    await page.locator("#job-datings").scroll_into_view_if_needed()
    await screenshot(page, "steering-dashboard-local-actions-phone", width=PHONE["width"])


async def test_the_map_by_region_shows_the_apis_figures_with_its_text_equivalent(
    client: httpx.AsyncClient, app: FastAPI, served: str, browser_page: Any
) -> None:
    await _activity(client, app)
    link = await client.post("/v1/steering/dashboard-link", headers=STEERING)
    page = browser_page
    await page.goto(served + link.json()["url"])
    figure = page.locator("#map-regions")
    svg = figure.locator("svg")
    # An image with its title and description, which name the table that follows it.
    assert await svg.get_attribute("role") == "img"
    assert await page.locator("#map-title").text_content() == (
        "Carte des orientations envoyées par région"
    )
    assert "tableau par région" in (await page.locator("#map-desc").text_content() or "")
    # Every metropolitan région is drawn, the overseas ones as boxes; each says its value, and
    # the values are the API's (a région without referrals reads 0).
    api = (
        await client.get("/v1/indicators", params={"group_by": "region"}, headers=STEERING)
    ).json()
    expected = {g["group"]: _shown(g["referrals_sent"]) for g in api["groups"]}
    shown = {
        await g.get_attribute("data-region"): await g.get_attribute("data-value")
        for g in await svg.locator("g.map-region").all()
    }
    assert len(shown) == 18
    assert await svg.locator("g.map-region path").count() == 13
    assert {code: value for code, value in shown.items() if code in expected} == expected
    assert all(value == "0" for code, value in shown.items() if code not in expected)
    hdf = svg.locator('g.map-region[data-region="32"]')
    assert (await hdf.locator("title").text_content() or "").startswith("Hauts-de-France : ")
    # The darkest shade goes to the région with the most referrals.
    numbers = {code: int(v) for code, v in expected.items() if v != "secret"}
    top = max(numbers, key=lambda code: numbers[code])
    fill = await svg.locator(f'g.map-region[data-region="{top}"] path').get_attribute("fill")
    assert fill == "#000091"
    assert await figure.locator(".map-legend li").count() >= 2
    # Drawn by the server: no script, no tile, nothing from another origin.
    assert await svg.locator("image").count() == 0
    for width, name in ((1280, "steering-map-desktop"), (PHONE["width"], "steering-map-phone")):
        await page.set_viewport_size({"width": width, "height": PHONE["height"]})
        box = await svg.bounding_box()
        assert box is not None
        assert box["width"] <= width  # the map fits the screen, phone included
        await asyncio.to_thread(SCREENSHOTS.mkdir, parents=True, exist_ok=True)
        await figure.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
    await screenshot(page, "steering-dashboard-map-phone", width=PHONE["width"])


async def test_the_map_shows_each_headline_measure_by_region_without_javascript(
    client: httpx.AsyncClient, app: FastAPI, served: str, chromium: Any
) -> None:
    """The map's selector (links that keep the filters) shows each measure the facts carry by
    région — placements, durable placements, immersions, MRS recruits, POEI/POEC starts — with
    the script turned off: the figure on the map equals the API's and the table's column."""
    from referral.use_cases.steering import MAP_MEASURES

    await _activity(client, app)
    expected = await _expected_regions(client)  # the API's figures, in the table's columns
    link = await client.post("/v1/steering/dashboard-link", headers=STEERING)
    context = await chromium.new_context(
        viewport={"width": 1280, "height": 900}, locale="fr-FR", java_script_enabled=False
    )
    try:
        page = await context.new_page()
        await page.goto(served + link.json()["url"])
        svg = page.locator("#map-regions svg")
        assert await page.locator("#map-regions").get_attribute("data-measure") == "referrals"
        for column, (key, measure) in enumerate(MAP_MEASURES.items()):
            await page.locator(f'.map-measures a[data-measure="{key}"]').click()
            await page.wait_for_url(f"**carte={key}**")
            assert await page.locator("#map-regions").get_attribute("data-measure") == key
            selected = page.locator(f'.map-measures a[data-measure="{key}"]')
            assert await selected.get_attribute("aria-current") == "true"
            assert await page.locator(".map-measures a[aria-current]").count() == 1
            assert await page.locator("#map-title").text_content() == (
                f"Carte des {measure.phrase} par région"
            )
            shown = {
                await g.get_attribute("data-region"): await g.get_attribute("data-value")
                for g in await svg.locator("g.map-region").all()
            }
            want = {code: line[column] for code, line in expected.items() if code != "total"}
            assert {code: shown[code] for code in want} == want, key
            assert all(v == "0" for code, v in shown.items() if code not in want), key
            # Its text equivalent: the table's column named on the map's caption.
            table = await _table(page, "#table-regions", "region")
            assert {code: table[code][column] for code in want} == want
            heading = page.locator(f'#table-regions th[data-measure="{key}"]')
            assert await heading.get_attribute("class") == "on-map"
            assert measure.label in (await page.locator("#map-regions figcaption").inner_text())
        # The MRS recruit of Hauts-de-France is on the map (the activity's one), not elsewhere.
        assert expected["32"][list(MAP_MEASURES).index("mrs_recruits")] == "1"
        hdf = svg.locator('g.map-region[data-region="32"]')
        await page.locator('.map-measures a[data-measure="mrs_recruits"]').click()
        await page.wait_for_url("**carte=mrs_recruits**")
        assert await hdf.get_attribute("data-value") == "1"
        assert (await hdf.locator("title").text_content() or "").endswith("1 recrutement(s)")
        for width, name in (
            (1280, "steering-map-mrs-desktop"),
            (PHONE["width"], "steering-map-mrs-phone"),
        ):
            await screenshot(page, name, width=width)

        # A filter keeps the measure, and the measure's links keep the filter.
        await page.goto(served + "/pilotage?reseau=interim-nord&carte=placements")
        assert await page.locator("#map-regions").get_attribute("data-measure") == "placements"
        assert await page.locator("#reseau option[selected]").get_attribute("value") == (
            "interim-nord"
        )
        assert await page.locator('.filters input[name="carte"]').get_attribute("value") == (
            "placements"
        )
        href = await page.locator('.map-measures a[data-measure="immersions"]').get_attribute(
            "href"
        )
        assert href == "?reseau=interim-nord&carte=immersions#map-regions"
        # An unknown measure shows the referrals.
        await page.goto(served + "/pilotage?carte=inconnue")
        assert await page.locator("#map-regions").get_attribute("data-measure") == "referrals"
    finally:
        await context.close()

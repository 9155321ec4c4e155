"""The steering dashboard (issue 16, item 3): a server-rendered page in French for the comité de
pilotage at ``/pilotage``, its downloads (the same figures in CSV and ODS), and the ops/steering
route that gives a link to it. The link opens a session cookie (``docs/security.md``, "Tableau de
bord de pilotage"); the page reads figures only, under statistical secrecy."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from referral.api.deps import OpsOrSteering, Runtime, Settings
from referral.api.exports import csv_response, ods_response
from referral.api.indicators import indicator_rows, scheme_rows
from referral.domain import PriorityPublic
from referral.domain.conventions import Axis
from referral.settings import ReferralSettings
from referral.use_cases import queries
from referral.use_cases.indicators import IndicatorFilters
from referral.use_cases.local_actions import by_region_rows
from referral.use_cases.steering import (
    MAP_MEASURES,
    REFUSED,
    IssueDashboardLink,
    dashboard_figures,
    issue_dashboard_link,
    map_measure,
    read_dashboard_token,
    region_map,
)
from shared import referentials
from shared.auth.tokens import Principal
from shared.domain.errors import Forbidden
from shared.runtime import ServiceRuntime

router = APIRouter(tags=["steering"])
DATA = Path(__file__).resolve().parent.parent / "data"
STATIC = DATA / "static"
COOKIE = "coop_pilotage"
BASE = "/pilotage"
_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
#: The files the page loads, all served from here (no CDN).
_STATIC_FILES = {
    "dashboard.css": "text/css",
    "dashboard.js": "text/javascript",
    "vendor/chart.umd.min.js": "text/javascript",
}


@cache
def _templates() -> Environment:
    return Environment(
        loader=FileSystemLoader(DATA / "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = _templates().get_template(name).render(**context)
    return HTMLResponse(html, status_code=status, headers=_HEADERS)


@router.post(
    "/v1/steering/dashboard-link",
    summary="Lien vers le tableau de bord de pilotage (ops, pilotage)",
)
async def create_dashboard_link(principal: OpsOrSteering, settings: Settings) -> dict[str, Any]:
    now = datetime.now(UTC)
    valid_for = timedelta(hours=settings.steering_link_hours)
    token = issue_dashboard_link(
        IssueDashboardLink(settings.link_secret, now, valid_for), principal
    )
    return {"url": f"{BASE}/acces/{token}", "expires_at": (now + valid_for).isoformat()}


@router.get(BASE + "/acces/{token}", include_in_schema=False)
async def open_dashboard(token: str, request: Request, settings: Settings) -> Response:
    """The link's target: checks it, keeps it in a cookie, and leaves the token out of the URL."""
    now = datetime.now(UTC)
    try:
        read_dashboard_token(token, settings.link_secret, now)
    except Forbidden:
        return _page("steering_refused.html", 403, message=REFUSED)
    response = RedirectResponse(BASE, status_code=303, headers=_HEADERS)
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(settings.steering_link_hours * 3600),
        path=BASE,
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="lax",
    )
    return response


@router.post(BASE + "/sortie", include_in_schema=False)
async def leave_dashboard() -> Response:
    response = _page("steering_refused.html", message="Vous avez quitté le tableau de bord.")
    response.delete_cookie(COOKIE, path=BASE)
    return response


def _reader(request: Request, settings: ReferralSettings) -> Principal:
    return read_dashboard_token(
        request.cookies.get(COOKIE), settings.link_secret, datetime.now(UTC)
    )


def _filters(request: Request, networks: list[str]) -> tuple[IndicatorFilters, dict[str, str]]:
    """The page's filters (network, public, trade), each kept only if valid."""
    query = request.query_params
    chosen: dict[str, str] = {}
    network = query.get("reseau") or None
    if network in networks:
        chosen["reseau"] = network or ""
    else:
        network = None
    public = None
    if query.get("public") in {p.value for p in PriorityPublic}:
        public = PriorityPublic(query["public"])
        chosen["public"] = public.value
    trade = (query.get("metier") or "").strip().upper() or None
    if trade is not None and referentials.is_rome_code(trade):
        chosen["metier"] = trade
    else:
        trade = None
    return IndicatorFilters(network_id=network, priority_public=public, rome_code=trade), chosen


async def _figures(
    request: Request, runtime: ServiceRuntime, settings: ReferralSettings
) -> dict[str, Any]:
    reader = _reader(request, settings)
    async with runtime.session() as session:
        networks = [(n.id, n.name) for n in await queries.list_networks(session)]
        filters, chosen = _filters(request, [n for n, _ in networks])
        figures = await dashboard_figures(
            session,
            reader,
            settings.indicator_rules,
            settings.statistical_secrecy_threshold,
            datetime.now(UTC).date(),
            filters,
        )
    return {**figures, "networks": networks, "chosen": chosen}


def _chart(labels_: list[str], series: list[tuple[str, list[Any]]]) -> str:
    """A chart's data for dashboard.js (secret values are gaps: null)."""
    return json.dumps(
        {
            "labels": labels_,
            "series": [
                {"label": name, "values": [v if isinstance(v, int | float) else None for v in vs]}
                for name, vs in series
            ],
        },
        ensure_ascii=False,
    ).replace("<", "\\u003c")  # safe inside <script type="application/json">


@router.get(BASE, include_in_schema=False)
async def dashboard(request: Request, runtime: Runtime, settings: Settings) -> Response:
    try:
        figures = await _figures(request, runtime, settings)
    except Forbidden as refused:
        return _page("steering_refused.html", 401, message=str(refused))
    months = figures["months"]
    regions = figures["regions"]
    query = urlencode(figures["chosen"])
    # The measure on the map (``?carte=``): links that keep the filters, no script needed.
    measure = map_measure(request.query_params.get("carte"))
    map_links = [
        {
            "key": key,
            "label": m.label,
            "href": "?" + urlencode({**figures["chosen"], "carte": key}) + "#map-regions",
            "current": key == measure,
        }
        for key, m in MAP_MEASURES.items()
    ]
    return _page(
        "steering.html",
        **figures,
        axes={a.value: a.label for a in Axis},
        publics=[(p.value, p.label) for p in PriorityPublic],
        trade_labels={code: referentials.rome_label(code) for code in figures["trades"]},
        month_chart=_chart(
            [m["month"] for m in months],
            [
                ("Orientations envoyées", [m["referrals"] for m in months]),
                ("Mises en emploi", [m["placements"] for m in months]),
            ],
        ),
        region_chart=_chart(
            [r["label"] for r in regions],
            [
                ("Orientations envoyées", [r["referrals"] for r in regions]),
                ("Mises en emploi", [r["placements"] for r in regions]),
            ],
        ),
        region_map=region_map(regions, measure),
        map_links=map_links,
        query=("?" + query) if query else "",
        base=BASE,
    )


def _export_sheets(figures: dict[str, Any]) -> list[tuple[str, list[list[object]]]]:
    conventions: list[list[object]] = [
        ["convention", "region", "period_start", "period_end", "axis", "target", "achieved"]
    ]
    for c in figures["conventions"]:
        for line in c["progress"]["lines"]:
            conventions.append(
                [
                    c["name"],
                    c["region"] or "",
                    c["period_start"],
                    c["period_end"],
                    line["axis"],
                    line["target"],
                    line["achieved"],
                ]
            )
    return [
        ("regions", indicator_rows(figures["indicators_by_region"])),
        ("dispositifs", scheme_rows(figures["schemes_by_region"])),
        ("mois", indicator_rows(figures["indicators_by_month"])),
        ("conventions", conventions),
        ("actions_locales", by_region_rows(figures["local_actions_by_region"])),
    ]


@router.get(BASE + "/export.csv", include_in_schema=False)
async def export_csv(request: Request, runtime: Runtime, settings: Settings) -> Response:
    """The table by région as shown (filters included), in CSV."""
    try:
        figures = await _figures(request, runtime, settings)
    except Forbidden as refused:
        return _page("steering_refused.html", 401, message=str(refused))
    return csv_response(indicator_rows(figures["indicators_by_region"]), "pilotage-regions")


@router.get(BASE + "/export.ods", include_in_schema=False)
async def export_ods(request: Request, runtime: Runtime, settings: Settings) -> Response:
    """Every figure of the page (régions, schemes, months, conventions, local actions by
    région), one sheet each."""
    try:
        figures = await _figures(request, runtime, settings)
    except Forbidden as refused:
        return _page("steering_refused.html", 401, message=str(refused))
    return ods_response(_export_sheets(figures), "pilotage")


@router.get(BASE + "/static/{name:path}", include_in_schema=False)
async def static(name: str) -> Response:
    media_type = _STATIC_FILES.get(name)
    path = STATIC / name
    if media_type is None or not path.is_file():
        return Response("Fichier introuvable.", status_code=404, media_type="text/plain")
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": "max-age=3600"})

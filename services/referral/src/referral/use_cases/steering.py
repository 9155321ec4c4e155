"""The steering dashboard's access (issue 16, item 3): ops or steering, with their bearer token,
ask for a link; the link opens a session cookie holding the same signed token (HMAC-SHA256 over
its purpose and expiry, with a key derived for this purpose alone: a job seeker's link never opens
the dashboard, nor the reverse). The dashboard shows figures only (secrecy applied), so the token
names no one: the page reads as a steering principal."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from referral import access
from referral.domain.indicators import NONE_GROUP, GroupBy, Rules
from referral.domain.secrecy import (
    protect_indicators,
    protect_local_actions,
    protect_scheme_indicators,
)
from referral.use_cases.conventions import conventions_with_progress
from referral.use_cases.indicators import (
    IndicatorFilters,
    measure_indicators,
    measure_scheme_indicators,
)
from referral.use_cases.local_actions import (
    measure_local_actions,
    measure_local_actions_by_region,
)
from shared import referentials
from shared.auth.tokens import Principal, Role
from shared.domain.errors import Forbidden
from shared.privacy.statistical_secrecy import SECRET_MARK

PURPOSE = "steering-dashboard"
#: Who the dashboard page reads as: steering, seeing figures only.
DASHBOARD_READER = Principal(subject="system:steering-dashboard", role=Role.STEERING)
REFUSED = "Ce lien du tableau de bord n'est pas valide ou a expiré : demandez-en un nouveau."


@dataclass(frozen=True, slots=True)
class IssueDashboardLink:
    secret: str
    now: datetime
    valid_for: timedelta


def _key(secret: str) -> bytes:
    return hmac.new(secret.encode(), PURPOSE.encode(), hashlib.sha256).digest()


def _sign(payload: str, secret: str) -> str:
    return hmac.new(_key(secret), payload.encode(), hashlib.sha256).hexdigest()


def issue_dashboard_link(command: IssueDashboardLink, principal: Principal) -> str:
    """A signed dashboard token, for ops and steering only."""
    if not access.may_read_steering(principal):
        raise Forbidden("Réservé au pilotage de la convention (rôles ops et steering).")
    expires = int((command.now + command.valid_for).timestamp())
    payload = f"{PURPOSE}.{expires}.{secrets.token_hex(8)}"
    body = base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")
    return f"{body}.{_sign(payload, command.secret)}"


def read_dashboard_token(token: str | None, secret: str, now: datetime) -> Principal:
    """The dashboard's reader for a valid, unexpired token; otherwise ``Forbidden``."""
    refused = Forbidden(REFUSED)
    if not token or len(token) > 512:
        raise refused
    try:
        body, signature = token.split(".")
        payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
        purpose, expires, _nonce = payload.split(".")
        deadline = int(expires)
    except ValueError:
        raise refused from None
    if purpose != PURPOSE or not hmac.compare_digest(signature, _sign(payload, secret)):
        raise refused
    if deadline < now.timestamp():
        raise refused
    return DASHBOARD_READER


# -- the dashboard's figures ---------------------------------------------------------------------


def _sum(*values: Any) -> Any:
    """A sum of published counts: secret as soon as one of them is."""
    if any(v == SECRET_MARK for v in values):
        return SECRET_MARK
    return sum(values)


async def dashboard_figures(
    session: AsyncSession,
    principal: Principal,
    rules: Rules,
    threshold: int,
    today: date,
    filters: IndicatorFilters,
) -> dict[str, Any]:
    """Everything the dashboard shows, each figure under statistical secrecy: the conventions and
    their progress, the table by région (referrals, placements, schemes), the months, the MRS and
    POEC headline figures, and the trades seen (for the filter)."""
    if not access.may_read_steering(principal):
        raise Forbidden("Réservé au pilotage de la convention (rôles ops et steering).")
    by_region = protect_indicators(
        await measure_indicators(session, principal, filters, rules, GroupBy.REGION),
        GroupBy.REGION,
        threshold,
    )
    schemes = protect_scheme_indicators(
        await measure_scheme_indicators(session, principal, filters, GroupBy.REGION),
        GroupBy.REGION,
        threshold,
    )
    by_month = protect_indicators(
        await measure_indicators(session, principal, filters, rules, GroupBy.MONTH),
        GroupBy.MONTH,
        threshold,
    )
    trades = await measure_indicators(
        session, principal, IndicatorFilters(), rules, GroupBy.ROME_CODE
    )
    scheme_groups = {g["group"]: g for g in schemes["groups"]}
    names = referentials.regions()

    def line(label: str, metrics: dict[str, Any], scheme: dict[str, Any]) -> dict[str, Any]:
        return {
            "label": label,
            "referrals": metrics["referrals_sent"],
            "placements": metrics["placements"],
            "durable_placements": metrics["durable_placements"],
            "immersions": scheme["immersion"]["started"],
            "mrs_recruits": scheme["mrs"]["recruited"],
            "training_starts": _sum(scheme["poei"]["started"], scheme["poec"]["started"]),
        }

    regions = [
        {
            "code": g["group"],
            **line(names.get(g["group"], g["group"]), g, scheme_groups[g["group"]]),
        }
        for g in by_region["groups"]
    ]
    total = schemes["total"]
    return {
        "conventions": await conventions_with_progress(
            session, principal, rules, threshold, today, filters
        ),
        "regions": regions,
        "regions_total": line("Total", by_region["total"], total),
        "months": [
            {
                "month": g["group"],
                "referrals": g["referrals_sent"],
                "placements": g["placements"],
                "durable_placements": g["durable_placements"],
            }
            for g in by_month["groups"]
        ],
        "headline": {
            "mrs_evaluated_positive": total["mrs"]["completed"],
            "mrs_recruited": total["mrs"]["recruited"],
            "mrs_rate": by_region["total"]["placement_after_mrs"]["rate"],
            "poec_starts": total["poec"]["started"],
            "poei_starts": total["poei"]["started"],
        },
        "local_actions": protect_local_actions(
            await measure_local_actions(session, principal, filters), threshold
        ),
        "local_actions_by_region": await measure_local_actions_by_region(
            session, principal, filters, threshold
        ),
        "trades": [g["group"] for g in trades["groups"] if g["group"] != NONE_GROUP],
        "indicators_by_region": by_region,
        "schemes_by_region": schemes,
        "indicators_by_month": by_month,
        "secret_mark": SECRET_MARK,
        "threshold": threshold,
    }


#: The régions' simplified shapes (drawn for this project; source and licence in the file).
REGIONS_MAP = Path(__file__).resolve().parents[1] / "data" / "static" / "regions-map.json"
#: Shades of the map, lightest first (text in #1e1e1e on the first three, white on the last two).
MAP_SHADES = ("#e8ebfa", "#c3cbf1", "#8e9de3", "#4a5fc9", "#000091")
_MAP_WIDTH = 640
_MAP_SCALE = 60.0  # pixels per degree of latitude


@lru_cache(maxsize=1)
def _shapes() -> dict[str, Any]:
    return json.loads(REGIONS_MAP.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class MapMeasure:
    """A headline measure the map by région can show (a column of the table by région)."""

    #: The table's column heading and the selector's label.
    label: str
    #: The map's title: « Carte des … par région ».
    phrase: str
    #: After a figure: « 12 orientation(s) ».
    unit: str


#: The measures the dashboard's facts carry by région, in the table's column order.
MAP_MEASURES: dict[str, MapMeasure] = {
    "referrals": MapMeasure("Orientations", "orientations envoyées", "orientation(s)"),
    "placements": MapMeasure("Mises en emploi", "mises en emploi", "mise(s) en emploi"),
    "durable_placements": MapMeasure(
        "Emplois durables", "mises en emploi durable", "emploi(s) durable(s)"
    ),
    "immersions": MapMeasure("Immersions engagées", "immersions engagées", "immersion(s)"),
    "mrs_recruits": MapMeasure(
        "Recrutements après MRS", "recrutements après une MRS", "recrutement(s)"
    ),
    "training_starts": MapMeasure(
        "Entrées POEI / POEC", "entrées en POEI ou POEC", "entrée(s) en formation"
    ),
}


def map_measure(value: str | None) -> str:
    """The measure asked for (``?carte=``), the referrals when unknown or absent."""
    return value if value in MAP_MEASURES else "referrals"


def region_map(regions: list[dict[str, Any]], metric: str = "referrals") -> dict[str, Any]:
    """A choropleth of ``metric`` by région, drawn server side as SVG paths (no tile, no
    script): each région's shape, shade, value and label; a secret value gets no shade (hatched)
    and says « secret »; the overseas régions are boxes under the map. The page's table by région
    is its text equivalent."""
    shapes = _shapes()
    values = {r["code"]: r[metric] for r in regions}
    numbers = [v for v in values.values() if isinstance(v, int) and v > 0]
    top = max(numbers, default=0)
    cos = math.cos(math.radians(46.5))
    west, north = -5.2, 51.3

    def point(lon: float, lat: float) -> tuple[float, float]:
        return (round((lon - west) * cos * _MAP_SCALE, 1), round((north - lat) * _MAP_SCALE, 1))

    def shade(value: Any) -> dict[str, Any]:
        if not isinstance(value, int):
            return {"fill": "url(#secret-hatch)", "dark": False, "text": SECRET_MARK}
        if value == 0 or top == 0:
            return {"fill": "#ffffff", "dark": False, "text": "0"}
        index = min(len(MAP_SHADES) - 1, math.ceil(value / top * len(MAP_SHADES)) - 1)
        return {"fill": MAP_SHADES[index], "dark": index >= 3, "text": str(value)}

    names = referentials.regions()
    metropolitan = []
    for code, ring in shapes["regions"].items():
        points = [point(lon, lat) for lon, lat in ring]
        path = "M" + " L".join(f"{x},{y}" for x, y in points) + " Z"
        cx = round(sum(x for x, _ in points) / len(points), 1)
        cy = round(sum(y for _, y in points) / len(points), 1)
        metropolitan.append(
            {"code": code, "name": names[code], "path": path, "x": cx, "y": cy}
            | shade(values.get(code, 0))
        )
    height = point(0, 41.2)[1]
    overseas = [
        {"code": code, "name": names[code], "x": 8 + i * 124, "y": height + 14}
        | shade(values.get(code, 0))
        for i, code in enumerate(shapes["overseas"])
    ]
    legend = []
    if top:
        step = top / len(MAP_SHADES)
        for i, colour in enumerate(MAP_SHADES):
            low = math.floor(i * step) + 1
            high = math.floor((i + 1) * step) if i < len(MAP_SHADES) - 1 else top
            if high >= low:
                legend.append(
                    {"fill": colour, "label": f"{low}" if low == high else f"de {low} à {high}"}
                )
    return {
        "width": _MAP_WIDTH,
        "height": round(height + 60, 1),
        "regions": metropolitan,
        "overseas": overseas,
        "legend": legend,
        "metric": metric,
        "measure": MAP_MEASURES[metric],
    }

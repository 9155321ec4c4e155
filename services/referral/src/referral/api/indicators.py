"""The convention's indicators (``GET /v1/indicators``, CSV with ``format=csv`` or
``/v1/indicators.csv``). Definitions: :mod:`referral.domain.indicators`."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response

from referral.api.deps import CounsellorOrOps, Runtime, Settings
from referral.domain import PriorityPublic, Scheme
from referral.domain.indicators import GroupBy, Rules, csv_header, csv_row
from referral.domain.secrecy import protect_indicators
from referral.settings import ReferralSettings
from referral.use_cases.indicators import IndicatorFilters, measure_indicators
from shared.auth.tokens import Principal
from shared.contracts.vocabulary import DeclineReason
from shared.runtime import ServiceRuntime

router = APIRouter(prefix="/v1", tags=["indicators"])


def _csv(result: dict[str, Any]) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(csv_header())
    for group in result["groups"]:
        writer.writerow(csv_row(group["group"], group))
    writer.writerow(csv_row("total", result["total"]))
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="indicateurs.csv"'},
    )


async def _indicators(
    principal: Principal,
    runtime: ServiceRuntime,
    settings: ReferralSettings,
    period_from: date | None,
    period_to: date | None,
    group_by: GroupBy | None,
    region: str | None,
    departement: str | None,
    network_id: str | None,
) -> dict[str, Any]:
    filters = IndicatorFilters(period_from, period_to, region, departement, network_id)
    rules = Rules(
        acknowledgement_hours=settings.acknowledgement_hours,
        durable_contract_months=settings.durable_contract_months,
    )
    async with runtime.session() as session:
        result = await measure_indicators(session, principal, filters, rules, group_by)
    result = protect_indicators(result, group_by, settings.statistical_secrecy_threshold)
    return {
        "period": {"from": period_from, "to": period_to},
        "group_by": group_by.value if group_by else None,
        "rules": {
            "acknowledgement_hours": rules.acknowledgement_hours,
            "durable_contract_months": rules.durable_contract_months,
        },
        "labels": {
            "priority_public": {p.value: p.label for p in PriorityPublic},
            "scheme": {s.value: s.label for s in Scheme},
            "decline_reason": {r.value: r.label for r in DeclineReason},
        },
        **result,
    }


PeriodFrom = Annotated[date | None, Query(alias="from", description="Premier jour inclus.")]
PeriodTo = Annotated[date | None, Query(alias="to", description="Dernier jour inclus.")]


@router.get("/indicators", summary="Indicateurs de la convention (JSON ou CSV)")
async def indicators(
    principal: CounsellorOrOps,
    runtime: Runtime,
    settings: Settings,
    period_from: PeriodFrom = None,
    period_to: PeriodTo = None,
    group_by: Annotated[GroupBy | None, Query()] = None,
    region: Annotated[str | None, Query()] = None,
    departement: Annotated[str | None, Query()] = None,
    network_id: Annotated[str | None, Query()] = None,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Any:
    result = await _indicators(
        principal,
        runtime,
        settings,
        period_from,
        period_to,
        group_by,
        region,
        departement,
        network_id,
    )
    return _csv(result) if format == "csv" else result


@router.get("/indicators.csv", summary="Indicateurs de la convention, en CSV")
async def indicators_csv(
    principal: CounsellorOrOps,
    runtime: Runtime,
    settings: Settings,
    period_from: PeriodFrom = None,
    period_to: PeriodTo = None,
    group_by: Annotated[GroupBy | None, Query()] = None,
    region: Annotated[str | None, Query()] = None,
    departement: Annotated[str | None, Query()] = None,
    network_id: Annotated[str | None, Query()] = None,
) -> Response:
    return _csv(
        await _indicators(
            principal,
            runtime,
            settings,
            period_from,
            period_to,
            group_by,
            region,
            departement,
            network_id,
        )
    )

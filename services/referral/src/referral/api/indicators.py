"""The convention's indicators (``GET /v1/indicators``; CSV with ``format=csv`` or
``/v1/indicators.csv``, ODS with ``format=ods`` or ``/v1/indicators.ods``) and the scheme
indicators (``/v1/indicators/schemes``, CSV and ODS likewise), by every dimension the conventions
use, with statistical secrecy applied. Definitions: :mod:`referral.domain.indicators`.

``group_by=job_dating`` on ``/v1/indicators`` (JSON, CSV, ODS) gives the convention's local actions
instead of the referral indicators: one group per job dating or open day the caller's indicators
count, with its job seekers invited, came, did not come and hired, under the same secrecy
(:func:`referral.use_cases.local_actions.measure_local_actions_by_event`)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response

from referral.api.deps import CounsellorOpsOrSteering, Runtime, Settings
from referral.api.exports import csv_response, ods_response
from referral.domain import HardToFillSource, PriorityPublic, Scheme
from referral.domain.indicators import (
    NO_OFFER,
    NOT_HARD_TO_FILL,
    GroupBy,
    csv_header,
    csv_row,
    scheme_csv_header,
    scheme_csv_row,
)
from referral.domain.secrecy import (
    protect_indicators,
    protect_local_actions,
    protect_scheme_indicators,
)
from referral.settings import ReferralSettings
from referral.use_cases.indicators import (
    IndicatorFilters,
    measure_indicators,
    measure_scheme_indicators,
)
from referral.use_cases.local_actions import (
    JOB_DATING_GROUP,
    by_event_rows,
    measure_local_actions,
    measure_local_actions_by_event,
)
from shared import referentials
from shared.auth.tokens import Principal
from shared.contracts.vocabulary import DeclineReason
from shared.runtime import ServiceRuntime

router = APIRouter(prefix="/v1", tags=["indicators"])

PeriodFrom = Annotated[date | None, Query(alias="from", description="Premier jour inclus.")]
PeriodTo = Annotated[date | None, Query(alias="to", description="Dernier jour inclus.")]
HardToFill = Literal["bmo", "regional_list", "offer_flag", "non", "sans_offre"]
Format = Literal["json", "csv", "ods"]


def indicator_filters(
    period_from: PeriodFrom = None,
    period_to: PeriodTo = None,
    region: Annotated[str | None, Query()] = None,
    departement: Annotated[str | None, Query()] = None,
    network_id: Annotated[str | None, Query()] = None,
    agency_id: Annotated[str | None, Query()] = None,
    priority_public: Annotated[PriorityPublic | None, Query()] = None,
    scheme: Annotated[Scheme | None, Query()] = None,
    rome_code: Annotated[str | None, Query(pattern=r"^[A-N]\d{4}$")] = None,
    sector: Annotated[str | None, Query(max_length=8)] = None,
    hard_to_fill: Annotated[
        HardToFill | None,
        Query(description="Source du caractère « en tension », « non », ou « sans_offre »."),
    ] = None,
) -> IndicatorFilters:
    return IndicatorFilters(
        period_from=period_from,
        period_to=period_to,
        region=region,
        departement=departement,
        network_id=network_id,
        agency_id=agency_id,
        priority_public=priority_public,
        scheme=scheme,
        rome_code=rome_code,
        sector=sector,
        hard_to_fill=hard_to_fill,
    )


Filters = Annotated[IndicatorFilters, Depends(indicator_filters)]
Grouping = Annotated[GroupBy | None, Query()]
#: ``/v1/indicators``'s own: every dimension of the referrals, and the local actions.
IndicatorGrouping = Annotated[
    GroupBy | Literal["job_dating"] | None,
    Query(
        description=(
            "Dimension des groupes. « job_dating » : une ligne par job dating ou journée portes "
            "ouvertes (kind, title, starts_on, departement, region ; invited, came, "
            "did_not_come, hired), sous le même secret statistique que les autres dimensions, "
            "à la place des indicateurs des orientations. / Group dimension. `job_dating`: one "
            "row per job dating or open day (invited, came, did not come, hired), under the same "
            "statistical secrecy, instead of the referral indicators."
        )
    ),
]


def labels() -> dict[str, dict[str, str]]:
    return {
        "priority_public": {p.value: p.label for p in PriorityPublic},
        "scheme": {s.value: s.label for s in Scheme},
        "decline_reason": {r.value: r.label for r in DeclineReason},
        "hard_to_fill": {
            **{s.value: s.label for s in HardToFillSource},
            NOT_HARD_TO_FILL: "Offre hors métier en tension",
            NO_OFFER: "Sans offre",
        },
        "region": dict(referentials.regions()),
    }


def _meta(filters: IndicatorFilters, group_by: GroupBy | None) -> dict[str, Any]:
    return {
        "period": {"from": filters.period_from, "to": filters.period_to},
        "group_by": group_by.value if group_by else None,
    }


async def compute_indicators(
    principal: Principal,
    runtime: ServiceRuntime,
    settings: ReferralSettings,
    filters: IndicatorFilters,
    group_by: GroupBy | None,
) -> dict[str, Any]:
    rules = settings.indicator_rules
    async with runtime.session() as session:
        result = await measure_indicators(session, principal, filters, rules, group_by)
    result = protect_indicators(result, group_by, settings.statistical_secrecy_threshold)
    return {
        **_meta(filters, group_by),
        "rules": {
            "acknowledgement_hours": rules.acknowledgement_hours,
            "durable_contract_months": rules.durable_contract_months,
        },
        "labels": labels(),
        **result,
    }


async def compute_scheme_indicators(
    principal: Principal,
    runtime: ServiceRuntime,
    settings: ReferralSettings,
    filters: IndicatorFilters,
    group_by: GroupBy | None,
) -> dict[str, Any]:
    async with runtime.session() as session:
        result = await measure_scheme_indicators(session, principal, filters, group_by)
    result = protect_scheme_indicators(result, group_by, settings.statistical_secrecy_threshold)
    return {**_meta(filters, group_by), "labels": labels(), **result}


async def compute_local_action_groups(
    principal: Principal,
    runtime: ServiceRuntime,
    settings: ReferralSettings,
    filters: IndicatorFilters,
) -> dict[str, Any]:
    """``group_by=job_dating``: the local actions, one group per event, under secrecy."""
    async with runtime.session() as session:
        result = await measure_local_actions_by_event(
            session, principal, filters, settings.statistical_secrecy_threshold
        )
    return {
        **_meta(filters, None),
        "labels": {**labels(), "kind": {"job_dating": "Job dating", "open_day": "Portes ouvertes"}},
        **result,
    }


async def _grouped(
    principal: Principal,
    runtime: ServiceRuntime,
    settings: ReferralSettings,
    filters: IndicatorFilters,
    group_by: GroupBy | Literal["job_dating"] | None,
) -> tuple[dict[str, Any], list[list[object]]]:
    """``/v1/indicators``'s figures and their rows, by a referral dimension or by local action."""
    if group_by == JOB_DATING_GROUP:
        result = await compute_local_action_groups(principal, runtime, settings, filters)
        return result, by_event_rows(result)
    result = await compute_indicators(principal, runtime, settings, filters, group_by)
    return result, indicator_rows(result)


def indicator_rows(result: dict[str, Any]) -> list[list[object]]:
    rows: list[list[object]] = [csv_header()]
    rows += [csv_row(group["group"], group) for group in result["groups"]]
    rows.append(csv_row("total", result["total"]))
    return rows


def scheme_rows(result: dict[str, Any]) -> list[list[object]]:
    rows: list[list[object]] = [scheme_csv_header()]
    rows += [scheme_csv_row(group["group"], group) for group in result["groups"]]
    rows.append(scheme_csv_row("total", result["total"]))
    return rows


def _render(result: dict[str, Any], rows: list[list[object]], name: str, format: Format) -> Any:
    if format == "csv":
        return csv_response(rows, name)
    if format == "ods":
        return ods_response([(name, rows)], name)
    return result


@router.get("/indicators", summary="Indicateurs de la convention (JSON, CSV ou ODS)")
async def indicators(
    principal: CounsellorOpsOrSteering,
    runtime: Runtime,
    settings: Settings,
    filters: Filters,
    group_by: IndicatorGrouping = None,
    format: Annotated[Format, Query()] = "json",
) -> Any:
    result, rows = await _grouped(principal, runtime, settings, filters, group_by)
    return _render(result, rows, "indicateurs", format)


@router.get("/indicators.csv", summary="Indicateurs de la convention, en CSV")
async def indicators_csv(
    principal: CounsellorOpsOrSteering,
    runtime: Runtime,
    settings: Settings,
    filters: Filters,
    group_by: IndicatorGrouping = None,
) -> Response:
    _, rows = await _grouped(principal, runtime, settings, filters, group_by)
    return csv_response(rows, "indicateurs")


@router.get("/indicators.ods", summary="Indicateurs de la convention, en tableur ODS")
async def indicators_ods(
    principal: CounsellorOpsOrSteering,
    runtime: Runtime,
    settings: Settings,
    filters: Filters,
    group_by: IndicatorGrouping = None,
) -> Response:
    _, rows = await _grouped(principal, runtime, settings, filters, group_by)
    return ods_response([("indicateurs", rows)], "indicateurs")


@router.get(
    "/indicators/schemes",
    summary="Indicateurs des dispositifs : immersions, MRS, POEI/POEC (JSON, CSV ou ODS)",
)
async def scheme_indicators(
    principal: CounsellorOpsOrSteering,
    runtime: Runtime,
    settings: Settings,
    filters: Filters,
    group_by: Grouping = None,
    format: Annotated[Format, Query()] = "json",
) -> Any:
    result = await compute_scheme_indicators(principal, runtime, settings, filters, group_by)
    return _render(result, scheme_rows(result), "dispositifs", format)


@router.get("/indicators/schemes.csv", summary="Indicateurs des dispositifs, en CSV")
async def scheme_indicators_csv(
    principal: CounsellorOpsOrSteering,
    runtime: Runtime,
    settings: Settings,
    filters: Filters,
    group_by: Grouping = None,
) -> Response:
    result = await compute_scheme_indicators(principal, runtime, settings, filters, group_by)
    return csv_response(scheme_rows(result), "dispositifs")


@router.get(
    "/indicators/local-actions",
    summary="Actions locales (job datings, journées portes ouvertes) et offres en tension (axe 2)",
)
async def local_action_indicators(
    principal: CounsellorOpsOrSteering, runtime: Runtime, settings: Settings, filters: Filters
) -> dict[str, Any]:
    async with runtime.session() as session:
        result = await measure_local_actions(session, principal, filters)
    return {
        **_meta(filters, None),
        **protect_local_actions(result, settings.statistical_secrecy_threshold),
    }

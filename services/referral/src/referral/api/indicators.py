"""The convention's indicators (``GET /v1/indicators``, CSV with ``format=csv`` or
``/v1/indicators.csv``). Definitions: :mod:`referral.indicators`."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from sqlalchemy import select

from referral.api.dependencies import CounsellorOrOps, Runtime, Settings
from referral.domain import PriorityPublic, Scheme
from referral.indicators import (
    GroupBy,
    ReferralFacts,
    Rules,
    SchemeOutcome,
    compute,
    csv_header,
    csv_row,
)
from referral.models import Referral, ReferralSchemeEvent
from referral.use_cases import invalid
from shared.auth.tokens import Principal, Role
from shared.contracts.vocabulary import ContractType, DeclineReason

router = APIRouter(prefix="/v1", tags=["indicators"])

#: Events after which a referral counts in its scheme's placement rate.
_QUALIFYING = {
    "coop.immersion.completed.v1": lambda data: True,
    "coop.mrs.evaluated.v1": lambda data: bool(data.get("positive")),
    "coop.training.completed.v1": lambda data: bool(data.get("completed")),
}


async def load_facts(
    runtime: Any,
    principal: Principal,
    *,
    period_from: date | None,
    period_to: date | None,
    region: str | None,
    departement: str | None,
    network_id: str | None,
) -> list[ReferralFacts]:
    conditions = []
    if principal.role is Role.COUNSELLOR:
        # A counsellor sees the figures of their own structure's referrals; ops see all.
        conditions.append(Referral.structure_code == principal.ft_structure)
    if period_from is not None:
        conditions.append(Referral.created_at >= datetime.combine(period_from, time.min, UTC))
    if period_to is not None:
        end = datetime.combine(period_to + timedelta(days=1), time.min, UTC)
        conditions.append(Referral.created_at < end)
    for column, value in (
        (Referral.region, region),
        (Referral.departement, departement),
        (Referral.network_id, network_id),
    ):
        if value is not None:
            conditions.append(column == value)
    async with runtime.session() as session:
        referrals = list(await session.scalars(select(Referral).where(*conditions)))
        events = list(
            await session.execute(
                select(
                    ReferralSchemeEvent.referral_id,
                    ReferralSchemeEvent.scheme,
                    ReferralSchemeEvent.event_type,
                    ReferralSchemeEvent.hired,
                    ReferralSchemeEvent.data,
                )
                .join(Referral, Referral.id == ReferralSchemeEvent.referral_id)
                .where(*conditions)
            )
        )
    schemes: dict[Any, dict[Scheme, SchemeOutcome]] = {}
    for row in events:
        per_referral = schemes.setdefault(row.referral_id, {})
        scheme = Scheme(row.scheme)
        before = per_referral.get(scheme, SchemeOutcome())
        qualifies = _QUALIFYING.get(row.event_type, lambda data: False)(row.data)
        per_referral[scheme] = SchemeOutcome(
            qualifies=before.qualifies or qualifies, hired=before.hired or bool(row.hired)
        )
    return [
        ReferralFacts(
            created_at=r.created_at,
            region=r.region,
            departement=r.departement,
            network_id=r.network_id,
            publics=frozenset(r.priority_publics),
            first_answer_at=r.first_answer_at,
            accepted_at=r.accepted_at,
            declined_at=r.declined_at,
            decline_reason=DeclineReason(r.decline_reason) if r.decline_reason else None,
            placed_at=r.placed_at,
            contract_type=(
                ContractType(r.placement_contract_type) if r.placement_contract_type else None
            ),
            placement_start=r.placement_start_date,
            placement_expected_end=r.placement_expected_end_date,
            schemes=schemes.get(r.id, {}),
        )
        for r in referrals
    ]


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
    runtime: Any,
    settings: Any,
    period_from: date | None,
    period_to: date | None,
    group_by: GroupBy | None,
    region: str | None,
    departement: str | None,
    network_id: str | None,
) -> dict[str, Any]:
    if period_from and period_to and period_from > period_to:
        raise invalid("from", "après la fin de période", "Début après fin.", location="query")
    facts = await load_facts(
        runtime,
        principal,
        period_from=period_from,
        period_to=period_to,
        region=region,
        departement=departement,
        network_id=network_id,
    )
    rules = Rules(
        acknowledgement_hours=settings.acknowledgement_hours,
        durable_contract_months=settings.durable_contract_months,
    )
    result = compute(facts, rules, group_by)
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

"""Scheme indicators by région and period."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query

from dispositifs.api.deps import CounsellorOrOps, Runtime, settings_of
from dispositifs.use_cases.indicators import IndicatorsQuery, scheme_indicators

router = APIRouter(prefix="/v1/indicators", tags=["indicateurs"])


@router.get(
    "",
    summary="Indicateurs des dispositifs par région et période (son organisation ; secret "
    "statistique sur les petits effectifs)",
)
async def indicators(
    principal: CounsellorOrOps,
    runtime: Runtime,
    date_from: Annotated[date, Query(alias="from")],
    date_to: Annotated[date, Query(alias="to")],
    region: Annotated[str | None, Query(pattern=r"^\d{2}$")] = None,
    structure_only: Annotated[
        bool,
        Query(
            description="Sans effet, gardé pour les clients existants : un conseiller ne voit "
            "que les chiffres de son organisation, l'exploitation ceux de toutes."
        ),
    ] = False,
) -> dict[str, Any]:
    settings = settings_of(runtime)
    query = IndicatorsQuery(
        date_from,
        date_to,
        region_code=region,
        structure_only=structure_only,
        secrecy_threshold=settings.statistical_secrecy_threshold,
        missions_follow_up_days=settings.poec_missions_follow_up_days,
    )
    async with runtime.session() as session:
        return await scheme_indicators(session, principal, query)

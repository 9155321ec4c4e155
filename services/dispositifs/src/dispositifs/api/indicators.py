"""Scheme indicators by région and period."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query

from dispositifs.access import indicator_structure
from dispositifs.api.deps import CounsellorOrOps, Runtime
from dispositifs.use_cases.indicators import scheme_indicators
from shared.http.problems import FieldError, ProblemError

router = APIRouter(prefix="/v1/indicators", tags=["indicateurs"])


@router.get("", summary="Indicateurs des dispositifs par région et période")
async def indicators(
    principal: CounsellorOrOps,
    runtime: Runtime,
    date_from: Annotated[date, Query(alias="from")],
    date_to: Annotated[date, Query(alias="to")],
    region: Annotated[str | None, Query(pattern=r"^\d{2}$")] = None,
    structure_only: Annotated[
        bool, Query(description="Conseiller : seulement sa structure France Travail.")
    ] = False,
) -> dict[str, Any]:
    if date_to < date_from:
        raise ProblemError(
            422,
            "Requête invalide",
            "La fin de période précède son début.",
            problem="validation-error",
            errors=[FieldError("to", "avant « from »", "query")],
        )
    structure = indicator_structure(principal, structure_only)
    async with runtime.session() as session:
        return await scheme_indicators(
            session,
            date_from=date_from,
            date_to=date_to,
            region_code=region,
            structure_code=structure,
        )

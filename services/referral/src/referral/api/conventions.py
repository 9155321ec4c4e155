"""Regional conventions and their targets (ops and steering): ``/v1/conventions``, each read with
its progress against every target (figures under statistical secrecy)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from referral import access
from referral.api.deps import OpsOrSteering, Runtime, Settings
from referral.api.indicators import Filters
from referral.domain.conventions import NAME_MAX, Axis, ConventionScope, ConventionTerms
from referral.use_cases.conventions import (
    SaveConvention,
    convention_progress,
    convention_view,
    conventions_with_progress,
    get_convention,
    save_convention,
)
from shared.http.idempotency import IdempotencyKey, create_idempotently

router = APIRouter(prefix="/v1", tags=["conventions"])


class ConventionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=NAME_MAX, examples=["Convention Hauts-de-France"])
    scope: ConventionScope = Field(examples=["regional"])
    region: str | None = Field(default=None, max_length=3, examples=["32"])
    period_start: date
    period_end: date
    networks: list[str] = Field(default_factory=list, max_length=100, examples=[["interim-nord"]])
    targets: dict[Axis, float] = Field(
        default_factory=dict,
        description="Cible par axe : un nombre, ou une part en % pour priority_public_share.",
        examples=[{"referrals": 400, "placements": 120, "priority_public_share": 40}],
    )

    def terms(self) -> ConventionTerms:
        return ConventionTerms(
            name=self.name,
            scope=self.scope,
            region=self.region,
            period_start=self.period_start,
            period_end=self.period_end,
            networks=tuple(self.networks),
            targets=self.targets,
        )


def _today() -> date:
    return datetime.now(UTC).date()


@router.post("/conventions", status_code=201, summary="Créer une convention (ops, pilotage)")
async def create_convention(
    body: ConventionIn,
    principal: OpsOrSteering,
    idempotency_key: IdempotencyKey,
    request: Request,
    runtime: Runtime,
) -> Any:
    async def create(session: Any) -> tuple[dict[str, Any], str]:
        command = SaveConvention(body.terms(), datetime.now(UTC))
        convention = await save_convention(session, command, principal)
        return convention_view(convention), f"/v1/conventions/{convention.id}"

    async def may_replay(_session: Any, _stored: Any) -> bool:
        return access.may_read_steering(principal)

    return await create_idempotently(
        runtime, principal, idempotency_key, request, body, create, may_replay=may_replay
    )


@router.put("/conventions/{convention_id}", summary="Modifier une convention (ops, pilotage)")
async def replace_convention(
    convention_id: uuid.UUID, body: ConventionIn, principal: OpsOrSteering, runtime: Runtime
) -> dict[str, Any]:
    async with runtime.database.transaction() as session:
        command = SaveConvention(body.terms(), datetime.now(UTC), convention_id)
        convention = await save_convention(session, command, principal)
        return convention_view(convention)


@router.get("/conventions", summary="Conventions et avancement de leurs cibles (pilotage)")
async def list_conventions(
    principal: OpsOrSteering,
    runtime: Runtime,
    settings: Settings,
    filters: Filters,
    convention_region: Annotated[
        str | None, Query(description="Les conventions de cette région seulement.")
    ] = None,
) -> dict[str, Any]:
    async with runtime.session() as session:
        items = await conventions_with_progress(
            session,
            principal,
            settings.indicator_rules,
            settings.statistical_secrecy_threshold,
            _today(),
            filters,
            convention_region,
        )
    return {"items": items}


@router.get("/conventions/{convention_id}", summary="Une convention et son avancement")
async def read_convention(
    convention_id: uuid.UUID,
    principal: OpsOrSteering,
    runtime: Runtime,
    settings: Settings,
    filters: Filters,
) -> dict[str, Any]:
    async with runtime.session() as session:
        convention = await get_convention(session, convention_id, principal)
        result = convention_view(convention)
        result["progress"] = await convention_progress(
            session,
            convention,
            principal,
            settings.indicator_rules,
            settings.statistical_secrecy_threshold,
            _today(),
            filters,
        )
    return result

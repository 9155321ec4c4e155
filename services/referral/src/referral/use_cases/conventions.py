"""Regional conventions (issue 16, item 1): ops and steering create and amend them (territory,
period, signatory networks, targets); anyone allowed reads them with their progress, computed from
the indicator facts (:mod:`referral.use_cases.indicators`) with statistical secrecy applied."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from referral import access
from referral.domain.conventions import (
    Axis,
    ConventionScope,
    ConventionTerms,
    achieved,
    check_terms,
    elapsed_share,
    progress,
)
from referral.domain.indicators import Rules, priority_public_referrals
from referral.domain.secrecy import protect_progress
from referral.models import Convention, ConventionTarget, Network
from referral.use_cases.common import not_found
from referral.use_cases.indicators import IndicatorFilters, indicator_facts
from shared import referentials
from shared.auth.tokens import Principal
from shared.domain.errors import Forbidden, raise_if_any

_REFUSED = "Réservé au pilotage de la convention (rôles ops et steering)."


@dataclass(frozen=True, slots=True)
class SaveConvention:
    """Create a convention (``convention_id`` None) or replace the terms of one."""

    terms: ConventionTerms
    now: datetime
    convention_id: uuid.UUID | None = None


async def _check(session: AsyncSession, terms: ConventionTerms) -> None:
    known = frozenset(await session.scalars(select(Network.id)))
    raise_if_any(check_terms(terms, regions=referentials.regions(), networks=known))


def _targets(targets: Mapping[Axis, float]) -> list[ConventionTarget]:
    return [
        ConventionTarget(axis=axis.value, target=float(value)) for axis, value in targets.items()
    ]


async def save_convention(
    session: AsyncSession, command: SaveConvention, principal: Principal
) -> Convention:
    if not access.may_manage_conventions(principal):
        raise Forbidden(_REFUSED)
    terms = command.terms
    await _check(session, terms)
    if command.convention_id is None:
        convention = Convention(
            id=uuid.uuid4(), created_by=principal.subject, created_at=command.now
        )
        session.add(convention)
    else:
        found = await session.get(Convention, command.convention_id, with_for_update=True)
        if found is None:
            raise not_found("Convention")
        convention = found
    convention.name = terms.name.strip()
    convention.scope = terms.scope.value
    convention.region = terms.region if terms.scope is ConventionScope.REGIONAL else None
    convention.period_start = terms.period_start
    convention.period_end = terms.period_end
    convention.networks = list(terms.networks)
    convention.updated_at = command.now
    convention.targets = _targets(terms.targets)
    await session.flush()
    return convention


async def list_conventions(
    session: AsyncSession, principal: Principal, region: str | None = None
) -> list[Convention]:
    if not access.may_read_steering(principal):
        raise Forbidden(_REFUSED)
    statement = select(Convention).order_by(
        Convention.scope, Convention.region, Convention.period_start, Convention.id
    )
    if region is not None:
        statement = statement.where(Convention.region == region)
    return list(await session.scalars(statement))


async def get_convention(
    session: AsyncSession, convention_id: uuid.UUID, principal: Principal
) -> Convention:
    if not access.may_read_steering(principal):
        raise Forbidden(_REFUSED)
    convention = await session.get(Convention, convention_id)
    if convention is None:
        raise not_found("Convention")
    return convention


def convention_filters(convention: Convention, base: IndicatorFilters) -> IndicatorFilters:
    """The dashboard's filters narrowed to the convention's territory, period and networks."""
    return IndicatorFilters(
        period_from=max(d for d in (convention.period_start, base.period_from) if d is not None),
        period_to=min(d for d in (convention.period_end, base.period_to) if d is not None),
        region=convention.region,
        departement=base.departement,
        network_id=base.network_id,
        agency_id=base.agency_id,
        priority_public=base.priority_public,
        scheme=base.scheme,
        rome_code=base.rome_code,
        sector=base.sector,
        hard_to_fill=base.hard_to_fill,
        networks=tuple(convention.networks),
    )


async def convention_progress(
    session: AsyncSession,
    convention: Convention,
    principal: Principal,
    rules: Rules,
    threshold: int,
    today: date,
    filters: IndicatorFilters | None = None,
) -> dict[str, Any]:
    """The convention's progress against each target, from the facts of its referrals."""
    if not access.may_read_steering(principal):
        raise Forbidden(_REFUSED)
    narrowed = convention_filters(convention, filters or IndicatorFilters())
    if (
        narrowed.period_from is not None
        and narrowed.period_to is not None
        and (narrowed.period_from > narrowed.period_to)
    ):
        facts = []
    else:
        facts = await indicator_facts(session, principal, narrowed)
    targets = {Axis(t.axis): t.target for t in convention.targets}
    lines = progress(targets, achieved(facts, rules))
    lines = protect_progress(lines, priority_public_referrals(facts), len(facts), threshold)
    return {
        "elapsed": elapsed_share(convention.period_start, convention.period_end, today),
        "lines": lines,
    }


def convention_view(convention: Convention) -> dict[str, Any]:
    return {
        "id": str(convention.id),
        "name": convention.name,
        "scope": convention.scope,
        "region": convention.region,
        "region_name": referentials.regions().get(convention.region or ""),
        "period_start": convention.period_start.isoformat(),
        "period_end": convention.period_end.isoformat(),
        "networks": list(convention.networks),
        "targets": {t.axis: t.target for t in convention.targets},
        "created_at": convention.created_at.isoformat(),
        "updated_at": convention.updated_at.isoformat(),
    }


async def conventions_with_progress(
    session: AsyncSession,
    principal: Principal,
    rules: Rules,
    threshold: int,
    today: date,
    filters: IndicatorFilters | None = None,
    region: str | None = None,
) -> list[dict[str, Any]]:
    """Every convention (of ``region`` if given) with its progress: the dashboard's table."""
    found = []
    for convention in await list_conventions(session, principal, region):
        found.append(
            {
                **convention_view(convention),
                "progress": await convention_progress(
                    session, convention, principal, rules, threshold, today, filters
                ),
            }
        )
    return found

"""The facts the convention's indicators are computed from (the computation:
:mod:`referral.domain.indicators`): the referrals the caller may count, through
:mod:`referral.access`, with what the dispositifs events said of each scheme."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from referral import access
from referral.domain import ReferralStatus, Scheme
from referral.domain.indicators import GroupBy, ReferralFacts, Rules, SchemeOutcome, compute
from referral.models import Referral, ReferralSchemeEvent
from referral.use_cases.common import invalid, sent_between
from shared.auth.tokens import Principal
from shared.contracts.vocabulary import ContractType, DeclineReason


@dataclass(frozen=True, slots=True)
class IndicatorFilters:
    period_from: date | None = None
    period_to: date | None = None
    region: str | None = None
    departement: str | None = None
    network_id: str | None = None


#: Events after which a referral counts in its scheme's placement rate.
_QUALIFYING = {
    "coop.immersion.completed.v1": lambda data: True,
    "coop.mrs.evaluated.v1": lambda data: bool(data.get("positive")),
    "coop.training.completed.v1": lambda data: bool(data.get("completed")),
}


async def indicator_facts(
    session: AsyncSession, principal: Principal, filters: IndicatorFilters
) -> list[ReferralFacts]:
    """The facts of the referrals ``principal`` may count (their own structure's for a
    counsellor; all for ops), for :func:`referral.domain.indicators.compute`."""
    if filters.period_from and filters.period_to and filters.period_from > filters.period_to:
        raise invalid("from", "après la fin de période", "Début après fin.", location="query")
    conditions = [
        access.visible_referrals(principal),
        *sent_between(filters.period_from, filters.period_to),
    ]
    for column, value in (
        (Referral.region, filters.region),
        (Referral.departement, filters.departement),
        (Referral.network_id, filters.network_id),
    ):
        if value is not None:
            conditions.append(column == value)
    referrals = list(await session.scalars(select(Referral).where(*conditions)))
    events = await session.execute(
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
    schemes: dict[Any, dict[Scheme, SchemeOutcome]] = {}
    for row in events:
        per_referral = schemes.setdefault(row.referral_id, {})
        scheme = Scheme(row.scheme)
        before = per_referral.get(scheme, SchemeOutcome())
        qualifies = _QUALIFYING.get(row.event_type, lambda data: False)(row.data)
        per_referral[scheme] = SchemeOutcome(
            qualifies=before.qualifies or qualifies, hired=before.hired or bool(row.hired)
        )
    return [_facts(r, schemes.get(r.id, {})) for r in referrals]


def _facts(r: Referral, schemes: dict[Scheme, SchemeOutcome]) -> ReferralFacts:
    return ReferralFacts(
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
        no_news=r.status == ReferralStatus.NO_NEWS.value,
        schemes=schemes,
    )


async def measure_indicators(
    session: AsyncSession,
    principal: Principal,
    filters: IndicatorFilters,
    rules: Rules,
    group_by: GroupBy | None = None,
) -> dict[str, Any]:
    """The indicators over the referrals ``principal`` may count: totals, and groups."""
    return compute(await indicator_facts(session, principal, filters), rules, group_by)

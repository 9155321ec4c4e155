"""The facts the convention's indicators are computed from (the computation:
:mod:`referral.domain.indicators`): the referrals the caller may count, through
:mod:`referral.access`, with what the dispositifs events said of each scheme."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from referral import access
from referral.domain import PriorityPublic, ReferralStatus, Scheme
from referral.domain.indicators import (
    NO_OFFER,
    NOT_HARD_TO_FILL,
    GroupBy,
    ReferralFacts,
    Rules,
    SchemeOutcome,
    compute,
    group_keys,
    measure_schemes,
)
from referral.models import JobOffer, Referral, ReferralSchemeEvent
from referral.use_cases.common import invalid, sent_between
from shared import referentials
from shared.auth.tokens import Principal
from shared.contracts.vocabulary import ContractType, DeclineReason


@dataclass(frozen=True, slots=True)
class IndicatorFilters:
    period_from: date | None = None
    period_to: date | None = None
    region: str | None = None
    departement: str | None = None
    network_id: str | None = None
    agency_id: str | None = None
    priority_public: PriorityPublic | None = None
    scheme: Scheme | None = None
    rome_code: str | None = None
    #: A ROME sector code (``shared.referentials.rome_sectors``).
    sector: str | None = None
    #: ``non``, ``sans_offre`` or a hard-to-fill source.
    hard_to_fill: str | None = None
    #: The signatory networks of a convention (empty: every network).
    networks: tuple[str, ...] = ()


#: Events after which a referral counts in its scheme's placement rate.
_QUALIFYING = {
    "coop.immersion.completed.v1": lambda data: True,
    "coop.mrs.evaluated.v1": lambda data: bool(data.get("positive")),
    "coop.training.completed.v1": lambda data: bool(data.get("completed")),
}
#: Events that say the scheme began (an immersion validated, an MRS held, an enrolment).
_STARTING = frozenset(
    {
        "coop.immersion.validated.v1",
        "coop.immersion.completed.v1",
        "coop.mrs.evaluated.v1",
        "coop.training.enrolled.v1",
        "coop.training.completed.v1",
    }
)
_FACT_COLUMNS = (
    Referral.id,
    Referral.created_at,
    Referral.region,
    Referral.departement,
    Referral.network_id,
    Referral.agency_id,
    Referral.rome_code,
    Referral.offer_id,
    Referral.status,
    Referral.structure_code,
    *(getattr(Referral, f"public_{p.value}") for p in PriorityPublic),
    Referral.first_answer_at,
    Referral.accepted_at,
    Referral.declined_at,
    Referral.decline_reason,
    Referral.placed_at,
    Referral.placement_contract_type,
    Referral.placement_start_date,
    Referral.placement_expected_end_date,
    JobOffer.hard_to_fill_source,
    ReferralSchemeEvent.scheme,
    ReferralSchemeEvent.event_type,
    ReferralSchemeEvent.hired,
    ReferralSchemeEvent.data,
)


def check_period(filters: IndicatorFilters) -> None:
    """A period that begins after its end is refused (the field at fault: ``from``)."""
    if filters.period_from and filters.period_to and filters.period_from > filters.period_to:
        raise invalid("from", "après la fin de période", "Début après fin.", location="query")


def _conditions(principal: Principal, filters: IndicatorFilters) -> list[ColumnElement[bool]]:
    check_period(filters)
    conditions = [
        access.counted_referrals(principal),
        *sent_between(filters.period_from, filters.period_to),
    ]
    for column, value in (
        (Referral.region, filters.region),
        (Referral.departement, filters.departement),
        (Referral.network_id, filters.network_id),
        (Referral.agency_id, filters.agency_id),
        (Referral.rome_code, filters.rome_code),
    ):
        if value is not None:
            conditions.append(column == value)
    if filters.networks:
        conditions.append(Referral.network_id.in_(filters.networks))
    if filters.priority_public is not None:
        conditions.append(getattr(Referral, f"public_{filters.priority_public.value}").is_(True))
    if filters.sector is not None:
        trades = [
            code
            for code in referentials.rome_metiers()
            if any(s.code == filters.sector for s in referentials.rome_sectors(code))
        ]
        conditions.append(Referral.rome_code.in_(trades))
    if filters.hard_to_fill == NO_OFFER:
        conditions.append(Referral.offer_id.is_(None))
    elif filters.hard_to_fill == NOT_HARD_TO_FILL:
        conditions.append(Referral.offer_id.is_not(None))
        conditions.append(JobOffer.hard_to_fill_source.is_(None))
    elif filters.hard_to_fill is not None:
        conditions.append(JobOffer.hard_to_fill_source == filters.hard_to_fill)
    return conditions


async def indicator_facts(
    session: AsyncSession, principal: Principal, filters: IndicatorFilters
) -> list[ReferralFacts]:
    """The facts of the referrals ``principal`` may count (their own structure's for a
    counsellor; all for ops and steering), for :func:`referral.domain.indicators.compute`.

    One query over the referrals' fact columns (never a job seeker), their offer's hard-to-fill
    source and their dispositifs events (one row per event), folded here per referral."""
    loaded = await load_facts(session, _conditions(principal, filters))
    facts = [f for f, _ in loaded.values()]
    if filters.scheme is not None:
        facts = [f for f in facts if filters.scheme in f.schemes]
    return facts


async def load_facts(
    session: AsyncSession, conditions: list[ColumnElement[bool]]
) -> dict[Any, tuple[ReferralFacts, str]]:
    """The facts of the referrals meeting ``conditions``, by referral id, with their sending
    structure ("" without one): one statement."""
    statement = (
        select(*_FACT_COLUMNS)
        .select_from(Referral)
        .outerjoin(JobOffer, JobOffer.id == Referral.offer_id)
        .outerjoin(ReferralSchemeEvent, ReferralSchemeEvent.referral_id == Referral.id)
        .where(*conditions)
    )
    rows: dict[Any, Any] = {}
    schemes: dict[Any, dict[Scheme, SchemeOutcome]] = {}
    for row in await session.execute(statement):
        rows.setdefault(row.id, row)
        per_referral = schemes.setdefault(row.id, {})
        if row.scheme is None:
            continue
        scheme = Scheme(row.scheme)
        before = per_referral.get(scheme, SchemeOutcome())
        qualifies = _QUALIFYING.get(row.event_type, lambda data: False)(row.data or {})
        per_referral[scheme] = SchemeOutcome(
            qualifies=before.qualifies or qualifies,
            hired=before.hired or bool(row.hired),
            started=before.started or row.event_type in _STARTING,
        )
    return {key: (_facts(row, schemes[key]), row.structure_code or "") for key, row in rows.items()}


def _facts(r: Any, schemes: dict[Scheme, SchemeOutcome]) -> ReferralFacts:
    return ReferralFacts(
        created_at=r.created_at,
        region=r.region,
        departement=r.departement,
        network_id=r.network_id,
        publics=frozenset(p for p in PriorityPublic if getattr(r, f"public_{p.value}")),
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
        agency_id=r.agency_id,
        rome_code=r.rome_code,
        sectors=frozenset(s.code for s in referentials.rome_sectors(r.rome_code)),
        has_offer=r.offer_id is not None,
        hard_to_fill_source=r.hard_to_fill_source,
    )


async def measure_indicators(
    session: AsyncSession,
    principal: Principal,
    filters: IndicatorFilters,
    rules: Rules,
    group_by: GroupBy | None = None,
) -> dict[str, Any]:
    """The indicators over the referrals ``principal`` may count: totals, and groups. From the
    maintained aggregates when they answer the filters (:mod:`.indicator_facts`), else from the
    referrals' rows — the same figures either way."""
    from referral.use_cases.indicator_facts import read_aggregates

    aggregated = await read_aggregates(session, principal, filters, rules, group_by)
    if aggregated is not None:
        return aggregated.indicators()
    return compute(await indicator_facts(session, principal, filters), rules, group_by)


async def measure_scheme_indicators(
    session: AsyncSession,
    principal: Principal,
    filters: IndicatorFilters,
    group_by: GroupBy | None = None,
) -> dict[str, Any]:
    """The scheme figures (immersions, MRS, POEI/POEC: entered, started, completed, recruited)
    over the referrals ``principal`` may count: totals, and groups (from the maintained
    aggregates when they answer the filters, as :func:`measure_indicators`)."""
    from referral.use_cases.indicator_facts import read_aggregates

    aggregated = await read_aggregates(session, principal, filters, None, group_by, medians=False)
    if aggregated is not None:
        return aggregated.schemes()
    facts = await indicator_facts(session, principal, filters)
    result: dict[str, Any] = {"total": measure_schemes(facts), "groups": []}
    if group_by is not None:
        buckets: dict[str, list[ReferralFacts]] = {}
        for f in facts:
            for key in group_keys(f, group_by):
                buckets.setdefault(key, []).append(f)
        result["groups"] = [
            {"group": key, **measure_schemes(members)} for key, members in sorted(buckets.items())
        ]
    return result

"""Scheme indicators by région and period: what the convention-cadre is judged by (bookings,
completions, hires after an immersion, recruitment among positively evaluated MRS candidates,
POEI/POEC completions and hires, temporary-work POEC with no mission given after them).

Scoped by ``access.py`` (issue 10 item 2): a counsellor gets their own organisation's figures
only, ops every organisation's; small cells are hidden (statistical secrecy,
:mod:`dispositifs.domain.secrecy`)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from dispositifs.access import indicator_scope
from dispositifs.domain.immersion import ImmersionStatus
from dispositifs.domain.secrecy import protect_indicators
from dispositifs.models import ImmersionConvention, MrsCandidate, MrsSession, TrainingEnrolment
from shared.auth.tokens import Principal
from shared.contracts.dispositifs import EnrolmentStatus
from shared.contracts.vocabulary import TrainingKind
from shared.domain.errors import FieldIssue, InvalidInput
from shared.privacy import DEFAULT_SECRECY_THRESHOLD
from shared.referentials import regions

UNKNOWN_REGION = "inconnue"


def _count(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


@dataclass(frozen=True)
class IndicatorsQuery:
    date_from: date
    date_to: date
    region_code: str | None = None
    #: Kept for older clients: a counsellor's figures are always their organisation's now.
    structure_only: bool = False
    #: Counts below it are secret (``statistical_secrecy_threshold`` setting).
    secrecy_threshold: int = DEFAULT_SECRECY_THRESHOLD
    #: A completed temporary-work POEC with no mission after this many days is counted as such
    #: (``poec_missions_follow_up_days``, :func:`dispositifs.domain.training.missions_overdue`).
    missions_follow_up_days: int = 90
    today: date | None = None


async def scheme_indicators(
    session: AsyncSession, principal: Principal, query: IndicatorsQuery
) -> dict[str, Any]:
    """Counts by région for schemes starting within [date_from, date_to] (MRS: session date)."""
    if query.date_to < query.date_from:
        raise InvalidInput(
            "La fin de période précède son début.",
            errors=[FieldIssue("to", "avant « from »", "query")],
        )
    date_from, date_to, region_code = query.date_from, query.date_to, query.region_code
    scope = indicator_scope(principal)
    c = ImmersionConvention
    validated_states = [
        ImmersionStatus.VALIDATED.value,
        ImmersionStatus.IN_PROGRESS.value,
        ImmersionStatus.COMPLETED.value,
    ]
    hired_after = and_(
        c.status == ImmersionStatus.COMPLETED.value,
        or_(c.hired.is_(True), c.placed_on.is_not(None)),
    )
    immersions = select(
        c.region_code,
        func.count(),
        _count(c.status == ImmersionStatus.REJECTED.value),
        _count(or_(c.status.in_(validated_states), c.validated_at.is_not(None))),
        _count(c.status == ImmersionStatus.COMPLETED.value),
        _count(and_(c.status == ImmersionStatus.COMPLETED.value, c.objectives_reached.is_(True))),
        _count(hired_after),
    ).where(c.start_date >= date_from, c.start_date <= date_to)

    m, s = MrsCandidate, MrsSession
    recruited = and_(m.positive.is_(True), or_(m.hired.is_(True), m.placed_on.is_not(None)))
    mrs = (
        select(
            s.region_code,
            func.count(),
            _count(m.positive.is_not(None)),
            _count(m.positive.is_(True)),
            _count(recruited),
        )
        .join(s, s.id == m.session_id)
        .where(s.session_date >= date_from, s.session_date <= date_to)
    )

    t = TrainingEnrolment
    trained_hired = or_(t.hired.is_(True), t.placed_on.is_not(None))
    today = query.today or datetime.now(UTC).date()
    # The SQL form of :func:`dispositifs.domain.training.missions_overdue`.
    no_mission_yet = and_(
        t.missions_expected.is_(True),
        t.missions_given == 0,
        t.end_date < today - timedelta(days=query.missions_follow_up_days),
    )
    trainings = select(
        t.region_code,
        t.kind,
        func.count(),
        _count(t.status == EnrolmentStatus.COMPLETED.value),
        _count(and_(t.status == EnrolmentStatus.COMPLETED.value, trained_hired)),
        _count(no_mission_yet),
    ).where(t.start_date >= date_from, t.start_date <= date_to)

    if region_code is not None:
        immersions = immersions.where(c.region_code == region_code)
        mrs = mrs.where(s.region_code == region_code)
        trainings = trainings.where(t.region_code == region_code)
    immersions = scope(immersions, c)
    mrs = scope(mrs, s)
    trainings = scope(trainings, t)

    by_region: dict[str | None, dict[str, Any]] = defaultdict(_empty)
    for region, total, rejected, validated, completed, reached, hired in (
        await session.execute(immersions.group_by(c.region_code))
    ).all():
        by_region[region]["immersions"] = {
            "requested": total,
            "rejected": rejected,
            "booked": validated,
            "completed": completed,
            "objectives_reached": reached,
            "hired_after": hired,
            "completion_rate": _rate(completed, validated),
            "hired_rate": _rate(hired, completed),
        }
    for region, registered, evaluated, positive, hired in (
        await session.execute(mrs.group_by(s.region_code))
    ).all():
        by_region[region]["mrs"] = {
            "registered": registered,
            "evaluated": evaluated,
            "positive": positive,
            "recruited": hired,
            "recruitment_rate_among_positive": _rate(hired, positive),
        }
    for region, kind, enrolled, completed, hired, overdue in (
        await session.execute(trainings.group_by(t.region_code, t.kind))
    ).all():
        by_region[region][kind] = {
            "enrolled": enrolled,
            "completed": completed,
            "hired": hired,
            "hired_rate": _rate(hired, completed),
        }
        if kind == TrainingKind.POEC.value:
            by_region[region][kind]["missions_overdue"] = overdue
    names = regions()
    rows = [
        {"region_code": code or UNKNOWN_REGION, "region_name": names.get(code or ""), **values}
        for code, values in sorted(by_region.items(), key=lambda item: item[0] or "~")
    ]
    result = {"from": date_from, "to": date_to, "regions": rows, "total": _total(rows)}
    return protect_indicators(result, query.secrecy_threshold)


def _empty() -> dict[str, Any]:
    return {
        "immersions": _zeros(
            "requested", "rejected", "booked", "completed", "objectives_reached", "hired_after"
        )
        | {"completion_rate": None, "hired_rate": None},
        "mrs": _zeros("registered", "evaluated", "positive", "recruited")
        | {"recruitment_rate_among_positive": None},
        TrainingKind.POEI.value: _zeros("enrolled", "completed", "hired") | {"hired_rate": None},
        TrainingKind.POEC.value: _zeros("enrolled", "completed", "hired", "missions_overdue")
        | {"hired_rate": None},
    }


def _zeros(*names: str) -> dict[str, Any]:
    return dict.fromkeys(names, 0)


def _total(rows: list[dict[str, Any]]) -> dict[str, Any]:
    total = _empty()
    for row in rows:
        for scheme, values in total.items():
            for name, value in row[scheme].items():
                if not name.endswith("_rate") and not name.endswith("_among_positive"):
                    values[name] += value
    im, mr = total["immersions"], total["mrs"]
    im["completion_rate"] = _rate(im["completed"], im["booked"])
    im["hired_rate"] = _rate(im["hired_after"], im["completed"])
    mr["recruitment_rate_among_positive"] = _rate(mr["recruited"], mr["positive"])
    for kind in (TrainingKind.POEI.value, TrainingKind.POEC.value):
        total[kind]["hired_rate"] = _rate(total[kind]["hired"], total[kind]["completed"])
    return total

"""The convention's local actions and axis 2 as indicators (issue 16, items 4 and 5): job datings
and open days (events held, job seekers invited, came, did not come, hired) and France Travail's
hard-to-fill offers pushed to the agencies (offers published to networks, offers answered, the
answers by kind). Read from their own facts (``job_dating_invitations`` with their referrals'
``placed_at``; ``offer_publications``, ``offer_answers``), never from a job seeker's record.

Who counts what: job datings are their organiser's (``access.counted_job_datings``: a counsellor
their organisation's, ops and steering all); offers are France Travail's public offers, counted
for every reader of the indicators. Counts of people are under statistical secrecy (the caller
applies :func:`referral.domain.secrecy.protect_local_actions`); counts of events, offers and
agencies' answers are not about people and are shown as they are."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from referral import access
from referral.models import (
    JobDating,
    JobDatingInvitation,
    JobOffer,
    OfferAnswer,
    OfferPublication,
    Referral,
)
from referral.use_cases.common import days_between
from referral.use_cases.indicators import IndicatorFilters
from shared import referentials
from shared.auth.tokens import Principal
from shared.domain.errors import Forbidden
from shared.privacy.statistical_secrecy import SECRET_MARK, ProtectedCell, protect_table

#: The agencies' answers to a hard-to-fill offer (``offer_answers.answer``).
OFFER_ANSWERS = ("has_candidates", "request_pmsmp", "request_mrs", "request_poei")


def _where(period: list[Any], pairs: tuple[tuple[Any, Any], ...]) -> list[Any]:
    """The period's conditions and ``column == value`` for each filter given."""
    return [*period, *(column == value for column, value in pairs if value is not None)]


def _datings_where(principal: Principal, filters: IndicatorFilters) -> list[Any]:
    return _where(
        [
            access.counted_job_datings(principal),
            *days_between(JobDating.starts_at, filters.period_from, filters.period_to),
        ],
        (
            (JobDating.region, filters.region),
            (JobDating.departement, filters.departement),
            (JobDating.rome_code, filters.rome_code),
        ),
    )


def _answers_where(filters: IndicatorFilters) -> list[Any]:
    return _where(
        days_between(OfferAnswer.answered_at, filters.period_from, filters.period_to),
        (
            (OfferAnswer.region, filters.region),
            (OfferAnswer.departement, filters.departement),
            (OfferAnswer.network_id, filters.network_id),
            (OfferAnswer.rome_code, filters.rome_code),
        ),
    )


def _published_where(filters: IndicatorFilters) -> list[Any]:
    return _where(
        days_between(OfferPublication.published_at, filters.period_from, filters.period_to),
        (
            (OfferPublication.network_id, filters.network_id),
            (JobOffer.rome_code, filters.rome_code),
            (JobOffer.departement, filters.departement),
            (JobOffer.region, filters.region),
        ),
    )


def _dating_counts(*group: Any) -> Any:
    """Job datings held, invited, came, did not come, hired (their referral placed)."""
    came = JobDatingInvitation.attendance == "came"
    absent = JobDatingInvitation.attendance == "did_not_come"
    return (
        select(
            *group,
            func.count(distinct(JobDating.id)),
            func.count(JobDatingInvitation.id),
            func.sum(case((came, 1), else_=0)),
            func.sum(case((absent, 1), else_=0)),
            func.sum(case((Referral.placed_at.is_not(None), 1), else_=0)),
        )
        .select_from(JobDating)
        .outerjoin(JobDatingInvitation, JobDatingInvitation.job_dating_id == JobDating.id)
        .outerjoin(Referral, Referral.id == JobDatingInvitation.referral_id)
    )


async def measure_local_actions(
    session: AsyncSession, principal: Principal, filters: IndicatorFilters
) -> dict[str, Any]:
    """Raw counts (before secrecy) for the period and territory of ``filters``."""
    if not access.may_read_indicators(principal):
        raise Forbidden("Réservé aux conseillers, à ops et au pilotage de la convention.")
    row = (await session.execute(_dating_counts().where(*_datings_where(principal, filters)))).one()
    events, invited, came_count, absent, hired = (int(v or 0) for v in row)

    offer_where = _answers_where(filters)
    answers = dict(
        (
            await session.execute(
                select(OfferAnswer.answer, func.count())
                .where(*offer_where)
                .group_by(OfferAnswer.answer)
            )
        ).all()
    )
    answered = await session.scalar(
        select(func.count(distinct(OfferAnswer.offer_id))).where(*offer_where)
    )
    published = await session.scalar(
        select(func.count(distinct(OfferPublication.offer_id)))
        .select_from(OfferPublication)
        .join(JobOffer, JobOffer.id == OfferPublication.offer_id)
        .where(*_published_where(filters))
    )
    return {
        "job_datings": {
            "events": events,
            "invited": invited,
            "came": came_count,
            "did_not_come": absent,
            "hired": hired,
        },
        "hard_to_fill_offers": {
            "published": int(published or 0),
            "answered": int(answered or 0),
            "answers": {kind: int(answers.get(kind, 0)) for kind in OFFER_ANSWERS},
        },
    }


#: Columns of the local actions by région (CSV header, ODS sheet), in this order.
BY_REGION_COLUMNS = (
    "group",
    "region_name",
    "job_datings",
    "invited",
    "came",
    "did_not_come",
    "hired",
    "hard_to_fill_offers_published",
    "hard_to_fill_offers_answered",
)


async def measure_local_actions_by_region(
    session: AsyncSession, principal: Principal, filters: IndicatorFilters, threshold: int
) -> dict[str, Any]:
    """The local actions by région (job datings: events, invited, came, did not come, hired;
    hard-to-fill offers published and answered), with their total — the counts of people under
    statistical secrecy as a table (primary and secondary: no hidden région is recomputed from
    the total), events and offers as they are."""
    if not access.may_read_indicators(principal):
        raise Forbidden("Réservé aux conseillers, à ops et au pilotage de la convention.")
    datings = {
        region: [int(v or 0) for v in counts]
        for region, *counts in await session.execute(
            _dating_counts(JobDating.region)
            .where(*_datings_where(principal, filters))
            .group_by(JobDating.region)
        )
    }
    published = dict(
        (
            await session.execute(
                select(JobOffer.region, func.count(distinct(OfferPublication.offer_id)))
                .select_from(OfferPublication)
                .join(JobOffer, JobOffer.id == OfferPublication.offer_id)
                .where(*_published_where(filters))
                .group_by(JobOffer.region)
            )
        ).all()
    )
    answered = dict(
        (
            await session.execute(
                select(OfferAnswer.region, func.count(distinct(OfferAnswer.offer_id)))
                .where(*_answers_where(filters))
                .group_by(OfferAnswer.region)
            )
        ).all()
    )
    regions = sorted(set(datings) | set(published) | set(answered))
    return protect_by_region(
        regions,
        {r: datings.get(r, [0, 0, 0, 0, 0]) for r in regions},
        {r: int(published.get(r, 0)) for r in regions},
        {r: int(answered.get(r, 0)) for r in regions},
        threshold,
    )


def _protect_people(counts: list[list[int]], threshold: int) -> tuple[list[dict[str, Any]], Any]:
    """Statistical secrecy on the people of groups of job datings (``counts``: events, invited,
    came, did not come, hired per group): came, did not come and not recorded as one table (its
    row total is the invited, the unrecorded never published), the hires as another — primary
    and secondary secrecy, so that no hidden group is recomputed from the total."""
    people = protect_table(
        [[d[2], d[3], d[1] - d[2] - d[3]] for d in counts] or [[0, 0, 0]], threshold=threshold
    )
    hires = protect_table([[d[4]] for d in counts] or [[0]], threshold=threshold)

    def shown(cell: ProtectedCell) -> Any:
        return SECRET_MARK if cell.value is None else cell.value

    groups = [
        {
            "invited": shown(people.row_totals[i]),
            "came": shown(people.cells[i][0]),
            "did_not_come": shown(people.cells[i][1]),
            "hired": shown(hires.cells[i][0]),
        }
        for i in range(len(counts))
    ]
    total = {
        "invited": shown(people.total) if counts else 0,
        "came": shown(people.column_totals[0]) if counts else 0,
        "did_not_come": shown(people.column_totals[1]) if counts else 0,
        "hired": shown(hires.total) if counts else 0,
    }
    return groups, total


def protect_by_region(
    regions: list[str],
    datings: dict[str, list[int]],
    published: dict[str, int],
    answered: dict[str, int],
    threshold: int,
) -> dict[str, Any]:
    """The groups and total of :func:`measure_local_actions_by_region` under secrecy
    (:func:`_protect_people`); events and offers are not people: shown."""
    names = referentials.regions()
    people, people_total = _protect_people([datings[r] for r in regions], threshold)
    groups = [
        {
            "group": region,
            "region_name": names.get(region, region),
            "job_datings": datings[region][0],
            **people[i],
            "hard_to_fill_offers_published": published[region],
            "hard_to_fill_offers_answered": answered[region],
        }
        for i, region in enumerate(regions)
    ]
    total = {
        "group": "total",
        "region_name": "Total",
        "job_datings": sum(datings[r][0] for r in regions),
        **people_total,
        "hard_to_fill_offers_published": sum(published.values()),
        "hard_to_fill_offers_answered": sum(answered.values()),
    }
    return {
        "group_by": "region",
        "groups": groups,
        "total": total,
        "secrecy": {"threshold": threshold, "mark": SECRET_MARK},
    }


def by_region_rows(result: dict[str, Any]) -> list[list[object]]:
    """The CSV / ODS rows of :func:`measure_local_actions_by_region`: header, régions, total."""
    return [
        list(BY_REGION_COLUMNS),
        *([g[c] for c in BY_REGION_COLUMNS] for g in [*result["groups"], result["total"]]),
    ]


#: ``group_by`` of ``/v1/indicators`` for the local actions: one group per job dating or open day.
JOB_DATING_GROUP = "job_dating"
#: Columns of the local actions by event (CSV header, ODS sheet), in this order.
BY_EVENT_COLUMNS = (
    "group",
    "kind",
    "title",
    "starts_on",
    "departement",
    "region",
    "invited",
    "came",
    "did_not_come",
    "hired",
)


async def measure_local_actions_by_event(
    session: AsyncSession, principal: Principal, filters: IndicatorFilters, threshold: int
) -> dict[str, Any]:
    """The job datings and open days the caller's indicators count (``access.counted_job_datings``)
    in the period and territory of ``filters``, one group each — invited, came, did not come,
    hired — and their total, the counts of people under statistical secrecy as
    :func:`measure_local_actions_by_region` (events are not people: their kind, title, date and
    place are shown)."""
    if not access.may_read_indicators(principal):
        raise Forbidden("Réservé aux conseillers, à ops et au pilotage de la convention.")
    events = list(
        await session.execute(
            _dating_counts(
                JobDating.id,
                JobDating.kind,
                JobDating.title,
                JobDating.starts_at,
                JobDating.departement,
                JobDating.region,
            )
            .where(*_datings_where(principal, filters))
            .group_by(
                JobDating.id,
                JobDating.kind,
                JobDating.title,
                JobDating.starts_at,
                JobDating.departement,
                JobDating.region,
            )
            .order_by(JobDating.starts_at, JobDating.id)
        )
    )
    counts = [[int(v or 0) for v in row[6:]] for row in events]
    people, people_total = _protect_people(counts, threshold)
    groups = [
        {
            "group": str(row[0]),
            "kind": row[1],
            "title": row[2],
            "starts_on": row[3].date().isoformat(),
            "departement": row[4],
            "region": row[5],
            **people[i],
        }
        for i, row in enumerate(events)
    ]
    total = {
        "group": "total",
        "kind": "",
        "title": f"{len(events)} action(s) locale(s)",
        "starts_on": "",
        "departement": "",
        "region": "",
        **people_total,
    }
    return {
        "group_by": JOB_DATING_GROUP,
        "groups": groups,
        "total": total,
        "secrecy": {"threshold": threshold, "mark": SECRET_MARK},
    }


def by_event_rows(result: dict[str, Any]) -> list[list[object]]:
    """The CSV / ODS rows of :func:`measure_local_actions_by_event`: header, events, total."""
    return [
        list(BY_EVENT_COLUMNS),
        *([g[c] for c in BY_EVENT_COLUMNS] for g in [*result["groups"], result["total"]]),
    ]

"""The convention's indicators, computed from referral facts (plain Python, no I/O).

Definitions (docs/referral.md says the same for people):

- ``referrals_sent``: referrals created in the period (by their sending time).
- ``acknowledged_within_48h``: the agency's first reaction (any answer, acknowledgement included)
  came at most ``acknowledgement_hours`` (48) after sending.
- ``accepted``: the agency accepted the candidate, or placed them without a separate acceptance.
- ``declined`` and ``declined_by_reason``: declined referrals, by coded reason.
- ``median_hours_to_first_answer``: median delay from sending to the first reaction.
- ``placements``: the candidate started working; ``durable_placements``: CDI, CDI intérimaire or a
  contract of ``durable_contract_months`` (6) months or more (DOMAIN.md, a setting).
- ``placement_after_<scheme>``: among referrals whose candidate completed an immersion, was
  evaluated positively in an MRS, or completed a POEI/POEC, those placed (placement reported by
  the agency, or a hire reported by the dispositifs event). Convention figure for reference: 26 %
  of positively evaluated MRS candidates were recruited in 2024.
"""

from __future__ import annotations

import enum
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from referral.domain.placements import is_durable_placement
from referral.domain.publics import PriorityPublic
from referral.domain.timeline import Scheme
from shared.contracts.vocabulary import ContractType, DeclineReason


class GroupBy(enum.StrEnum):
    REGION = "region"
    DEPARTEMENT = "departement"
    NETWORK = "network"
    PRIORITY_PUBLIC = "priority_public"
    SCHEME = "scheme"
    AGENCY = "agency"
    #: The ROME 4.0 trade of the referral.
    ROME_CODE = "rome_code"
    #: The ROME 4.0 sectors of the trade (a trade sits in several: overlapping groups).
    SECTOR = "sector"
    #: The offer's hard-to-fill flag with its source (``bmo``, ``regional_list``,
    #: ``offer_flag``), ``non`` for an offer that is not, ``sans_offre`` without an offer.
    HARD_TO_FILL = "hard_to_fill"
    #: The month the referral was sent (``YYYY-MM``).
    MONTH = "month"


NONE_GROUP = "aucun"
NOT_HARD_TO_FILL = "non"
NO_OFFER = "sans_offre"
#: Groups in which one referral may count several times (no sum links them to the total).
OVERLAPPING_GROUPS = frozenset({GroupBy.PRIORITY_PUBLIC, GroupBy.SCHEME, GroupBy.SECTOR})


@dataclass(frozen=True, slots=True)
class SchemeOutcome:
    """What the dispositifs events said about one scheme for one referral."""

    #: The referral counts in the scheme's placement rate (completed immersion, positive MRS
    #: evaluation, completed training).
    qualifies: bool = False
    #: The event reported a hire.
    hired: bool = False
    #: The scheme began: an immersion convention validated (or completed), an MRS evaluation
    #: held, a POEI/POEC enrolment.
    started: bool = False


@dataclass(frozen=True, slots=True)
class ReferralFacts:
    created_at: datetime
    region: str | None
    departement: str | None
    network_id: str
    publics: frozenset[PriorityPublic] = frozenset()
    first_answer_at: datetime | None = None
    accepted_at: datetime | None = None
    declined_at: datetime | None = None
    decline_reason: DeclineReason | None = None
    placed_at: datetime | None = None
    contract_type: ContractType | None = None
    placement_start: date | None = None
    placement_expected_end: date | None = None
    #: Closed for want of news from the agency after a reminder (issue 12).
    no_news: bool = False
    #: Every scheme the referral went through (any event), with its outcome.
    schemes: dict[Scheme, SchemeOutcome] = field(default_factory=dict)
    agency_id: str | None = None
    rome_code: str | None = None
    #: The ROME sectors of ``rome_code`` (from the referential, given by the caller).
    sectors: frozenset[str] = frozenset()
    #: Whether the referral names an offer, and the offer's hard-to-fill source if flagged.
    has_offer: bool = False
    hard_to_fill_source: str | None = None

    @property
    def month(self) -> str:
        return f"{self.created_at.year:04d}-{self.created_at.month:02d}"

    @property
    def hard_to_fill_key(self) -> str:
        if not self.has_offer:
            return NO_OFFER
        return self.hard_to_fill_source or NOT_HARD_TO_FILL


@dataclass(frozen=True, slots=True)
class Rules:
    acknowledgement_hours: float = 48
    durable_contract_months: int = 6


RATE_SCHEMES = (Scheme.IMMERSION, Scheme.MRS, Scheme.POEI, Scheme.POEC)


def measure(facts: Sequence[ReferralFacts], rules: Rules) -> dict[str, Any]:
    within = timedelta(hours=rules.acknowledgement_hours)
    answered = [f for f in facts if f.first_answer_at is not None]
    delays = [
        (f.first_answer_at - f.created_at).total_seconds() / 3600
        for f in answered
        if f.first_answer_at is not None
    ]
    declined = [f for f in facts if f.declined_at is not None]
    by_reason = {reason.value: 0 for reason in DeclineReason}
    for f in declined:
        if f.decline_reason is not None:
            by_reason[f.decline_reason.value] += 1
    placed = [f for f in facts if f.placed_at is not None]
    result: dict[str, Any] = {
        "referrals_sent": len(facts),
        "acknowledged_within_48h": sum(
            1
            for f in answered
            if f.first_answer_at is not None and f.first_answer_at - f.created_at <= within
        ),
        "accepted": sum(1 for f in facts if f.accepted_at is not None or f.placed_at is not None),
        "declined": len(declined),
        "declined_by_reason": by_reason,
        "median_hours_to_first_answer": round(statistics.median(delays), 2) if delays else None,
        "closed_no_news": sum(1 for f in facts if f.no_news),
        "placements": len(placed),
        "durable_placements": sum(
            1
            for f in placed
            if is_durable_placement(
                f.contract_type,
                f.placement_start,
                f.placement_expected_end,
                min_months=rules.durable_contract_months,
            )
        ),
    }
    for scheme in RATE_SCHEMES:
        base = [f for f in facts if f.schemes.get(scheme, SchemeOutcome()).qualifies]
        hits = sum(1 for f in base if f.placed_at is not None or f.schemes[scheme].hired)
        result[f"placement_after_{scheme.value}"] = {
            "base": len(base),
            "placed": hits,
            "rate": round(hits / len(base), 4) if base else None,
        }
    return result


def _keys(facts: ReferralFacts, group_by: GroupBy) -> Iterable[str]:
    if group_by is GroupBy.REGION:
        return [facts.region or NONE_GROUP]
    if group_by is GroupBy.DEPARTEMENT:
        return [facts.departement or NONE_GROUP]
    if group_by is GroupBy.NETWORK:
        return [facts.network_id]
    if group_by is GroupBy.PRIORITY_PUBLIC:
        # A job seeker in several priority publics counts in each of them.
        return sorted(p.value for p in facts.publics) or [NONE_GROUP]
    if group_by is GroupBy.AGENCY:
        return [facts.agency_id or NONE_GROUP]
    if group_by is GroupBy.ROME_CODE:
        return [facts.rome_code or NONE_GROUP]
    if group_by is GroupBy.SECTOR:
        return sorted(facts.sectors) or [NONE_GROUP]
    if group_by is GroupBy.HARD_TO_FILL:
        return [facts.hard_to_fill_key]
    if group_by is GroupBy.MONTH:
        return [facts.month]
    return sorted(s.value for s in facts.schemes) or [NONE_GROUP]


def group_keys(facts: ReferralFacts, group_by: GroupBy) -> list[str]:
    """The groups ``facts`` counts in (several for the overlapping dimensions)."""
    return list(_keys(facts, group_by))


def compute(
    facts: Sequence[ReferralFacts], rules: Rules, group_by: GroupBy | None = None
) -> dict[str, Any]:
    """The totals, and one entry per group when ``group_by`` is given."""
    result: dict[str, Any] = {"total": measure(facts, rules), "groups": []}
    if group_by is None:
        return result
    buckets: dict[str, list[ReferralFacts]] = {}
    for f in facts:
        for key in _keys(f, group_by):
            buckets.setdefault(key, []).append(f)
    result["groups"] = [
        {"group": key, **measure(members, rules)} for key, members in sorted(buckets.items())
    ]
    return result


# -- schemes (immersions, MRS, POEI/POEC) ------------------------------------------------------

#: The figures of one scheme, in the order of the exports.
SCHEME_COUNTS = ("referrals", "started", "completed", "recruited")


def measure_schemes(facts: Sequence[ReferralFacts]) -> dict[str, dict[str, int]]:
    """Per scheme, among the referrals: ``referrals`` with any event of it, ``started`` (an
    immersion validated, an MRS evaluation, a POEI/POEC enrolment), ``completed`` (completed
    immersion, positive MRS evaluation, completed training: the base of its placement rate) and
    ``recruited`` (of those completed, placed or reported hired: the MRS recruits of the
    convention's figure)."""
    result = {}
    for scheme in RATE_SCHEMES:
        outcomes = [(f, f.schemes[scheme]) for f in facts if scheme in f.schemes]
        result[scheme.value] = {
            "referrals": len(outcomes),
            "started": sum(1 for _, o in outcomes if o.started or o.qualifies),
            "completed": sum(1 for _, o in outcomes if o.qualifies),
            "recruited": sum(
                1 for f, o in outcomes if o.qualifies and (f.placed_at is not None or o.hired)
            ),
        }
    return result


def priority_public_referrals(facts: Sequence[ReferralFacts]) -> int:
    """Referrals of a job seeker in at least one priority public."""
    return sum(1 for f in facts if f.publics)


# -- CSV ----------------------------------------------------------------------------------------


def csv_header() -> list[str]:
    header = [
        "group",
        "referrals_sent",
        "acknowledged_within_48h",
        "accepted",
        "declined",
        *(f"declined_{reason.value}" for reason in DeclineReason),
        "median_hours_to_first_answer",
        "placements",
        "durable_placements",
    ]
    for scheme in RATE_SCHEMES:
        header += [f"after_{scheme.value}_base", f"after_{scheme.value}_placed"]
        header.append(f"after_{scheme.value}_rate")
    header.append("closed_no_news")
    return header


def csv_row(group: str, metrics: dict[str, Any]) -> list[object]:
    row: list[object] = [
        group,
        metrics["referrals_sent"],
        metrics["acknowledged_within_48h"],
        metrics["accepted"],
        metrics["declined"],
        *(metrics["declined_by_reason"][reason.value] for reason in DeclineReason),
        ""
        if metrics["median_hours_to_first_answer"] is None
        else metrics["median_hours_to_first_answer"],
        metrics["placements"],
        metrics["durable_placements"],
    ]
    for scheme in RATE_SCHEMES:
        rate = metrics[f"placement_after_{scheme.value}"]
        row += [rate["base"], rate["placed"], "" if rate["rate"] is None else rate["rate"]]
    row.append(metrics["closed_no_news"])
    return row


def scheme_csv_header() -> list[str]:
    return ["group", *(f"{s.value}_{name}" for s in RATE_SCHEMES for name in SCHEME_COUNTS)]


def scheme_csv_row(group: str, metrics: dict[str, Any]) -> list[object]:
    return [group, *(metrics[s.value][name] for s in RATE_SCHEMES for name in SCHEME_COUNTS)]


# -- maintained aggregates (the facts tables): one referral's additive contribution ------------

#: The additive counts one referral contributes to its cells, from which :func:`measure` and
#: :func:`measure_schemes` are rebuilt by :func:`measure_sums` and :func:`scheme_sums`.
MEASURES: tuple[str, ...] = (
    "sent",
    "acknowledged",
    "accepted",
    "declined",
    *(f"declined_{reason.value}" for reason in DeclineReason),
    "no_news",
    "placements",
    "durable",
    *(f"{s.value}_{name}" for s in RATE_SCHEMES for name in SCHEME_COUNTS),
)
#: The dimensions a cell is kept by: ``total`` (one group, ``""``) and every grouping.
TOTAL = "total"
DIMENSIONS: tuple[str, ...] = (TOTAL, *(g.value for g in GroupBy))
#: The enums' members once (iterating an ``Enum`` class is a generator each time: the fold
#: counts every referral in every dimension).
_GROUPINGS: tuple[GroupBy, ...] = tuple(GroupBy)
_DECLINE_REASONS: tuple[DeclineReason, ...] = tuple(DeclineReason)


def contribution(f: ReferralFacts, rules: Rules) -> dict[str, int]:
    """What ``f`` adds to each of :data:`MEASURES` (0 or 1), with ``rules`` in force."""
    within = timedelta(hours=rules.acknowledgement_hours)
    placed = f.placed_at is not None
    values = {
        "sent": 1,
        "acknowledged": (
            f.first_answer_at is not None and f.first_answer_at - f.created_at <= within
        ),
        "accepted": f.accepted_at is not None or placed,
        "declined": f.declined_at is not None,
        "no_news": f.no_news,
        "placements": placed,
        "durable": placed
        and is_durable_placement(
            f.contract_type,
            f.placement_start,
            f.placement_expected_end,
            min_months=rules.durable_contract_months,
        ),
    }
    for reason in _DECLINE_REASONS:
        values[f"declined_{reason.value}"] = (
            f.declined_at is not None and f.decline_reason is reason
        )
    for scheme in RATE_SCHEMES:
        outcome = f.schemes.get(scheme)
        values[f"{scheme.value}_referrals"] = outcome is not None
        values[f"{scheme.value}_started"] = outcome is not None and (
            outcome.started or outcome.qualifies
        )
        values[f"{scheme.value}_completed"] = outcome is not None and outcome.qualifies
        values[f"{scheme.value}_recruited"] = (
            outcome is not None and outcome.qualifies and (placed or outcome.hired)
        )
    return {name: int(values[name]) for name in MEASURES}


def delay_minutes(f: ReferralFacts) -> int | None:
    """The first-answer delay kept in the delays histogram: whole minutes (rounded), so the
    median read from the histogram is within half a minute (0.0083 h) of the exact one."""
    if f.first_answer_at is None:
        return None
    return round((f.first_answer_at - f.created_at).total_seconds() / 60)


def cell_keys(f: ReferralFacts) -> dict[str, list[str]]:
    """The groups ``f`` counts in, per dimension of :data:`DIMENSIONS`."""
    return {TOTAL: [""], **{g.value: group_keys(f, g) for g in _GROUPINGS}}


def middle_ranks(n: int) -> tuple[int, int]:
    """The ranks (from 0) of the middle value(s) of ``n`` sorted values: one twice when odd."""
    return (n - 1) // 2, n // 2


def locate(histogram: dict[int, int], rank: int) -> tuple[int, int]:
    """The bucket holding the value of ``rank`` (from 0) in ``histogram`` (bucket → count), and
    that value's rank within the bucket."""
    seen = 0
    for bucket in sorted(histogram):
        count = histogram[bucket]
        if rank < seen + count:
            return bucket, rank - seen
        seen += count
    raise ValueError("rank beyond the histogram")


def median_hours(middle_minutes: list[int]) -> float | None:
    """The median in hours, rounded to 2 decimals, from the middle delay(s) in minutes (as
    :func:`statistics.median`: the mean of the two middle values for an even count)."""
    if not middle_minutes:
        return None
    return round(statistics.median(m / 60 for m in middle_minutes), 2)


def histogram_median(delays: dict[int, int]) -> float | None:
    """The median, in hours rounded to 2 decimals, of a histogram of delays in minutes."""
    n = sum(delays.values())
    if n <= 0:
        return None
    return median_hours([locate(delays, rank)[0] for rank in middle_ranks(n)])


def measure_sums(sums: dict[str, int], median: float | None) -> dict[str, Any]:
    """:func:`measure` rebuilt from summed contributions and the median delay (hours)."""
    result: dict[str, Any] = {
        "referrals_sent": sums["sent"],
        "acknowledged_within_48h": sums["acknowledged"],
        "accepted": sums["accepted"],
        "declined": sums["declined"],
        "declined_by_reason": {r.value: sums[f"declined_{r.value}"] for r in DeclineReason},
        "median_hours_to_first_answer": median,
        "closed_no_news": sums["no_news"],
        "placements": sums["placements"],
        "durable_placements": sums["durable"],
    }
    for scheme in RATE_SCHEMES:
        base, hits = sums[f"{scheme.value}_completed"], sums[f"{scheme.value}_recruited"]
        result[f"placement_after_{scheme.value}"] = {
            "base": base,
            "placed": hits,
            "rate": round(hits / base, 4) if base else None,
        }
    return result


def scheme_sums(sums: dict[str, int]) -> dict[str, dict[str, int]]:
    """:func:`measure_schemes` rebuilt from summed contributions."""
    return {
        s.value: {name: sums[f"{s.value}_{name}"] for name in SCHEME_COUNTS} for s in RATE_SCHEMES
    }

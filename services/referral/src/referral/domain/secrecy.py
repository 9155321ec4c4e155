"""Statistical secrecy of the indicators (issue 11, item 6): every count under the threshold is
shown as ``"secret"``, in JSON and CSV alike, with secondary suppression across the groups when
they partition the referrals (région, département, network: a lone hidden group would be the total
minus the others); overlapping groups (priority publics, schemes) get primary secrecy only, as
:func:`shared.privacy.protect_counts` says. A rate that would give back a small count, and the
median delay of a hidden group, are hidden too. Plain Python."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from referral.domain.indicators import RATE_SCHEMES, GroupBy
from shared.contracts.vocabulary import DeclineReason
from shared.privacy.statistical_secrecy import SECRET_MARK, protect_counts, rate_is_secret

COUNTS = (
    "referrals_sent",
    "acknowledged_within_48h",
    "accepted",
    "declined",
    "closed_no_news",
    "placements",
    "durable_placements",
)
OVERLAPPING = frozenset({GroupBy.PRIORITY_PUBLIC, GroupBy.SCHEME})

Path = tuple[str, ...]


def _paths() -> Iterator[Path]:
    for name in COUNTS:
        yield (name,)
    for reason in DeclineReason:
        yield ("declined_by_reason", reason.value)
    for scheme in RATE_SCHEMES:
        yield (f"placement_after_{scheme.value}", "base")
        yield (f"placement_after_{scheme.value}", "placed")


def _get(metrics: dict[str, Any], path: Path) -> Any:
    value: Any = metrics
    for key in path:
        value = value[key]
    return value


def _set(metrics: dict[str, Any], path: Path, value: Any) -> None:
    for key in path[:-1]:
        metrics = metrics[key]
    metrics[path[-1]] = value


def protect_indicators(
    result: dict[str, Any], group_by: GroupBy | None, threshold: int
) -> dict[str, Any]:
    """``result`` (of :func:`referral.domain.indicators.compute`) with its small cells hidden."""
    total, groups = result["total"], result["groups"]
    raw = {id(m): {p: _get(m, p) for p in _paths()} for m in (total, *groups)}
    overlap = group_by in OVERLAPPING or not groups
    for path in _paths():
        counts = {g["group"]: raw[id(g)][path] for g in groups}
        cells, total_cell = protect_counts(
            counts, threshold=threshold, total=raw[id(total)][path], groups_overlap=overlap
        )
        _set(total, path, SECRET_MARK if total_cell.value is None else total_cell.value)
        for group in groups:
            cell = cells[group["group"]]
            _set(group, path, SECRET_MARK if cell.value is None else cell.value)
    for metrics in (total, *groups):
        before = raw[id(metrics)]
        for scheme in RATE_SCHEMES:
            key = f"placement_after_{scheme.value}"
            base, placed = before[(key, "base")], before[(key, "placed")]
            if SECRET_MARK in (metrics[key]["base"], metrics[key]["placed"]) or rate_is_secret(
                placed, base, threshold=threshold
            ):
                metrics[key]["rate"] = SECRET_MARK
        if metrics["referrals_sent"] == SECRET_MARK:
            metrics["median_hours_to_first_answer"] = SECRET_MARK
    result["secrecy"] = {"threshold": threshold, "mark": SECRET_MARK}
    return result

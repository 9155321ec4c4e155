"""Statistical secrecy of the indicators (issue 11, item 6): every count under the threshold is
shown as ``"secret"``, in JSON and CSV alike, with secondary suppression across the groups when
they partition the referrals (région, département, network: a lone hidden group would be the total
minus the others); overlapping groups (priority publics, schemes) get primary secrecy only, as
:func:`shared.privacy.protect_counts` says. Declines and their reasons are a table of their own
(groups × reasons, the declines being each row's total): a lone hidden reason would otherwise be a
group's declines minus its other reasons (:func:`shared.privacy.protect_table`). A rate that would
give back a small count, and the median delay of a hidden group, are hidden too. Plain Python."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from referral.domain.conventions import Axis
from referral.domain.indicators import OVERLAPPING_GROUPS, RATE_SCHEMES, SCHEME_COUNTS, GroupBy
from shared.contracts.vocabulary import DeclineReason
from shared.privacy.statistical_secrecy import (
    SECRET_MARK,
    ProtectedCell,
    protect_counts,
    protect_table,
    rate_is_secret,
)

COUNTS = (
    "referrals_sent",
    "acknowledged_within_48h",
    "accepted",
    "declined",
    "closed_no_news",
    "placements",
    "durable_placements",
)
#: Protected together by :func:`_protect_declines`, not one by one.
DECLINE_PATHS = frozenset(
    {("declined",), *(("declined_by_reason", r.value) for r in DeclineReason)}
)
#: A decline recorded without a coded reason: a column of the declines table, never published,
#: but derivable (the declines minus the reasons), so protected like the others.
_UNSPECIFIED = "_unspecified"
OVERLAPPING = OVERLAPPING_GROUPS

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
    raw = _protect_paths(
        total, groups, [p for p in _paths() if p not in DECLINE_PATHS], group_by, threshold
    )
    overlap = group_by in OVERLAPPING or not groups
    raw_declines = {id(m): {p: _get(m, p) for p in DECLINE_PATHS} for m in (total, *groups)}
    _protect_declines(total, groups, raw_declines, threshold, partition=not overlap)
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


def _shown(cell: ProtectedCell) -> Any:
    return SECRET_MARK if cell.value is None else cell.value


def _protect_declines(
    total: dict[str, Any],
    groups: list[dict[str, Any]],
    raw: dict[int, dict[Path, Any]],
    threshold: int,
    *,
    partition: bool,
) -> None:
    """Declines by reason as a table whose row totals are the declines: groups × reasons with the
    overall total as its margin when the groups partition the referrals, else each row alone."""
    reasons = [r.value for r in DeclineReason]
    columns = [*reasons, _UNSPECIFIED]

    def line(metrics: dict[str, Any]) -> list[int]:
        before = raw[id(metrics)]
        coded = [before[("declined_by_reason", r)] for r in reasons]
        return [*coded, before[("declined",)] - sum(coded)]

    def publish(metrics: dict[str, Any], cells: tuple[ProtectedCell, ...], declined: Any) -> None:
        for reason, cell in zip(reasons, cells, strict=False):
            metrics["declined_by_reason"][reason] = _shown(cell)
        metrics["declined"] = _shown(declined)

    if partition:
        table = protect_table(
            [line(g) for g in groups],
            rows=[str(g["group"]) for g in groups],
            columns=columns,
            threshold=threshold,
        )
        for group, cells, row_total in zip(groups, table.cells, table.row_totals, strict=True):
            publish(group, cells, row_total)
        publish(total, table.column_totals, table.total)
        return
    for metrics in (total, *groups):
        table = protect_table([line(metrics)], columns=columns, threshold=threshold)
        publish(metrics, table.cells[0], table.row_totals[0])


def _protect_paths(
    total: dict[str, Any],
    groups: list[dict[str, Any]],
    paths: list[Path],
    group_by: GroupBy | None,
    threshold: int,
) -> dict[int, dict[Path, Any]]:
    """Hide the small counts at ``paths`` of the total and the groups (secondary secrecy when the
    groups partition the referrals); the raw values, by ``id`` of their dict, for the rates."""
    raw = {id(m): {p: _get(m, p) for p in paths} for m in (total, *groups)}
    overlap = group_by in OVERLAPPING or not groups
    for path in paths:
        counts = {g["group"]: raw[id(g)][path] for g in groups}
        cells, total_cell = protect_counts(
            counts, threshold=threshold, total=raw[id(total)][path], groups_overlap=overlap
        )
        _set(total, path, SECRET_MARK if total_cell.value is None else total_cell.value)
        for group in groups:
            cell = cells[group["group"]]
            _set(group, path, SECRET_MARK if cell.value is None else cell.value)
    return raw


def protect_scheme_indicators(
    result: dict[str, Any], group_by: GroupBy | None, threshold: int
) -> dict[str, Any]:
    """``result`` (of ``use_cases.indicators.measure_scheme_indicators``) with its small cells
    hidden, as :func:`protect_indicators` does."""
    paths: list[Path] = [(s.value, name) for s in RATE_SCHEMES for name in SCHEME_COUNTS]
    _protect_paths(result["total"], result["groups"], paths, group_by, threshold)
    result["secrecy"] = {"threshold": threshold, "mark": SECRET_MARK}
    return result


def protect_progress(
    lines: list[dict[str, Any]], public_referrals: int, referrals: int, threshold: int
) -> list[dict[str, Any]]:
    """A convention's progress lines with the small counts hidden (primary secrecy: a
    convention's figures are not summed with others'), and the priority publics' share hidden
    when it would give back a small count (:func:`rate_is_secret`)."""
    for line in lines:
        if Axis(line["axis"]) is Axis.PRIORITY_PUBLIC_SHARE:
            secret = referrals > 0 and rate_is_secret(
                public_referrals, referrals, threshold=threshold
            )
        else:
            secret = 0 < line["achieved"] < threshold
        if secret:
            line["achieved"] = SECRET_MARK
            line["ratio"] = SECRET_MARK
    return lines


def protect_local_actions(result: dict[str, Any], threshold: int) -> dict[str, Any]:
    """Statistical secrecy on the counts of people: invited = came + did not come + not yet
    recorded (a table whose row total is the invited, the unrecorded never published), and the
    hires (among those who came) on their own. Events and offers are not people: shown."""
    datings = result["job_datings"]
    unrecorded = datings["invited"] - datings["came"] - datings["did_not_come"]
    table = protect_table(
        [[datings["came"], datings["did_not_come"], unrecorded]], threshold=threshold
    )
    came, absent, _ = table.cells[0]
    hired = datings["hired"]
    return {
        **result,
        "job_datings": {
            "events": datings["events"],
            "invited": _shown(table.row_totals[0]),
            "came": _shown(came),
            "did_not_come": _shown(absent),
            "hired": SECRET_MARK if 0 < hired < threshold else hired,
        },
        "secrecy": {"threshold": threshold, "mark": SECRET_MARK},
    }

"""Statistical secrecy of the dispositifs indicators (issue 11 item 6, issue 10 item 2): every
count under the threshold (setting, default 5) is shown as ``"secret"``; the régions partition
the schemes' rows, so secondary suppression applies across them (a lone hidden région would be
the total minus the others, :func:`shared.privacy.protect_counts`). A rate that would give back a
small count (:func:`shared.privacy.rate_is_secret`), or whose counts are hidden, is hidden too.
Plain Python."""

from __future__ import annotations

from typing import Any

from shared.privacy.statistical_secrecy import SECRET_MARK, protect_counts, rate_is_secret

#: Each scheme's counts, and its rates as (rate, numerator, denominator).
COUNTS: dict[str, tuple[str, ...]] = {
    "immersions": (
        "requested",
        "rejected",
        "booked",
        "completed",
        "objectives_reached",
        "hired_after",
    ),
    "mrs": ("registered", "evaluated", "positive", "recruited"),
    "poei": ("enrolled", "completed", "hired"),
    "poec": ("enrolled", "completed", "hired", "missions_overdue"),
}
RATES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "immersions": (
        ("completion_rate", "completed", "booked"),
        ("hired_rate", "hired_after", "completed"),
    ),
    "mrs": (("recruitment_rate_among_positive", "recruited", "positive"),),
    "poei": (("hired_rate", "hired", "completed"),),
    "poec": (("hired_rate", "hired", "completed"),),
}


def protect_indicators(result: dict[str, Any], threshold: int) -> dict[str, Any]:
    """``result`` (of :func:`dispositifs.use_cases.indicators.scheme_indicators`) with its small
    cells hidden, in place; ``result["secrecy"]`` says the threshold and the mark."""
    rows: list[dict[str, Any]] = result["regions"]
    total: dict[str, Any] = result["total"]
    raw = {
        id(line): {(s, n): line[s][n] for s, names in COUNTS.items() for n in names}
        for line in (total, *rows)
    }
    for scheme, names in COUNTS.items():
        for name in names:
            counts = {row["region_code"]: raw[id(row)][(scheme, name)] for row in rows}
            cells, total_cell = protect_counts(counts, threshold=threshold)
            total[scheme][name] = SECRET_MARK if total_cell.value is None else total_cell.value
            for row in rows:
                cell = cells[row["region_code"]]
                row[scheme][name] = SECRET_MARK if cell.value is None else cell.value
    for line in (total, *rows):
        before = raw[id(line)]
        for scheme, rates in RATES.items():
            for rate, hits, base in rates:
                shown = line[scheme]
                numerator, denominator = before[(scheme, hits)], before[(scheme, base)]
                if (
                    SECRET_MARK in (shown[hits], shown[base])
                    or not 0 <= numerator <= denominator
                    or rate_is_secret(numerator, denominator, threshold=threshold)
                ):
                    shown[rate] = SECRET_MARK
    result["secrecy"] = {"threshold": threshold, "mark": SECRET_MARK}
    return result

"""Statistical secrecy of the indicators (issue 11, item 6) on a fixture with a cell of 1: the
cell is shown as secret, and so is another cell of the same column, so that the total minus the
others does not give it back; overlapping groups get primary secrecy; rates and medians that would
give back a small count are hidden; JSON and CSV alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from referral.domain import PriorityPublic as P
from referral.domain.indicators import GroupBy, ReferralFacts, Rules, compute, csv_row
from referral.domain.secrecy import protect_indicators
from shared.contracts.vocabulary import DeclineReason
from shared.privacy import SECRET_MARK

T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)


def _facts(departement: str, n: int, *, rqth: int = 0) -> list[ReferralFacts]:
    return [
        ReferralFacts(
            created_at=T0,
            region="32",
            departement=departement,
            network_id="interim-nord",
            publics=frozenset({P.RQTH}) if i < rqth else frozenset(),
            first_answer_at=T0 + timedelta(hours=5 + i),
        )
        for i in range(n)
    ]


FACTS = [*_facts("59", 12, rqth=1), *_facts("62", 1), *_facts("80", 7)]


def _by(result: dict, key: str) -> dict:  # type: ignore[type-arg]
    return {g["group"]: g[key] for g in result["groups"]}


def test_a_cell_of_one_is_secret_and_not_recoverable_from_the_total() -> None:
    result = protect_indicators(
        compute(FACTS, Rules(), GroupBy.DEPARTEMENT), GroupBy.DEPARTEMENT, 5
    )
    sent = _by(result, "referrals_sent")
    assert sent["62"] == SECRET_MARK
    hidden = [g for g, v in sent.items() if v == SECRET_MARK]
    assert len(hidden) >= 2  # secondary suppression: 20 - 12 - 7 would name the 1 of the 62
    total = result["total"]["referrals_sent"]
    assert total == 20
    shown = sum(v for v in sent.values() if v != SECRET_MARK)
    assert total - shown >= 5 or total == SECRET_MARK
    assert _by(result, "median_hours_to_first_answer")["62"] == SECRET_MARK
    assert result["secrecy"] == {"threshold": 5, "mark": SECRET_MARK}
    row = csv_row("62", next(g for g in result["groups"] if g["group"] == "62"))
    assert row[1] == SECRET_MARK


def test_overlapping_publics_get_primary_secrecy() -> None:
    result = protect_indicators(
        compute(FACTS, Rules(), GroupBy.PRIORITY_PUBLIC), GroupBy.PRIORITY_PUBLIC, 5
    )
    sent = _by(result, "referrals_sent")
    assert sent["rqth"] == SECRET_MARK  # one RQTH referral
    assert sent["aucun"] == 19
    assert result["total"]["referrals_sent"] == 20


def test_threshold_one_hides_nothing() -> None:
    plain = compute(FACTS, Rules(), GroupBy.DEPARTEMENT)
    protected = protect_indicators(
        compute(FACTS, Rules(), GroupBy.DEPARTEMENT), GroupBy.DEPARTEMENT, 1
    )
    assert protected["groups"] == plain["groups"]
    assert protected["total"] == plain["total"]


def _declines(departement: str, reasons: dict[DeclineReason, int]) -> list[ReferralFacts]:
    return [
        ReferralFacts(
            created_at=T0,
            region="32",
            departement=departement,
            network_id="interim-nord",
            declined_at=T0 + timedelta(hours=3),
            decline_reason=reason,
        )
        for reason, n in reasons.items()
        for _ in range(n)
    ]


def _recoverable(metrics: dict) -> bool:  # type: ignore[type-arg]
    """A hidden reason is the group's declines minus its shown reasons: exactly one hidden."""
    if metrics["declined"] == SECRET_MARK:
        return False
    hidden = [v for v in metrics["declined_by_reason"].values() if v == SECRET_MARK]
    return len(hidden) == 1


def test_a_lone_small_decline_reason_cannot_be_recomputed_from_the_declines() -> None:
    """Issue 11 follow-up: 7 declines in the 59, 6 "non mobile" and 1 "non éligible": showing 7
    and 6 would name the one; within the group a second reason (or the declines) is hidden."""
    facts = [
        *_declines("59", {DeclineReason.NOT_MOBILE: 6, DeclineReason.NOT_ELIGIBLE: 1}),
        *_declines("62", {DeclineReason.NOT_MOBILE: 9}),
        *_declines("80", {DeclineReason.NO_POSITION: 8}),
    ]
    for group_by in (GroupBy.DEPARTEMENT, GroupBy.PRIORITY_PUBLIC, None):
        result = protect_indicators(compute(facts, Rules(), group_by), group_by, 5)
        for metrics in (result["total"], *result["groups"]):
            assert not _recoverable(metrics), (group_by, metrics)
        if group_by is GroupBy.DEPARTEMENT:
            lille = next(g for g in result["groups"] if g["group"] == "59")
            assert lille["declined_by_reason"]["not_eligible"] == SECRET_MARK
            assert result["total"]["declined_by_reason"]["not_eligible"] == SECRET_MARK
            # the 62 and the 80 have no small reason: shown as they are
            assert next(g for g in result["groups"] if g["group"] == "62")["declined"] == 9


def test_declines_without_a_coded_reason_still_protect_the_coded_ones() -> None:
    """A decline recorded without a reason is part of the declines (a column never published):
    the one coded reason among 6 declines is secret, and the declines minus the shown reasons is
    then the secret cell plus the unspecified ones, which nothing publishes."""
    facts = _declines("59", {DeclineReason.NOT_MOBILE: 1}) + [
        ReferralFacts(
            created_at=T0,
            region="32",
            departement="59",
            network_id="interim-nord",
            declined_at=T0,
        )
        for _ in range(5)
    ]
    result = protect_indicators(compute(facts, Rules(), None), None, 5)
    total = result["total"]
    assert total["declined_by_reason"]["not_mobile"] == SECRET_MARK
    assert total["declined"] == 6
    shown = [v for v in total["declined_by_reason"].values() if v != SECRET_MARK]
    assert total["declined"] - sum(shown) == 6  # not 1: the five unspecified hide it


def test_job_dating_figures_hide_small_counts_of_people_not_of_events() -> None:
    """Issue 16 under issue 11's secrecy: 10 invited, 7 came, 3 did not come, 2 hired at a
    threshold of 5 — the 3 and the 2 are secret, and so is the 7 (10 − 7 would give the 3 back);
    the number of events is not about people."""
    from referral.domain.secrecy import protect_local_actions

    raw = {
        "job_datings": {"events": 1, "invited": 10, "came": 7, "did_not_come": 3, "hired": 2},
        "hard_to_fill_offers": {"published": 2, "answered": 1, "answers": {}},
    }
    shown = protect_local_actions(raw, 5)["job_datings"]
    assert shown == {
        "events": 1,
        "invited": 10,
        "came": SECRET_MARK,
        "did_not_come": SECRET_MARK,
        "hired": SECRET_MARK,
    }
    assert protect_local_actions(raw, 1)["job_datings"] == raw["job_datings"]

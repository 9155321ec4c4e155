"""Statistical secrecy of the indicators (issue 11, item 6) on a fixture with a cell of 1: the
cell is shown as secret, and so is another cell of the same column, so that the total minus the
others does not give it back; overlapping groups get primary secrecy; rates and medians that would
give back a small count are hidden; JSON and CSV alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from referral.domain import PriorityPublic as P
from referral.domain.indicators import GroupBy, ReferralFacts, Rules, compute, csv_row
from referral.domain.secrecy import protect_indicators
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

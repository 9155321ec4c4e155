"""The indicators rebuilt from additive contributions (what the aggregates keep) equal the
computation over the facts, for random facts; the median from a minutes histogram is the
statistics' median of the minutes."""

from __future__ import annotations

import random
import statistics
from collections import Counter
from datetime import UTC, date, datetime, timedelta

from referral.domain import PriorityPublic, Scheme
from referral.domain.indicators import (
    MEASURES,
    ReferralFacts,
    Rules,
    SchemeOutcome,
    contribution,
    delay_minutes,
    histogram_median,
    locate,
    measure,
    measure_schemes,
    measure_sums,
    middle_ranks,
    scheme_sums,
)
from shared.contracts.vocabulary import ContractType, DeclineReason


def _facts(rng: random.Random) -> ReferralFacts:
    sent = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randint(0, 10**5))
    answered = sent + timedelta(minutes=rng.randint(1, 5000)) if rng.random() < 0.8 else None
    declined = answered if answered and rng.random() < 0.3 else None
    placed = answered if answered and not declined and rng.random() < 0.4 else None
    return ReferralFacts(
        created_at=sent,
        region="32",
        departement="59",
        network_id="n",
        publics=frozenset(p for p in PriorityPublic if rng.random() < 0.2),
        first_answer_at=answered,
        accepted_at=answered if answered and not declined and rng.random() < 0.5 else None,
        declined_at=declined,
        decline_reason=rng.choice([None, *DeclineReason]) if declined else None,
        placed_at=placed,
        contract_type=rng.choice(list(ContractType)) if placed else None,
        placement_start=date(2026, 2, 1) if placed else None,
        placement_expected_end=date(2026, 2, 1) + timedelta(days=rng.choice([30, 300])),
        no_news=rng.random() < 0.1,
        schemes={
            s: SchemeOutcome(
                qualifies=rng.random() < 0.5, hired=rng.random() < 0.3, started=rng.random() < 0.5
            )
            for s in Scheme
            if rng.random() < 0.2
        },
    )


def test_the_sums_of_contributions_give_the_figures_of_the_facts() -> None:
    rng = random.Random(14)
    for size in (0, 1, 2, 7, 60):
        facts = [_facts(rng) for _ in range(size)]
        for rules in (Rules(), Rules(acknowledgement_hours=12, durable_contract_months=3)):
            sums = Counter(dict.fromkeys(MEASURES, 0))
            delays: Counter[int] = Counter()
            for f in facts:
                sums.update(contribution(f, rules))
                if (minutes := delay_minutes(f)) is not None:
                    delays[minutes] += 1
            # Whole-minute delays here: the histogram's median is the exact one.
            assert measure_sums(dict(sums), histogram_median(delays)) == measure(facts, rules)
            assert scheme_sums(dict(sums)) == measure_schemes(facts)


def test_the_median_is_found_from_its_ranks_in_the_histogram() -> None:
    rng = random.Random(3)
    for n in range(1, 40):
        values = [rng.randint(0, 300) for _ in range(n)]
        histogram = Counter(values)
        assert histogram_median(histogram) == round(statistics.median(v / 60 for v in values), 2)
        first, second = middle_ranks(n)
        assert locate(histogram, first)[0] == sorted(values)[first]
        assert locate(histogram, second)[0] == sorted(values)[second]
    assert histogram_median({}) is None

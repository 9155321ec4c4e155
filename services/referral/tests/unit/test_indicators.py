"""Indicators checked against a hand-computed fixture, on the pure computation (end to end through
the API over the real store: service/test_indicators_api.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from referral.domain import PriorityPublic as P
from referral.domain import Scheme
from referral.domain.indicators import GroupBy, ReferralFacts, Rules, SchemeOutcome, compute
from shared.contracts.vocabulary import ContractType, DeclineReason

T = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)


def h(hours: float) -> datetime:
    return T + timedelta(hours=hours)


# Six referrals, written so that every figure below can be checked by hand.
FIXTURE = [
    ReferralFacts(  # R1: answered in 10 h, accepted, placed in a CDI; immersion done
        created_at=T, region="32", departement="59", network_id="interim-nord",
        publics=frozenset({P.JEUNE, P.QPV}), first_answer_at=h(10), accepted_at=h(20),
        placed_at=h(72), contract_type=ContractType.CDI, placement_start=date(2026, 2, 9),
        schemes={Scheme.IMMERSION: SchemeOutcome(qualifies=True, hired=False)},
    ),
    ReferralFacts(  # R2: declined after 60 h (not interested)
        created_at=T, region="32", departement="62", network_id="interim-nord",
        first_answer_at=h(60), declined_at=h(60), decline_reason=DeclineReason.NOT_INTERESTED,
    ),
    ReferralFacts(  # R3: accepted after 30 h, 3-month mission (not durable); MRS positive, hired
        created_at=T, region="84", departement="69", network_id="travail-plus",
        publics=frozenset({P.RQTH, P.SENIOR}), first_answer_at=h(30), accepted_at=h(30),
        placed_at=h(100), contract_type=ContractType.MISSION, placement_start=date(2026, 1, 1),
        placement_expected_end=date(2026, 3, 31),
        schemes={Scheme.MRS: SchemeOutcome(qualifies=True, hired=True)},
    ),
    ReferralFacts(  # R4: no answer
        created_at=T, region="84", departement="69", network_id="travail-plus",
        publics=frozenset({P.BRSA}),
    ),
    ReferralFacts(  # R5: declined at exactly 48 h; MRS positive not hired; immersion → hired
        created_at=T, region="53", departement="35", network_id="emploi-ouest",
        publics=frozenset({P.JEUNE}), first_answer_at=h(48), declined_at=h(48),
        decline_reason=DeclineReason.LACKING_SKILLS,
        schemes={
            Scheme.MRS: SchemeOutcome(qualifies=True, hired=False),
            Scheme.IMMERSION: SchemeOutcome(qualifies=True, hired=True),
        },
    ),
    ReferralFacts(  # R6: accepted in 2 h, 6-month CDD (durable); POEI done
        created_at=T, region="53", departement="35", network_id="emploi-ouest",
        first_answer_at=h(2), accepted_at=h(2), placed_at=h(200), contract_type=ContractType.CDD,
        placement_start=date(2026, 1, 1), placement_expected_end=date(2026, 7, 1),
        schemes={Scheme.POEI: SchemeOutcome(qualifies=True, hired=False)},
    ),
]  # fmt: skip


def _reasons(**counts: int) -> dict[str, int]:
    return {reason.value: counts.get(reason.value, 0) for reason in DeclineReason}


def _rate(base: int, hits: int) -> dict[str, Any]:
    return {"base": base, "placed": hits, "rate": round(hits / base, 4) if base else None}


def test_totals_match_the_hand_computed_fixture() -> None:
    total = compute(FIXTURE, Rules())["total"]
    assert total == {
        "referrals_sent": 6,
        "acknowledged_within_48h": 4,  # R1 10 h, R3 30 h, R5 48 h, R6 2 h
        "accepted": 3,  # R1, R3, R6
        "declined": 2,
        "declined_by_reason": _reasons(not_interested=1, lacking_skills=1),
        "median_hours_to_first_answer": 30.0,  # 2, 10, 30, 48, 60
        "closed_no_news": 0,
        "placements": 3,  # R1, R3, R6
        "durable_placements": 2,  # R1 CDI, R6 CDD of 6 months
        "placement_after_immersion": _rate(2, 2),  # R1 placed, R5 hired after it
        "placement_after_mrs": _rate(2, 1),  # R3 placed; R5 neither
        "placement_after_poei": _rate(1, 1),  # R6 placed
        "placement_after_poec": _rate(0, 0),
    }


def test_groups_by_region_match_the_fixture() -> None:
    groups = {g["group"]: g for g in compute(FIXTURE, Rules(), GroupBy.REGION)["groups"]}
    assert list(groups) == ["32", "53", "84"]
    picked = {
        key: (
            g["referrals_sent"],
            g["acknowledged_within_48h"],
            g["accepted"],
            g["declined"],
            g["median_hours_to_first_answer"],
            g["placements"],
            g["durable_placements"],
        )
        for key, g in groups.items()
    }
    assert picked == {
        "32": (2, 1, 1, 1, 35.0, 1, 1),
        "53": (2, 2, 1, 1, 25.0, 1, 1),
        "84": (2, 1, 1, 0, 30.0, 1, 0),
    }


def test_a_job_seeker_counts_in_each_of_their_priority_publics_and_schemes() -> None:
    by_public = compute(FIXTURE, Rules(), GroupBy.PRIORITY_PUBLIC)["groups"]
    assert {g["group"]: g["referrals_sent"] for g in by_public} == {
        "aucun": 2, "brsa": 1, "jeune": 2, "qpv": 1, "rqth": 1, "senior": 1,
    }  # fmt: skip
    by_scheme = compute(FIXTURE, Rules(), GroupBy.SCHEME)["groups"]
    assert {g["group"]: g["referrals_sent"] for g in by_scheme} == {
        "aucun": 2, "immersion": 2, "mrs": 2, "poei": 1,
    }  # fmt: skip


def test_rules_are_settings() -> None:
    strict = compute(FIXTURE, Rules(acknowledgement_hours=24, durable_contract_months=7))
    assert strict["total"]["acknowledged_within_48h"] == 2  # R1, R6
    assert strict["total"]["durable_placements"] == 1  # only the CDI

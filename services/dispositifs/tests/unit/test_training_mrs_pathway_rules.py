"""POEI / POEC rules at their boundaries, MRS results and the skills-gap pathway, without I/O."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from dispositifs.domain.mrs import check_evaluation, check_hiring_decision, overall_result
from dispositifs.domain.pathway import Scheme, propose_scheme
from dispositifs.domain.training import (
    ART_POEI_TERMS,
    RULE_FT_POEI_HOURS,
    RULE_POEC_FRAMEWORK,
    ExpectedContract,
    PoeiMode,
    TargetedPublic,
    TrainingLimits,
    check_poec_session,
    check_poei_contract,
    check_poei_hours,
    check_poei_offer,
    targeted_public,
)
from shared.contracts.vocabulary import ContractType

LIMITS = TrainingLimits()
C = ContractType


@pytest.mark.parametrize(
    ("mode", "public", "cap"),
    [
        (PoeiMode.FULL_TUTORING, None, 300),
        (PoeiMode.SEASONAL, None, 300),
        (PoeiMode.TRAINING_BODY, None, 450),
        (PoeiMode.TRAINING_BODY, TargetedPublic.BRSA, 600),
        (PoeiMode.TRAINING_BODY, TargetedPublic.SENIOR, 600),
    ],
)
def test_each_poei_hour_cap_allows_its_hours_and_refuses_one_more(
    mode: PoeiMode, public: TargetedPublic | None, cap: int
) -> None:
    assert check_poei_hours(cap, mode, public, LIMITS) == []
    found = check_poei_hours(cap + 1, mode, public, LIMITS)
    assert [(v.rule, v.field, v.article) for v in found] == [
        ("poei.hours", "hours", RULE_FT_POEI_HOURS)
    ]
    assert f"au plus {cap} h" in found[0].message


def test_seniors_are_55_or_more_on_the_first_day_and_brsa_is_targeted() -> None:
    start = date(2026, 3, 1)
    assert targeted_public(brsa=False, birth_date=date(1971, 3, 1), start=start, limits=LIMITS) == (
        TargetedPublic.SENIOR
    )
    assert (
        targeted_public(brsa=False, birth_date=date(1971, 3, 2), start=start, limits=LIMITS) is None
    )
    assert targeted_public(brsa=True, birth_date=None, start=start, limits=LIMITS) == (
        TargetedPublic.BRSA
    )


def test_a_poei_needs_an_offer_and_its_employer() -> None:
    assert check_poei_offer("187XKLM", "73282932000074") == []
    assert {v.field for v in check_poei_offer(None, None)} == {"offer_id", "employer.siret"}


@pytest.mark.parametrize(
    ("contract", "allowed"),
    [
        (ExpectedContract(C.CDI), True),
        (ExpectedContract(C.CDI_INTERIMAIRE), True),
        (ExpectedContract(C.CDD, 6), True),
        (ExpectedContract(C.CDD, 5), False),
        (ExpectedContract(C.PROFESSIONNALISATION, 6), True),
        (ExpectedContract(C.PROFESSIONNALISATION, 5), False),
        (ExpectedContract(C.APPRENTISSAGE, 6), True),
        (ExpectedContract(C.APPRENTISSAGE, 5), False),
        (ExpectedContract(C.CDD_SAISONNIER, 4), True),
        (ExpectedContract(C.CDD_SAISONNIER, 3), False),
        (ExpectedContract(C.MISSION, 4, seasonal=True), True),
        (ExpectedContract(C.MISSION, 4), False),
        (ExpectedContract(C.MISSION, 3), False),
        (ExpectedContract(C.MISSION, 2, missions_total_months=6), True),
        (ExpectedContract(C.MISSION, 2, missions_total_months=5), False),
    ],
    ids=lambda value: (
        f"{value.type}-{value.duration_months}-{value.missions_total_months}"
        if isinstance(value, ExpectedContract)
        else str(value)
    ),
)
def test_each_contract_kind_after_a_poei(contract: ExpectedContract, allowed: bool) -> None:
    found = check_poei_contract(contract, LIMITS)
    assert (found == []) is allowed
    assert all(v.article == ART_POEI_TERMS for v in found)


def _poec(**overrides: object) -> list[str]:
    values: dict[str, object] = {
        "total_hours": 300,
        "company_hours": 100,
        "temporary_work": True,
        "opco": "AKTO",
        "limits": LIMITS,
    }
    values.update(overrides)
    return [v.rule for v in check_poec_session(**values)]  # type: ignore[arg-type]


def test_a_poec_of_400_hours_is_allowed_and_401_refused() -> None:
    assert _poec(total_hours=400, company_hours=0) == []
    found = check_poec_session(
        total_hours=401, company_hours=0, temporary_work=True, opco="AKTO", limits=LIMITS
    )
    assert [(v.rule, v.field, v.article) for v in found] == [
        ("poec.hours", "total_hours", RULE_POEC_FRAMEWORK)
    ]


def test_at_most_a_third_of_a_poec_in_a_company() -> None:
    assert _poec(total_hours=300, company_hours=100) == []
    assert _poec(total_hours=300, company_hours=101) == ["poec.company_share"]


def test_a_temporary_work_poec_goes_through_akto() -> None:
    assert _poec(opco="akto") == []
    assert _poec(opco="OPCO 2i") == ["poec.opco"]
    assert _poec(opco="OPCO 2i", temporary_work=False) == []


def test_mrs_overall_result_needs_every_habilete_by_default() -> None:
    assert overall_result({"a": True, "b": True}, min_share=1.0) is True
    assert overall_result({"a": True, "b": False}, min_share=1.0) is False
    assert overall_result({"a": True, "b": False}, min_share=0.5) is True


def test_mrs_evaluation_covers_exactly_the_session_habiletes() -> None:
    assert check_evaluation({"a": True, "b": False}, ["a", "b"]) == []
    assert [v.rule for v in check_evaluation({"a": True, "c": True}, ["a", "b"])] == [
        "mrs.evaluation",
        "mrs.evaluation",
    ]


def test_only_positively_evaluated_candidates_get_a_hiring_decision() -> None:
    assert check_hiring_decision(True) == []
    assert check_hiring_decision(False) != []
    assert check_hiring_decision(None) != []


def test_the_pathway_proposes_poei_then_poec_then_an_immersion() -> None:
    session_id = uuid.uuid4()
    assert propose_scheme(offer_id="o-1", open_poec_session_id=session_id).scheme is Scheme.POEI
    poec = propose_scheme(offer_id=None, open_poec_session_id=session_id)
    assert (poec.scheme, poec.poec_session_id) == (Scheme.POEC, session_id)
    immersion = propose_scheme(offer_id=None, open_poec_session_id=None)
    assert immersion.scheme is Scheme.IMMERSION
    assert immersion.rule == "pathway.immersion_confirm_project"
    assert "L5135-1" in immersion.reason

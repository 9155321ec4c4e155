"""PMSMP rules at their boundaries, without I/O (Code du travail L5135-1 ff., D5135-1 ff.)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from dispositifs.domain.immersion import (
    ART_CONTENT,
    ART_DURATION,
    ART_MIN_AGE,
    ART_OBJET,
    ART_PRESCRIBERS,
    ART_WEEKLY_HOURS,
    NATIONAL_TOOL_RULE,
    TRANSITIONS,
    Actor,
    ImmersionLimits,
    ImmersionStatus,
    ImmersionTerms,
    PastConvention,
    RenewedConvention,
    check_mandatory_content,
    check_pair_history,
    check_renewal,
    check_terms,
    check_transition,
    month_date_to_date_end,
)
from shared.domain.errors import TransitionRefused as TransitionNotAllowed

LIMITS = ImmersionLimits()
S = ImmersionStatus
HOST_SIRET = "73282932000074"


def _terms(**overrides: object) -> ImmersionTerms:
    values: dict[str, object] = {
        "objet": "confirm_project",
        "start_date": date(2026, 3, 1),
        "end_date": date(2026, 3, 14),
        "weekly_hours": 35,
        "tutor_name": "Nadia Benali",
        "host_siret": HOST_SIRET,
        "objectives": "Confirmer le projet de cariste",
    }
    values.update(overrides)
    return ImmersionTerms(**values)  # type: ignore[arg-type]


def _rules(terms: ImmersionTerms, others: list[PastConvention] | None = None) -> set[str]:
    return {v.rule for v in check_terms(terms, others or [], LIMITS)}


def test_a_complete_ordinary_request_breaks_no_rule() -> None:
    assert check_terms(_terms(), [], LIMITS) == []


# -- duration: 1 month date to date (D5135-3) and the national tool's 30 calendar days ----------


def test_30_calendar_days_are_allowed_and_31_refused_citing_the_national_tools_rule() -> None:
    assert _rules(_terms(start_date=date(2026, 3, 1), end_date=date(2026, 3, 30))) == set()
    found = check_terms(_terms(start_date=date(2026, 3, 1), end_date=date(2026, 3, 31)), [], LIMITS)
    assert [v.rule for v in found] == ["pmsmp.duration.days"]
    # 1 → 31 March is within "1 month date to date" (D5135-3): only the national tool's cap.
    assert found[0].article == NATIONAL_TOOL_RULE == "règle de l'outil national immersion-facile"
    assert "31 jours" in found[0].message


def test_one_month_date_to_date_ends_the_day_before_the_same_day_next_month() -> None:
    assert month_date_to_date_end(date(2026, 1, 15)) == date(2026, 2, 14)
    assert month_date_to_date_end(date(2026, 12, 10)) == date(2027, 1, 9)
    # No 31 February: the month ends on the last day of February.
    assert month_date_to_date_end(date(2026, 1, 31)) == date(2026, 2, 28)
    assert month_date_to_date_end(date(2028, 1, 30)) == date(2028, 2, 29)


def test_in_february_the_month_rule_is_stricter_than_30_days() -> None:
    assert _rules(_terms(start_date=date(2026, 2, 1), end_date=date(2026, 2, 28))) == set()
    # 29 days, under the 30-day cap, but past one month date to date.
    assert _rules(_terms(start_date=date(2026, 2, 1), end_date=date(2026, 3, 1))) == {
        "pmsmp.duration.month"
    }


def test_the_calendar_day_cap_is_a_setting() -> None:
    month_only = ImmersionLimits(max_calendar_days=None)
    found = check_terms(
        _terms(start_date=date(2026, 1, 1), end_date=date(2026, 1, 31)), [], month_only
    )
    assert found == []


def test_end_before_start_is_refused() -> None:
    assert _rules(_terms(start_date=date(2026, 3, 10), end_date=date(2026, 3, 9))) == {
        "pmsmp.dates"
    }


# -- weekly hours, age, tutor, objet, prescriber ---------------------------------------------------


def test_48_hours_a_week_are_allowed_and_49_refused() -> None:
    assert _rules(_terms(weekly_hours=48)) == set()
    found = check_terms(_terms(weekly_hours=49), [], LIMITS)
    assert [(v.rule, v.field, v.article) for v in found] == [
        ("pmsmp.weekly_hours", "weekly_hours", ART_WEEKLY_HOURS)
    ]


def test_a_beneficiary_of_16_on_the_first_day_is_allowed_and_of_15_refused() -> None:
    start = date(2026, 3, 1)
    assert _rules(_terms(birth_date=date(2010, 3, 1), start_date=start)) == set()
    found = check_terms(_terms(birth_date=date(2010, 3, 2), start_date=start), [], LIMITS)
    assert [(v.rule, v.field, v.article) for v in found] == [
        ("pmsmp.age", "beneficiary.birth_date", ART_MIN_AGE)
    ]
    assert "15 ans" in found[0].message


def test_a_tutor_is_mandatory() -> None:
    found = check_terms(_terms(tutor_name=" "), [], LIMITS)
    assert [(v.rule, v.field, v.article) for v in found] == [
        ("pmsmp.tutor", "tutor.name", ART_CONTENT)
    ]


def test_the_objet_is_one_of_the_three() -> None:
    for objet in ("discover", "confirm_project", "start_recruitment"):
        assert _rules(_terms(objet=objet)) == set()
    found = check_terms(_terms(objet="cover_a_peak"), [], LIMITS)
    assert [(v.rule, v.article) for v in found] == [("pmsmp.objet", ART_OBJET)]


@pytest.mark.parametrize(
    "kind",
    [
        "france_travail",
        "mission_locale",
        "cap_emploi",
        "siae",
        "conseil_departemental",
        "prepa_apprentissage",
        "delegated_body",
    ],
)
def test_allowed_prescribers(kind: str) -> None:
    assert _rules(_terms(prescriber_kind=kind)) == set()


@pytest.mark.parametrize("kind", ["etti", "agence_emploi"])
def test_an_etti_or_an_agency_cannot_prescribe(kind: str) -> None:
    found = check_terms(_terms(prescriber_kind=kind), [], LIMITS)
    assert [(v.rule, v.article) for v in found] == [("pmsmp.prescriber", ART_PRESCRIBERS)]


def test_an_invalid_siret_is_refused() -> None:
    assert _rules(_terms(host_siret="73282932000075")) == {"pmsmp.siret"}


def test_missing_mandatory_content_names_each_item() -> None:
    found = check_mandatory_content({"host.name": "Entrepôts du Nord", "tutor.name": "N. Benali"})
    fields = {v.field for v in found}
    assert "host.name" not in fields
    assert {"beneficiary.birth_date", "host.collective_agreement", "evaluation_method"} <= fields
    assert {v.article for v in found} == {ART_CONTENT}


# -- renewal ---------------------------------------------------------------------------------------


def _original(**overrides: object) -> RenewedConvention:
    values: dict[str, object] = {
        "status": S.COMPLETED,
        "objet": "confirm_project",
        "objectives_reached": False,
        "is_renewal": False,
        "already_renewed": False,
        "objectives": "Confirmer le projet de cariste",
    }
    values.update(overrides)
    return RenewedConvention(**values)  # type: ignore[arg-type]


def test_a_first_renewal_when_objectives_were_not_reached_is_allowed() -> None:
    assert check_renewal(_original(), "confirm_project") == []


def test_a_second_renewal_is_refused() -> None:
    for original in (_original(already_renewed=True), _original(is_renewal=True)):
        found = check_renewal(original, "confirm_project")
        assert [(v.rule, v.article) for v in found] == [("pmsmp.renewal.once", ART_DURATION)]


def test_no_renewal_when_the_objectives_were_reached_or_the_objet_changes() -> None:
    assert [
        v.rule for v in check_renewal(_original(objectives_reached=True), "confirm_project")
    ] == ["pmsmp.renewal.objectives_reached"]
    assert [v.rule for v in check_renewal(_original(), "discover")] == ["pmsmp.renewal.objet"]
    assert [v.rule for v in check_renewal(_original(status=S.IN_PROGRESS), "confirm_project")] == [
        "pmsmp.renewal.assessment"
    ]


def test_a_renewal_lasts_at_most_one_more_month() -> None:
    terms = _terms(
        start_date=date(2026, 4, 1),
        end_date=date(2026, 5, 1),
        renewal_of=_original(),
        renewal_justification="Objectifs non atteints : encore deux semaines de pratique",
    )
    found = check_terms(terms, [], LIMITS)
    assert {v.rule for v in found} == {"pmsmp.duration.month", "pmsmp.duration.days"}
    assert all("le renouvellement" in v.message for v in found)


# -- same beneficiary and host within 12 months ----------------------------------------------------


def _past(start: date, days: int, objectives: str, *, renewal: bool = False) -> PastConvention:
    return PastConvention(start, start + timedelta(days=days - 1), objectives, "discover", renewal)


def test_a_second_convention_in_12_months_is_allowed_and_a_third_refused() -> None:
    first = _past(date(2025, 6, 1), 10, "Découvrir la préparation de commandes")
    second = _past(date(2025, 11, 1), 10, "Découvrir la conduite de chariot")
    assert check_pair_history(date(2026, 3, 1), date(2026, 3, 10), "Autre", [first], LIMITS) == []
    found = check_pair_history(
        date(2026, 3, 1), date(2026, 3, 10), "Autre", [first, second], LIMITS
    )
    assert [(v.rule, v.article) for v in found] == [("pmsmp.pair.count", ART_DURATION)]


def test_the_12_months_are_rolling() -> None:
    first = _past(date(2025, 3, 1), 10, "A")
    second = _past(date(2025, 11, 1), 10, "B")
    # 1 March 2026 is 12 months after the first one: it has left the window.
    assert (
        check_pair_history(date(2026, 3, 1), date(2026, 3, 10), "C", [first, second], LIMITS) == []
    )
    found = check_pair_history(date(2026, 2, 28), date(2026, 3, 9), "C", [first, second], LIMITS)
    assert [v.rule for v in found] == ["pmsmp.pair.count"]


def test_60_days_together_are_allowed_and_61_refused() -> None:
    # A 30-day convention renewed for 29 days, then a new one: 60 then 61 days in 12 months.
    first = _past(date(2025, 9, 1), 30, "A")
    renewal = _past(date(2025, 10, 1), 29, "A", renewal=True)
    assert (
        check_pair_history(date(2026, 1, 5), date(2026, 1, 5), "B", [first, renewal], LIMITS) == []
    )
    found = check_pair_history(date(2026, 1, 5), date(2026, 1, 6), "B", [first, renewal], LIMITS)
    assert [(v.rule, v.article) for v in found] == [("pmsmp.pair.days", ART_DURATION)]
    assert "61 jours" in found[0].message


def test_a_second_convention_needs_a_different_objet_or_different_objectives() -> None:
    first = _past(date(2025, 11, 1), 10, "Découvrir le métier de cariste")
    found = check_pair_history(
        date(2026, 1, 5),
        date(2026, 1, 9),
        "  découvrir le métier  de CARISTE ",
        [first],
        LIMITS,
        objet="discover",
    )
    assert [(v.rule, v.article) for v in found] == [("pmsmp.pair.objectives", ART_DURATION)]


def test_the_pair_rule_both_ways_and_a_trailing_full_stop_does_not_get_round_it() -> None:
    first = _past(date(2025, 11, 1), 10, "Découvrir le métier de cariste")
    start, end = date(2026, 1, 5), date(2026, 1, 9)
    # Same objet, same objectives with a trailing full stop and other case: refused (D5135-3).
    same = check_pair_history(
        start, end, "Découvrir le métier de CARISTE.", [first], LIMITS, objet="discover"
    )
    assert [(v.rule, v.article) for v in same] == [("pmsmp.pair.objectives", ART_DURATION)]
    assert "D5135-3" in same[0].article
    # Different objet, same objectives: allowed (either differing suffices).
    assert (
        check_pair_history(
            start, end, "Découvrir le métier de cariste", [first], LIMITS, objet="confirm_project"
        )
        == []
    )
    # Same objet, different objectives: allowed.
    assert (
        check_pair_history(
            start, end, "Découvrir le métier de magasinier", [first], LIMITS, objet="discover"
        )
        == []
    )


def test_a_renewal_keeps_the_objectives_and_starts_after_the_original_ends() -> None:
    original = _original(objectives="Confirmer le projet de cariste", end_date=date(2026, 3, 14))
    ok = check_renewal(
        original,
        "confirm_project",
        "confirmer le projet de cariste.",
        date(2026, 3, 15),
        justification="Objectifs non atteints",
    )
    assert ok == []
    other = check_renewal(
        original, "confirm_project", "Découvrir la logistique", date(2026, 3, 15), justification="x"
    )
    assert [(v.rule, v.article) for v in other] == [("pmsmp.renewal.objectives", ART_DURATION)]
    overlapping = check_renewal(
        original,
        "confirm_project",
        "Confirmer le projet de cariste",
        date(2026, 3, 14),
        justification="x",
    )
    assert [(v.rule, v.article) for v in overlapping] == [("pmsmp.renewal.dates", ART_DURATION)]
    unjustified = check_renewal(
        original,
        "confirm_project",
        "Confirmer le projet de cariste",
        date(2026, 3, 15),
        justification=" ",
    )
    assert [(v.rule, v.article) for v in unjustified] == [
        ("pmsmp.renewal.justification", NATIONAL_TOOL_RULE)
    ]


# -- the lifecycle table ---------------------------------------------------------------------------


def test_the_happy_path_follows_the_table() -> None:
    path = [
        (None, S.REQUESTED, Actor.AGENCY),
        (S.REQUESTED, S.READY_TO_SIGN, Actor.COUNSELLOR),
        (S.READY_TO_SIGN, S.PARTIALLY_SIGNED, Actor.SIGNATORY),
        (S.PARTIALLY_SIGNED, S.SIGNED, Actor.SIGNATORY),
        (S.SIGNED, S.VALIDATED, Actor.COUNSELLOR),
        (S.VALIDATED, S.IN_PROGRESS, Actor.SYSTEM),
        (S.IN_PROGRESS, S.COMPLETED, Actor.COUNSELLOR),
    ]
    for current, target, actor in path:
        assert check_transition(current, target, actor) is target


def test_the_counsellor_signs_for_no_party() -> None:
    for current, target in ((S.READY_TO_SIGN, S.PARTIALLY_SIGNED), (S.PARTIALLY_SIGNED, S.SIGNED)):
        with pytest.raises(TransitionNotAllowed):
            check_transition(current, target, Actor.COUNSELLOR)


def test_a_completed_convention_cannot_be_cancelled() -> None:
    with pytest.raises(TransitionNotAllowed, match="Terminée"):
        check_transition(S.COMPLETED, S.CANCELLED, Actor.COUNSELLOR, justification="Erreur")


@pytest.mark.parametrize("target", [S.REJECTED, S.CANCELLED, S.DEPRECATED])
def test_rejection_cancellation_and_deprecation_need_a_justification(
    target: ImmersionStatus,
) -> None:
    with pytest.raises(TransitionNotAllowed, match="justification"):
        check_transition(S.REQUESTED, target, Actor.COUNSELLOR, justification="  ")
    assert (
        check_transition(S.REQUESTED, target, Actor.COUNSELLOR, justification="Doublon") is target
    )


def test_only_the_counsellor_validates_and_an_agency_only_requests() -> None:
    with pytest.raises(TransitionNotAllowed):
        check_transition(S.SIGNED, S.VALIDATED, Actor.AGENCY)
    with pytest.raises(TransitionNotAllowed):
        check_transition(S.READY_TO_SIGN, S.VALIDATED, Actor.COUNSELLOR)
    agency_targets = {t.target for t in TRANSITIONS.transitions if Actor.AGENCY in t.actors}
    assert agency_targets == {S.REQUESTED}

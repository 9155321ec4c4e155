"""Issue 13's boundaries, each refused with its true source: working time by age (L3162-1,
L3121-18, L3121-20), POEI's seasonal 4-month mission (D6326-1, décret 2024-561), POEC's
12-month contract (L6326-3), the not-allowed uses declared by the host (L5135-4), the parties
who sign (L5135-4, D5135-1), the signed links."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from dispositifs.domain.immersion import (
    ImmersionLimits,
    check_assessment_time,
    check_host_declarations,
)
from dispositifs.domain.signing import (
    ConventionParties,
    LinkClaims,
    LinkPurpose,
    Party,
    SignatoryRole,
    make_link_token,
    read_link_token,
    signatories,
)
from dispositifs.domain.training import (
    ExpectedContract,
    PoeiMode,
    TrainingLimits,
    check_poec_contract,
    check_poec_session,
    check_poei_contract,
    check_poei_hours,
)
from dispositifs.domain.working_time import (
    DaySchedule,
    Period,
    Weekday,
    WeeklySchedule,
    WorkingTimeLimits,
    check_working_time,
)
from shared.contracts.vocabulary import ContractType as C
from shared.domain.errors import Forbidden

START = date(2026, 6, 1)
AT_17 = date(2009, 3, 1)  # 17 on 1 June 2026
AT_18 = date(2008, 6, 1)  # 18 on 1 June 2026
WT = WorkingTimeLimits()


def _week(hours_per_day: list[float]) -> WeeklySchedule:
    days = []
    for day, hours in zip(Weekday, hours_per_day, strict=False):
        end = 8 * 60 + round(hours * 60)
        days.append(DaySchedule(day, (Period("08:00", f"{end // 60:02d}:{end % 60:02d}"),)))
    return WeeklySchedule(tuple(days))


def _found(schedule: WeeklySchedule, birth: date | None) -> list[tuple[str, str | None]]:
    return [(v.rule, v.article) for v in check_working_time(schedule, None, birth, START, WT)]


def test_an_adult_may_be_present_10_hours_a_day_not_11_l3121_18() -> None:
    assert _found(_week([10, 7, 7, 7]), AT_18) == []
    assert _found(_week([11, 7, 7, 7]), AT_18) == [
        ("pmsmp.daily_hours", "Code du travail, art. L3121-18")
    ]


def test_at_17_35_hours_a_week_pass_and_36_are_refused_l3162_1() -> None:
    assert _found(_week([7, 7, 7, 7, 7]), AT_17) == []
    found = check_working_time(_week([7.2] * 5), None, AT_17, START, WT)
    assert [(v.rule, v.article) for v in found] == [
        ("pmsmp.weekly_hours.young", "Code du travail, art. L3162-1")
    ]
    assert "36 h par semaine, au plus 35 h" in found[0].message


def test_at_17_eight_hours_a_day_pass_and_nine_are_refused_l3162_1() -> None:
    assert _found(_week([8, 8, 8, 8]), AT_17) == []
    assert _found(_week([9, 6, 6, 6]), AT_17) == [
        ("pmsmp.daily_hours.young", "Code du travail, art. L3162-1")
    ]


def test_at_18_48_hours_a_week_pass_and_49_are_refused_l3121_20() -> None:
    assert _found(_week([8, 8, 8, 8, 8, 8]), AT_18) == []
    assert _found(_week([8, 8, 8, 8, 8, 9]), AT_18) == [
        ("pmsmp.weekly_hours", "Code du travail, art. L3121-20")
    ]


def test_without_a_schedule_the_declared_weekly_hours_are_checked_by_age() -> None:
    assert check_working_time(None, 35, AT_17, START, WT) == []
    [v] = check_working_time(None, 36, AT_17, START, WT)
    assert (v.rule, v.field, v.article) == (
        "pmsmp.weekly_hours.young",
        "weekly_hours",
        "Code du travail, art. L3162-1",
    )


def test_the_caps_are_settings() -> None:
    looser = WorkingTimeLimits(adult_max_daily_hours=12)
    assert check_working_time(_week([11]), None, AT_18, START, looser) == []
    assert ImmersionLimits().working_time == WT


def test_overlapping_periods_are_refused() -> None:
    bad = WeeklySchedule(
        (DaySchedule(Weekday.MONDAY, (Period("08:00", "12:00"), Period("11:00", "13:00"))),)
    )
    assert [v.rule for v in check_working_time(bad, None, AT_18, START, WT)] == ["pmsmp.schedule"]


# -- POEI and POEC --------------------------------------------------------------------------------

TL = TrainingLimits()


def test_poei_a_4_month_mission_qualifies_only_for_a_seasonal_job() -> None:
    assert check_poei_contract(ExpectedContract(C.MISSION, 4, seasonal=True), TL) == []
    [v] = check_poei_contract(ExpectedContract(C.MISSION, 4), TL)
    assert (v.rule, v.article) == (
        "poei.contract",
        "Code du travail, art. D6326-1 (décret 2024-561)",
    )
    # Otherwise missions totalling 6 months within the 9 months after the training.
    assert check_poei_contract(ExpectedContract(C.MISSION, 4, missions_total_months=6), TL) == []
    assert check_poei_contract(ExpectedContract(C.MISSION, 4, missions_total_months=5), TL) != []


def test_poei_hour_caps_are_cited_to_france_travail_not_to_d6326_1() -> None:
    [v] = check_poei_hours(451, PoeiMode.TRAINING_BODY, None, TL)
    assert "France Travail" in (v.article or "")
    assert "D6326-1" not in (v.article or "")


def test_poec_400_hours_and_a_third_are_the_france_travail_opco_framework() -> None:
    found = check_poec_session(
        total_hours=401, company_hours=200, temporary_work=False, opco="AKTO", limits=TL
    )
    assert {v.rule for v in found} == {"poec.hours", "poec.company_share"}
    assert all("OPCO" in (v.article or "") for v in found)


@pytest.mark.parametrize(
    ("kind", "months", "allowed"),
    [
        (C.CDD, 12, True),
        (C.CDD, 11, False),
        (C.PROFESSIONNALISATION, 12, True),
        (C.PROFESSIONNALISATION, 11, False),
        (C.APPRENTISSAGE, 6, True),
        (C.CDI, None, True),
        (C.CDD_SAISONNIER, 6, False),
    ],
)
def test_poec_after_contract_12_months_l6326_3(kind: C, months: int | None, allowed: bool) -> None:
    found = check_poec_contract(kind, months, temporary_work=False, limits=TL)
    assert (found == []) is allowed
    if not allowed:
        assert found[0].article == "Code du travail, art. L6326-3"


def test_poec_in_temporary_work_leads_to_missions() -> None:
    assert check_poec_contract(C.MISSION, 2, temporary_work=True, limits=TL) == []
    assert check_poec_contract(C.MISSION, 2, temporary_work=False, limits=TL) != []


# -- host declarations, parties, links, assessment time ------------------------------------------


def test_the_host_declares_each_not_allowed_use_l5135_4() -> None:
    all_declared = {
        "not_permanent_post": True,
        "not_activity_peak": True,
        "not_seasonal_job": True,
        "not_replacing_employee": True,
    }
    assert check_host_declarations(all_declared) == []
    found = check_host_declarations({**all_declared, "not_seasonal_job": False})
    assert [(v.rule, v.field, v.article) for v in found] == [
        (
            "pmsmp.not_allowed_use",
            "host_declarations.not_seasonal_job",
            "Code du travail, art. L5135-4",
        )
    ]


def _parties(**kw: object) -> ConventionParties:
    values: dict[str, object] = {
        "beneficiary": Party(SignatoryRole.BENEFICIARY, "Camille Martin", "camille@example.org"),
        "host_representative": Party(
            SignatoryRole.HOST_REPRESENTATIVE, "Paul Durand", "p.durand@entrepots.example"
        ),
        "tutor": Party(SignatoryRole.TUTOR, "Nadia Benali", "n.benali@entrepots.example"),
        "birth_date": AT_18,
        "start_date": START,
    }
    values.update(kw)
    return ConventionParties(**values)  # type: ignore[arg-type]


def test_who_signs_a_minor_needs_a_legal_representative_a_salaried_one_their_employer() -> None:
    needed, missing = signatories(_parties())
    assert [p.role for p in needed] == [
        SignatoryRole.BENEFICIARY,
        SignatoryRole.HOST_REPRESENTATIVE,
        SignatoryRole.TUTOR,
    ]
    assert missing == []
    _, missing = signatories(_parties(birth_date=AT_17, salaried=True))
    assert {v.rule for v in missing} == {
        "pmsmp.parties.legal_representative",
        "pmsmp.parties.employer",
    }
    # The tutor who is the host's representative signs once.
    same = Party(SignatoryRole.TUTOR, "Paul Durand", "P.Durand@entrepots.example")
    needed, _ = signatories(_parties(tutor=same))
    assert SignatoryRole.TUTOR not in {p.role for p in needed}


def test_a_link_is_signed_single_party_and_expires() -> None:
    now = datetime(2026, 5, 1, tzinfo=UTC)
    claims = LinkClaims(
        uuid.uuid4(), SignatoryRole.TUTOR, LinkPurpose.SIGN, "abc", now + timedelta(days=1)
    )
    token = make_link_token("clé", claims)
    assert read_link_token("clé", token, now=now) == claims
    with pytest.raises(Forbidden, match="pas valide"):
        read_link_token("autre clé", token, now=now)
    body, mac = token.split(".")
    forged = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + mac
    with pytest.raises(Forbidden):
        read_link_token("clé", forged, now=now)
    with pytest.raises(Forbidden, match="expiré"):
        read_link_token("clé", token, now=now + timedelta(days=1))


def test_the_assessment_comes_on_or_after_the_last_day() -> None:
    assert check_assessment_time(START, START) == []
    assert [v.rule for v in check_assessment_time(START, START - timedelta(days=1))] == [
        "pmsmp.assessment.too_early"
    ]

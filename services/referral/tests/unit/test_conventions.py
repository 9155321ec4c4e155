"""Regional conventions, their targets and progress, the new indicator dimensions and the
steering link, on the pure computation (through the API: service/test_steering_api.py)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

import pytest

from referral.domain import Scheme
from referral.domain.conventions import (
    Axis,
    ConventionScope,
    ConventionTerms,
    achieved,
    check_terms,
    elapsed_share,
    progress,
)
from referral.domain.indicators import (
    GroupBy,
    ReferralFacts,
    Rules,
    SchemeOutcome,
    compute,
    measure_schemes,
)
from referral.domain.secrecy import protect_progress, protect_scheme_indicators
from referral.use_cases.steering import (
    DASHBOARD_READER,
    IssueDashboardLink,
    issue_dashboard_link,
    read_dashboard_token,
)
from shared.auth.tokens import Principal, Role
from shared.contracts.vocabulary import ContractType
from shared.domain.errors import Forbidden
from shared.privacy.statistical_secrecy import SECRET_MARK

from .test_indicators import FIXTURE, T

REGIONS = {"32": "Hauts-de-France", "84": "Auvergne-Rhône-Alpes"}
NETWORKS = frozenset({"interim-nord", "travail-plus"})
TERMS = ConventionTerms(
    name="Convention Hauts-de-France",
    scope=ConventionScope.REGIONAL,
    region="32",
    period_start=date(2026, 1, 1),
    period_end=date(2026, 12, 31),
    networks=("interim-nord",),
    targets={Axis.REFERRALS: 10, Axis.PRIORITY_PUBLIC_SHARE: 40},
)


def _fields(terms: ConventionTerms) -> list[str]:
    return [v.field for v in check_terms(terms, regions=REGIONS, networks=NETWORKS)]


def test_terms_are_checked_field_by_field() -> None:
    assert _fields(TERMS) == []
    assert _fields(dataclasses.replace(TERMS, region=None)) == ["region"]
    assert _fields(dataclasses.replace(TERMS, region="99")) == ["region"]
    assert _fields(dataclasses.replace(TERMS, scope=ConventionScope.NATIONAL)) == ["region"]
    assert _fields(dataclasses.replace(TERMS, scope=ConventionScope.NATIONAL, region=None)) == []
    assert _fields(dataclasses.replace(TERMS, name="  ")) == ["name"]
    assert _fields(dataclasses.replace(TERMS, period_end=date(2025, 1, 1))) == ["period_end"]
    assert _fields(dataclasses.replace(TERMS, networks=("interim-nord", "nowhere"))) == [
        "networks.1"
    ]
    assert _fields(dataclasses.replace(TERMS, networks=("interim-nord", "interim-nord"))) == [
        "networks"
    ]
    assert _fields(
        dataclasses.replace(TERMS, targets={Axis.PRIORITY_PUBLIC_SHARE: 101, Axis.REFERRALS: -1})
    ) == ["targets.priority_public_share", "targets.referrals"]


def test_progress_is_computed_from_the_facts() -> None:
    # The fixture: 6 referrals, 4 of priority publics, 3 placed (2 durable), an MRS recruit
    # (R3), a POEI completed (R6), two completed immersions.
    reached = achieved(FIXTURE, Rules())
    assert reached == {
        Axis.REFERRALS: 6,
        Axis.PLACEMENTS: 3,
        Axis.DURABLE_PLACEMENTS: 2,
        Axis.IMMERSIONS: 2,
        Axis.MRS_RECRUITS: 1,
        Axis.TRAINING_STARTS: 1,
        Axis.PRIORITY_PUBLIC_SHARE: 66.7,
    }
    lines = progress({Axis.PRIORITY_PUBLIC_SHARE: 50, Axis.REFERRALS: 12}, reached)
    assert [(x["axis"], x["achieved"], x["target"], x["ratio"], x["unit"]) for x in lines] == [
        ("referrals", 6, 12, 0.5, "count"),
        ("priority_public_share", 66.7, 50, 1.334, "percent"),
    ]
    assert progress({Axis.MRS_RECRUITS: 0}, reached)[0]["ratio"] is None
    assert achieved([], Rules())[Axis.PRIORITY_PUBLIC_SHARE] == 0.0


def test_small_progress_figures_are_secret() -> None:
    lines = progress(
        {Axis.REFERRALS: 10, Axis.MRS_RECRUITS: 5, Axis.PRIORITY_PUBLIC_SHARE: 50},
        achieved(FIXTURE, Rules()),
    )
    protected = protect_progress(lines, public_referrals=4, referrals=6, threshold=5)
    shown = {x["axis"]: (x["achieved"], x["ratio"]) for x in protected}
    # 6 referrals are shown; 1 MRS recruit is not; 4 of 6 would name 2 people: hidden.
    assert shown["referrals"] == (6, 0.6)
    assert shown["mrs_recruits"] == (SECRET_MARK, SECRET_MARK)
    assert shown["priority_public_share"] == (SECRET_MARK, SECRET_MARK)


def test_elapsed_share_of_the_period() -> None:
    start, end = date(2026, 1, 1), date(2026, 12, 31)
    assert elapsed_share(start, end, date(2025, 6, 1)) == 0.0
    assert elapsed_share(start, end, date(2027, 1, 1)) == 1.0
    assert elapsed_share(start, end, date(2026, 7, 2)) == pytest.approx(0.5, abs=0.01)


def _with(facts: ReferralFacts, **changes: object) -> ReferralFacts:
    return dataclasses.replace(facts, **changes)  # type: ignore[arg-type]


def test_indicators_by_agency_trade_sector_hard_to_fill_and_month() -> None:
    facts = [
        _with(FIXTURE[0], agency_id="a1", rome_code="H2913", sectors=frozenset({"10", "12"}),
              has_offer=True, hard_to_fill_source="bmo"),
        _with(FIXTURE[1], agency_id="a1", rome_code="H2913", sectors=frozenset({"10"}),
              has_offer=True),
        _with(FIXTURE[2], agency_id="a2", rome_code="N4101", created_at=T + timedelta(days=40)),
    ]  # fmt: skip

    def groups(group_by: GroupBy) -> dict[str, int]:
        return {
            g["group"]: g["referrals_sent"] for g in compute(facts, Rules(), group_by)["groups"]
        }

    assert groups(GroupBy.AGENCY) == {"a1": 2, "a2": 1}
    assert groups(GroupBy.ROME_CODE) == {"H2913": 2, "N4101": 1}
    assert groups(GroupBy.SECTOR) == {"10": 2, "12": 1, "aucun": 1}
    assert groups(GroupBy.HARD_TO_FILL) == {"bmo": 1, "non": 1, "sans_offre": 1}
    assert groups(GroupBy.MONTH) == {"2026-02": 2, "2026-03": 1}


def test_scheme_figures_and_their_secrecy() -> None:
    started = ReferralFacts(
        created_at=T, region="32", departement="59", network_id="n",
        schemes={Scheme.POEC: SchemeOutcome(started=True)},
    )  # fmt: skip
    placed = _with(FIXTURE[2], placed_at=T, contract_type=ContractType.CDI)
    figures = measure_schemes([*FIXTURE, started, placed])
    assert figures["mrs"] == {"referrals": 3, "started": 3, "completed": 3, "recruited": 2}
    assert figures["poec"] == {"referrals": 1, "started": 1, "completed": 0, "recruited": 0}
    assert figures["immersion"]["completed"] == 2
    # By région (a partition): a lone small cell also hides a partner, so that no difference
    # with the total gives it back.
    by_region = {"total": measure_schemes(FIXTURE), "groups": []}
    for region in ("32", "53", "84"):
        members = [f for f in FIXTURE if f.region == region]
        by_region["groups"].append({"group": region, **measure_schemes(members)})
    protected = protect_scheme_indicators(by_region, GroupBy.REGION, threshold=2)
    mrs = {g["group"]: g["mrs"]["referrals"] for g in protected["groups"]}
    assert mrs == {"32": 0, "53": SECRET_MARK, "84": SECRET_MARK}
    assert protected["total"]["mrs"]["referrals"] == 2
    assert protected["secrecy"] == {"threshold": 2, "mark": SECRET_MARK}


def test_the_dashboard_link_is_signed_expires_and_is_for_steering_only() -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    steering = Principal(subject="copil", role=Role.STEERING)
    token = issue_dashboard_link(IssueDashboardLink("s3cret", now, timedelta(hours=2)), steering)
    assert read_dashboard_token(token, "s3cret", now + timedelta(hours=1)) is DASHBOARD_READER
    assert "copil" not in token  # names no one
    for refused in (
        lambda: read_dashboard_token(token, "s3cret", now + timedelta(hours=3)),
        lambda: read_dashboard_token(token, "other", now),
        lambda: read_dashboard_token(
            token[:-1] + ("1" if token[-1] == "0" else "0"), "s3cret", now
        ),
        lambda: read_dashboard_token(None, "s3cret", now),
        lambda: read_dashboard_token("a.b.c", "s3cret", now),
    ):
        with pytest.raises(Forbidden):
            refused()
    counsellor = Principal(subject="c", role=Role.COUNSELLOR, ft_structure="75101")
    with pytest.raises(Forbidden):
        issue_dashboard_link(IssueDashboardLink("s3cret", now, timedelta(hours=2)), counsellor)

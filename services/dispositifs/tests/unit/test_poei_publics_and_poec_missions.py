"""Issue 13 item 6 without I/O: the POEI's 600 h publics come from the settings and from the
referral's priority publics; the missions given after a temporary-work POEC are followed up."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from dispositifs.domain.training import (
    ART_POEC,
    PoeiMode,
    TargetedPublic,
    TrainingLimits,
    check_mission_after_poec,
    missions_overdue,
    poei_hour_cap,
    targeted_public,
)

LIMITS = TrainingLimits()
START = date(2026, 9, 1)


def _public(**kw: object) -> TargetedPublic | None:
    args: dict[str, object] = {"brsa": False, "birth_date": None, "start": START, "limits": LIMITS}
    args.update(kw)
    return targeted_public(**args)  # type: ignore[arg-type]


def test_the_referrals_publics_count_only_when_the_settings_list_them() -> None:
    assert _public(referral_publics=["brsa"]) is TargetedPublic.BRSA
    assert _public(referral_publics=["senior"]) is TargetedPublic.SENIOR
    assert _public(referral_publics=["deld", "jeune"]) is None  # not France Travail's 600 h list
    with_deld = replace(LIMITS, poei_targeted_publics=frozenset({"brsa", "senior", "deld"}))
    assert _public(referral_publics=["deld"], limits=with_deld) is TargetedPublic.DELD
    assert _public(referral_publics=["rqth"], limits=with_deld) is None  # never a public here
    without_brsa = replace(LIMITS, poei_targeted_publics=frozenset({"senior"}))
    assert _public(brsa=True, referral_publics=["brsa"], limits=without_brsa) is None


def test_a_public_from_the_referral_gives_the_600_h_cap_and_no_public_450() -> None:
    public = _public(referral_publics=["brsa"])
    assert poei_hour_cap(PoeiMode.TRAINING_BODY, public, LIMITS) == 600
    assert poei_hour_cap(PoeiMode.TRAINING_BODY, _public(), LIMITS) == 450


def test_missions_are_overdue_after_the_follow_up_delay_only() -> None:
    end = date(2026, 6, 30)
    days = LIMITS.poec_missions_follow_up_days
    on_time = date.fromordinal(end.toordinal() + days)
    late = date.fromordinal(end.toordinal() + days + 1)
    kw = {"expected": True, "ended_on": end, "limits": LIMITS}
    assert missions_overdue(missions_given=0, today=on_time, **kw) is False  # type: ignore[arg-type]
    assert missions_overdue(missions_given=0, today=late, **kw) is True  # type: ignore[arg-type]
    assert missions_overdue(missions_given=1, today=late, **kw) is False  # type: ignore[arg-type]
    assert (
        missions_overdue(expected=None, missions_given=0, ended_on=end, today=late, limits=LIMITS)
        is False
    )


def test_a_mission_follows_a_completed_temporary_work_poec_l6326_3() -> None:
    end = date(2026, 6, 30)
    [not_due] = check_mission_after_poec(
        expected=None, poec_end=end, start=date(2026, 7, 1), end=date(2026, 7, 31)
    )
    assert not_due.article == ART_POEC
    [before] = check_mission_after_poec(
        expected=True, poec_end=end, start=date(2026, 6, 29), end=date(2026, 7, 31)
    )
    assert before.field == "start_date"
    assert (
        check_mission_after_poec(
            expected=True, poec_end=end, start=date(2026, 6, 30), end=date(2026, 7, 31)
        )
        == []
    )

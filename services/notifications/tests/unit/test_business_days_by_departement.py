"""The immersion's département chooses the holidays its reminder counts (issue 13 item 6):
Alsace-Moselle adds Good Friday and 26 December (L3134-13), the overseas départements their
abolition of slavery day."""

from __future__ import annotations

from datetime import date

import pytest

from notifications.domain.business_days import BusinessCalendar, subdivision_of


@pytest.mark.parametrize(
    ("departement", "subdivision"),
    [
        ("57", "57"),
        ("67", "6AE"),
        ("68", "6AE"),
        ("971", "971"),
        ("974", "974"),
        ("976", "976"),
        ("59", None),
        ("2A", None),
        (None, None),
    ],
)
def test_each_departement_has_its_territorys_subdivision(
    departement: str | None, subdivision: str | None
) -> None:
    assert subdivision_of(departement) == subdivision


def test_an_unknown_or_mainland_departement_keeps_the_services_default() -> None:
    assert subdivision_of("59", "57") == "57"
    assert subdivision_of(None, "57") == "57"
    assert subdivision_of("974", "57") == "974"


def test_good_friday_and_saint_stephen_count_in_alsace_moselle_only() -> None:
    national = BusinessCalendar()
    good_friday, saint_stephen = date(2026, 4, 3), date(2026, 12, 26)
    assert national.is_business_day(good_friday)
    for departement in ("57", "67", "68"):
        local = national.for_departement(departement)
        assert not local.is_business_day(good_friday)
        assert local.holiday_name(saint_stephen) is not None
    assert national.holiday_name(saint_stephen) is None
    # Wednesday 1 April 2026, two business days on: Friday 3 nationally, Tuesday 7 in Moselle
    # (Good Friday, then Easter Monday everywhere).
    assert national.add_business_days(date(2026, 4, 1), 2) == date(2026, 4, 3)
    assert national.for_departement("57").add_business_days(date(2026, 4, 1), 2) == date(2026, 4, 7)


def test_the_abolition_of_slavery_counts_in_its_overseas_departement() -> None:
    national = BusinessCalendar()
    guadeloupe = national.for_departement("971")
    reunion = national.for_departement("974")
    assert national.is_business_day(date(2026, 5, 27))
    assert not guadeloupe.is_business_day(date(2026, 5, 27))  # Guadeloupe: 27 May
    assert reunion.is_business_day(date(2026, 5, 27))
    assert reunion.holiday_name(date(2026, 12, 20)) is not None  # La Réunion: 20 December
    assert national.business_days_between(date(2026, 5, 26), date(2026, 5, 28)) == 2
    assert guadeloupe.business_days_between(date(2026, 5, 26), date(2026, 5, 28)) == 1


def test_the_same_territory_shares_one_calendar() -> None:
    national = BusinessCalendar()
    assert national.for_departement("59") is national
    assert national.for_departement("67") is national.for_departement("68")

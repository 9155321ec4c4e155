"""Reminders count business days with the immersion's département's holidays (issue 13 item 6):
the département travels in ``immersion.validated`` and is kept with the followed immersion."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from notifications.domain.routing import IMMERSION_STARTING
from notifications.jobs import Reminders
from notifications.models import FollowedImmersion, Notification
from notifications.settings import NotificationsSettings
from shared.contracts.dispositifs import ImmersionValidated
from shared.contracts.vocabulary import ImmersionObjet
from shared.db.database import Database

from ..conftest import record_event


def _validated(start: date, departement: str | None) -> ImmersionValidated:
    return ImmersionValidated(
        convention_id=uuid.uuid4(),
        referral_id=uuid.uuid4(),
        job_seeker_id=uuid.uuid4(),
        agency_id="agc-interim-est-metz",
        occurred_at=datetime(2026, 3, 20, 9, tzinfo=UTC),
        objet=ImmersionObjet.DISCOVER,
        start_date=start,
        end_date=start + timedelta(days=4),
        host_name=f"Atelier {departement}",
        tutor_name="Louise Muller",
        tutor_email="louise.muller@atelier.example",
        departement=departement,
    )


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 7, 0, tzinfo=UTC)


async def _reminded(database: Database) -> dict[str, str]:
    async with database.sessionmaker() as session:
        rows = await session.scalars(
            select(Notification).where(Notification.event_type == IMMERSION_STARTING)
        )
        return {n.recipient_id: n.body for n in rows}


async def test_good_friday_counts_in_moselle_and_alsace_not_in_the_nord(
    settings: NotificationsSettings, database: Database
) -> None:
    # Tuesday 7 April 2026; Friday 3 is Good Friday (Alsace-Moselle, L3134-13), Monday 6 Easter
    # Monday everywhere. Two business days before: Thursday 2 in the Nord, Wednesday 1 in Moselle.
    nord, moselle, bas_rhin, unknown = (
        _validated(date(2026, 4, 7), d) for d in ("59", "57", "67", None)
    )
    for event in (nord, moselle, bas_rhin, unknown):
        await record_event(database, event)
    async with database.sessionmaker() as session:
        row = await session.get(FollowedImmersion, moselle.convention_id)
        assert row is not None
        assert row.departement == "57"
    reminders = Reminders(settings)

    assert (await reminders.run(database, now=_at(date(2026, 3, 31)))).immersions == 0
    wednesday = await reminders.run(database, now=_at(date(2026, 4, 1)))
    assert wednesday.immersions == 2
    reminded = await _reminded(database)
    assert set(reminded) == {str(moselle.convention_id), str(bas_rhin.convention_id)}
    assert "dans 2 jours ouvrés" in reminded[str(moselle.convention_id)]

    thursday = await reminders.run(database, now=_at(date(2026, 4, 2)))
    assert thursday.immersions == 2  # the Nord, and the one whose département is unknown
    assert set(await _reminded(database)) == {
        str(e.convention_id) for e in (nord, moselle, bas_rhin, unknown)
    }


async def test_the_abolition_of_slavery_counts_in_guadeloupe(
    settings: NotificationsSettings, database: Database
) -> None:
    # Thursday 28 May 2026; Wednesday 27 is the abolition of slavery in Guadeloupe; Monday 25 is
    # Whit Monday everywhere.
    guadeloupe = _validated(date(2026, 5, 28), "971")
    mainland = _validated(date(2026, 5, 28), "75")
    await record_event(database, guadeloupe)
    await record_event(database, mainland)
    reminders = Reminders(settings)
    assert (await reminders.run(database, now=_at(date(2026, 5, 22)))).immersions == 1
    assert set(await _reminded(database)) == {str(guadeloupe.convention_id)}
    assert (await reminders.run(database, now=_at(date(2026, 5, 26)))).immersions == 1
    reminded = await _reminded(database)
    assert "dans 2 jours ouvrés" in reminded[str(mainland.convention_id)]

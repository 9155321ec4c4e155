"""Reminders on the real store: immersion starting in 2 business days (French public holidays
counted), referral unanswered after N days; each once, whatever the number of runs."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from notifications.domain.routing import IMMERSION_STARTING, REFERRAL_UNANSWERED
from notifications.jobs import Reminders
from notifications.models import Delivery, Notification
from notifications.settings import NotificationsSettings
from shared.contracts.dispositifs import ImmersionCancelled, ImmersionValidated
from shared.contracts.referral import ReferralSent, ReferralStatusChanged
from shared.contracts.vocabulary import ImmersionObjet
from shared.db.database import Database

from ..conftest import record_event

AGENCY = "agc-interim-nord-lille"


def _validated(convention_id: uuid.UUID, start: date) -> ImmersionValidated:
    return ImmersionValidated(
        convention_id=convention_id,
        referral_id=uuid.uuid4(),
        job_seeker_id=uuid.uuid4(),
        agency_id=AGENCY,
        occurred_at=datetime(2026, 5, 4, 9, tzinfo=UTC),
        objet=ImmersionObjet.CONFIRM_PROJECT,
        start_date=start,
        end_date=start + timedelta(days=11),
        host_name="Boulangerie Martin",
        tutor_name="Claire Dubois",
        tutor_email="claire.dubois@boulangerie-martin.example",
    )


async def _messages(database: Database, trigger: str) -> list[Notification]:
    async with database.sessionmaker() as session:
        return list(
            await session.scalars(select(Notification).where(Notification.event_type == trigger))
        )


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 7, 0, tzinfo=UTC)  # 9:00 in Paris


async def test_tutor_is_reminded_two_business_days_before_the_start_holidays_counted(
    settings: NotificationsSettings, database: Database
) -> None:
    # Friday 15 May 2026; Thursday 14 is Ascension: 2 business days before is Tuesday 12.
    convention_id = uuid.uuid4()
    await record_event(database, _validated(convention_id, date(2026, 5, 15)))
    cancelled_id = uuid.uuid4()
    await record_event(database, _validated(cancelled_id, date(2026, 5, 15)))
    await record_event(
        database,
        ImmersionCancelled(
            convention_id=cancelled_id,
            occurred_at=datetime(2026, 5, 6, tzinfo=UTC),
            justification="Structure fermée",
        ),
    )
    reminders = Reminders(settings)

    monday = await reminders.run(database, now=_at(date(2026, 5, 11)))
    assert monday.immersions == 0
    tuesday = await reminders.run(database, now=_at(date(2026, 5, 12)))
    assert tuesday.immersions == 1
    for day in (12, 13):  # later runs, and the catch-up day, add nothing
        assert (await reminders.run(database, now=_at(date(2026, 5, day)))).immersions == 0

    [reminder] = await _messages(database, IMMERSION_STARTING)
    assert (reminder.recipient_kind, reminder.recipient_id) == ("tutor", str(convention_id))
    assert reminder.subject == (
        "Rappel : l'immersion chez Boulangerie Martin commence le vendredi 15 mai 2026"
    )
    assert "dans 2 jours ouvrés" in reminder.body
    assert reminder.body.startswith("Bonjour Claire Dubois,")
    async with database.sessionmaker() as session:
        [email] = (
            await session.scalars(select(Delivery).where(Delivery.notification_id == reminder.id))
        ).all()
    assert (email.channel, email.address, email.status) == (
        "email",
        "claire.dubois@boulangerie-martin.example",
        "pending",
    )


async def test_a_reminder_missed_during_a_downtime_is_caught_up_before_the_start(
    settings: NotificationsSettings, database: Database
) -> None:
    await record_event(database, _validated(uuid.uuid4(), date(2026, 5, 15)))
    reminders = Reminders(settings)
    assert (await reminders.run(database, now=_at(date(2026, 5, 13)))).immersions == 1
    assert (await reminders.run(database, now=_at(date(2026, 5, 15)))).immersions == 0


async def test_job_seekers_get_no_reminder_until_they_are_reachable(
    settings: NotificationsSettings, database: Database
) -> None:
    await record_event(database, _validated(uuid.uuid4(), date(2026, 5, 15)))
    await Reminders(settings).run(database, now=_at(date(2026, 5, 12)))
    kinds = {m.recipient_kind for m in await _messages(database, IMMERSION_STARTING)}
    assert kinds == {"tutor"}
    async with database.sessionmaker() as session:
        everyone = set((await session.scalars(select(Notification.recipient_kind))).all())
    assert "job_seeker" not in everyone


async def test_an_unanswered_referral_reminds_the_agency_once_after_n_days(
    settings: NotificationsSettings, database: Database
) -> None:
    now = datetime.now(UTC)
    ids = {name: uuid.uuid4() for name in ("old", "answered", "recent")}
    for name, age in (("old", 8), ("answered", 8), ("recent", 2)):
        await record_event(
            database,
            ReferralSent(
                referral_id=ids[name],
                job_seeker_id=uuid.uuid4(),
                agency_id=AGENCY,
                network_id="interim-nord",
                rome_code="H2913",
                counsellor_id="conseiller.dupont",
                sent_at=now - timedelta(days=age),
            ),
        )
    await record_event(
        database,
        ReferralStatusChanged(
            referral_id=ids["answered"],
            agency_id=AGENCY,
            network_id="interim-nord",
            counsellor_id="conseiller.dupont",
            from_status="sent",
            to_status="acknowledged",
            action="acknowledge",
            occurred_at=now - timedelta(days=7),
        ),
    )
    reminders = Reminders(settings)
    assert settings.referral_reminder_after_days == 7
    assert (await reminders.run(database, now=now)).referrals == 1
    assert (await reminders.run(database, now=now + timedelta(days=3))).referrals == 0
    assert (await reminders.run(database, now=now + timedelta(days=6))).referrals == 1  # "recent"
    assert (await reminders.run(database, now=now + timedelta(days=30))).referrals == 0

    reminded = await _messages(database, REFERRAL_UNANSWERED)
    assert sorted(m.referral_id for m in reminded) == sorted([ids["old"], ids["recent"]])
    assert {(m.recipient_kind, m.recipient_id) for m in reminded} == {("agency", AGENCY)}
    old = next(m for m in reminded if m.referral_id == ids["old"])
    assert old.subject == "Rappel : orientation en attente de réponse depuis 8 jours"


async def test_a_transferred_referral_waits_for_the_new_agency_and_reminds_it_not_the_old(
    settings: NotificationsSettings, database: Database
) -> None:
    """Issue 12: after a transfer the referral follows to the new agency: the unanswered
    reminder counts from the transfer and goes to the new agency (even when the old one was
    reminded already), and later messages name the new agency."""
    from notifications.models import KnownReferral
    from shared.contracts.referral import ReferralAgencyChanged

    now = datetime.now(UTC)
    referral_id = uuid.uuid4()
    await record_event(
        database,
        ReferralSent(
            referral_id=referral_id,
            job_seeker_id=uuid.uuid4(),
            agency_id=AGENCY,
            network_id="interim-nord",
            rome_code="H2913",
            counsellor_id="conseiller.dupont",
            sent_at=now - timedelta(days=20),
            agency_name="Intérim Nord Lille",
            agency_town="Lille",
        ),
    )
    reminders = Reminders(settings)
    assert (await reminders.run(database, now=now - timedelta(days=10))).referrals == 1  # the old

    sister = "agc-interim-nord-roubaix"
    await record_event(
        database,
        ReferralAgencyChanged(
            referral_id=referral_id,
            agency_id=sister,
            network_id="interim-nord",
            counsellor_id="conseiller.dupont",
            from_agency_id=AGENCY,
            from_status="acknowledged",
            to_status="transferred",
            transferred_at=now - timedelta(days=2),
            agency_name="Intérim Nord Roubaix",
            agency_town="Roubaix",
            from_agency_name="Intérim Nord Lille",
        ),
    )
    async with database.sessionmaker() as session:
        followed = await session.get(KnownReferral, referral_id)
        assert followed is not None
        assert (followed.agency_id, followed.agency_name, followed.agency_town) == (
            sister,
            "Intérim Nord Roubaix",
            "Roubaix",
        )
        assert followed.status == "sent"
        assert followed.reminded_at is None

    assert (await reminders.run(database, now=now)).referrals == 0  # 2 days with the new one
    assert (await reminders.run(database, now=now + timedelta(days=6))).referrals == 1
    assert (await reminders.run(database, now=now + timedelta(days=9))).referrals == 0  # once

    reminded = await _messages(database, REFERRAL_UNANSWERED)
    assert sorted(m.recipient_id for m in reminded) == sorted([AGENCY, sister])

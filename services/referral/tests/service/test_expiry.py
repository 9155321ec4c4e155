"""Unanswered referrals expire after the configured delay, through the periodic job."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from referral.app import create_app
from referral.models import PLATFORM, Referral
from referral.settings import ReferralSettings
from referral.use_cases.expiry import expire_due_referrals
from referral.use_cases.job_seekers import JobSeekerInput
from referral.use_cases.referrals import SendReferral, send_referral
from shared.auth.tokens import Principal, Role
from shared.db.database import Database
from shared.testing_kafka import eventually

from ..answers import accepted, acknowledged, answer

COUNSELLOR = Principal("conseiller.dupont", Role.COUNSELLOR, ft_structure="75101")


async def _send(database: Database, ft: str) -> uuid.UUID:
    async with database.transaction() as session:
        referral = await send_referral(
            session,
            SendReferral(
                job_seeker=JobSeekerInput(ft, "A", "B"),
                agency_id="agc-interim-nord-lille",
                rome_code="H2913",
                message="Bonjour",
            ),
            COUNSELLOR,
        )
    return referral.id


async def _statuses(database: Database) -> dict[uuid.UUID, str]:
    async with database.sessionmaker() as session:
        return {r.id: r.status for r in await session.scalars(select(Referral))}


async def test_only_referrals_unanswered_for_the_delay_expire(
    referral_settings: ReferralSettings,
) -> None:
    database = Database(referral_settings.database_url)
    try:
        unanswered = await _send(database, "4100001A")
        acknowledged_only = await _send(database, "4100002A")
        answered = await _send(database, "4100003A")
        now = datetime.now(UTC)
        await answer(database, acknowledged(acknowledged_only, now))
        await answer(database, accepted(answered, now))
        delay = timedelta(days=30)

        # 29 days later: nothing is due.
        early = await expire_due_referrals(
            database.sessionmaker, delay=delay, now=now + timedelta(days=29)
        )
        assert early == []
        later = now + timedelta(days=30, minutes=1)
        expired = await expire_due_referrals(database.sessionmaker, delay=delay, now=later)
        assert set(expired) == {unanswered, acknowledged_only}
        assert (await _statuses(database))[answered] == "accepted"
        # Running it again changes nothing (every replica runs it).
        again = await expire_due_referrals(database.sessionmaker, delay=delay, now=later)
        assert again == []
        async with database.sessionmaker() as session:
            types = [
                row.event_type
                for row in await session.execute(
                    select(PLATFORM.outbox).order_by(PLATFORM.outbox.c.id)
                )
            ]
        assert types.count("coop.referral.expired.v1") == 2
    finally:
        await database.dispose()


async def test_the_periodic_job_expires_with_the_configured_delay(
    referral_settings: ReferralSettings,
) -> None:
    settings = referral_settings.model_copy(
        update={"expiry_after_seconds": 0.5, "expiry_job_interval_seconds": 0.2}
    )
    database = Database(settings.database_url)
    app = create_app(settings)
    await app.state.runtime.start()
    try:
        referral_id = await _send(database, "4200001A")

        async def expired() -> bool:
            return (await _statuses(database))[referral_id] == "expired"

        await eventually(expired, timeout=10)
    finally:
        await app.state.runtime.stop()
        await database.dispose()


def test_default_delay_is_thirty_days() -> None:
    settings = ReferralSettings(database_url="sqlite+aiosqlite:///:memory:")
    assert settings.expiry_delay == timedelta(days=30)
    assert ReferralSettings(
        database_url="sqlite+aiosqlite:///:memory:", expiry_after_seconds=5
    ).expiry_delay == timedelta(seconds=5)

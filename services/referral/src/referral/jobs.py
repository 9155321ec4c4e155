"""Periodic jobs of the referral service: expire unanswered referrals; purge the published outbox
rows and idempotency records past their retention."""

from __future__ import annotations

from referral.models import PLATFORM
from referral.settings import ReferralSettings
from referral.use_cases.expiry import expire_due_referrals
from shared.privacy.jobs import platform_retention_job
from shared.runtime import PeriodicJob, ServiceRuntime


def expiry_job(settings: ReferralSettings) -> PeriodicJob:
    """Expire unanswered referrals (issue 3: after 30 days by default, a setting)."""

    async def run(runtime: ServiceRuntime) -> None:
        while True:
            expired = await expire_due_referrals(
                runtime.database.sessionmaker,
                delay=settings.expiry_delay,
                batch_size=settings.expiry_batch_size,
            )
            if len(expired) < settings.expiry_batch_size:
                return

    return PeriodicJob(
        name="referral-expiry", interval_seconds=settings.expiry_job_interval_seconds, run=run
    )


def jobs(settings: ReferralSettings) -> list[PeriodicJob]:
    return [
        expiry_job(settings),
        platform_retention_job(settings, PLATFORM, name="referral-retention"),
    ]

"""Periodic jobs of the referral service: expire unanswered referrals, remind then close the
accepted or interview-scheduled ones without news, ask the placements' follow-ups (issue 12);
purge the published outbox rows and idempotency records past their retention; archive the
records inactive for 2 years (a notice to the owning structure, then anonymisation)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from referral.models import PLATFORM
from referral.settings import ReferralSettings
from referral.use_cases.archive import ArchiveInactive, archive_inactive
from referral.use_cases.expiry import expire_due_referrals, remind_or_close_stale_referrals
from referral.use_cases.placements import ask_due_follow_ups
from referral.use_cases.retention import PurgeAuditTexts, purge_audit_texts
from shared.db.database import Database
from shared.privacy.jobs import platform_retention_job
from shared.runtime import PeriodicJob, ServiceRuntime


def expiry_job(
    settings: ReferralSettings, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> PeriodicJob:
    """Expire unanswered referrals (issue 3: after 30 days by default, a setting); remind, then
    close as ``no_news``, the accepted or interview-scheduled ones without news; ask the
    placements' follow-ups due (issue 12). ``clock`` is the time the job takes for now."""
    remind_after, close_after = settings.stale_delays

    async def run(runtime: ServiceRuntime) -> None:
        batch = settings.expiry_batch_size
        # The background handle: on PostgreSQL the jobs never take HTTP's connections.
        sessions = runtime.database.background.sessionmaker
        while True:
            expired = await expire_due_referrals(
                sessions, delay=settings.expiry_delay, now=clock(), batch_size=batch
            )
            if len(expired) < batch:
                break
        while True:
            reminded, closed = await remind_or_close_stale_referrals(
                sessions,
                remind_after=remind_after,
                close_after=close_after,
                now=clock(),
                batch_size=batch,
            )
            if len(reminded) < batch and len(closed) < batch:
                break
        while True:
            asked = await ask_due_follow_ups(sessions, now=clock(), batch_size=batch)
            if len(asked) < batch:
                return

    return PeriodicJob(
        name="referral-expiry", interval_seconds=settings.expiry_job_interval_seconds, run=run
    )


def archive_job(
    settings: ReferralSettings, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> PeriodicJob:
    """Records inactive for ``archive_inactive_days``: notice, then anonymisation."""

    async def run(runtime: ServiceRuntime) -> None:
        async with runtime.database.background.transaction() as session:
            await archive_inactive(
                session,
                ArchiveInactive(
                    now=clock(),
                    inactive=timedelta(days=settings.archive_inactive_days),
                    notice=timedelta(days=settings.archive_notice_days),
                ),
            )

    return PeriodicJob(
        name="referral-archive", interval_seconds=settings.archive_job_interval_seconds, run=run
    )


def audit_retention_job(
    settings: ReferralSettings, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> PeriodicJob:
    """The refused answers' audit rows past their 90 days (``use_cases/retention.py``)."""

    async def run(runtime: ServiceRuntime) -> None:
        async with runtime.database.transaction() as session:
            await purge_audit_texts(session, PurgeAuditTexts(now=clock()))

    return PeriodicJob("referral-audit-retention", settings.retention_job_interval_seconds, run=run)


def indicator_facts_job(settings: ReferralSettings) -> PeriodicJob:
    """Fold the referrals' activity into the indicators' aggregates (issue 14, item 7)."""
    from referral.use_cases.indicator_facts import FoldMemory, fold

    rules = settings.indicator_rules
    memory = FoldMemory()  # this process's last fold, for the next one's overlap

    async def run(runtime: ServiceRuntime) -> None:
        # The background pool on PostgreSQL (as the relay): HTTP never queues behind a fold.
        await fold(runtime.database.background, rules, memory=memory)

    return PeriodicJob(
        name="referral-indicator-facts",
        interval_seconds=settings.indicator_facts_interval_seconds,
        run=run,
    )


def rebuild_facts_command(settings: ReferralSettings) -> None:
    """``python -m referral rebuild-facts``: the aggregates counted again from the rows."""
    import asyncio

    from referral.use_cases.indicator_facts import fold

    async def run() -> int:
        database = Database(settings.database_url)
        try:
            return await fold(database, settings.indicator_rules, rebuild=True)
        finally:
            await database.dispose()

    print(f"coop-referral : {asyncio.run(run())} signalements comptés dans les agrégats")


def jobs(settings: ReferralSettings) -> list[PeriodicJob]:
    return [
        expiry_job(settings),
        platform_retention_job(settings, PLATFORM, name="referral-retention"),
        archive_job(settings),
        audit_retention_job(settings),
        indicator_facts_job(settings),
    ]

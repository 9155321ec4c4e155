"""Periodic jobs of the dispositifs service: validated conventions whose first day has come are
marked in progress; conventions whose last day has come get the tutor's assessment link, then
reminders to assess (issue 13); the published outbox rows and idempotency records past their
retention are purged (issue 11)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from dispositifs.models import PLATFORM
from dispositifs.settings import DispositifsSettings
from dispositifs.use_cases.assessments import request_due_assessments
from dispositifs.use_cases.immersions import start_due_conventions
from shared.privacy.jobs import platform_retention_job
from shared.runtime import PeriodicJob, ServiceRuntime


def jobs(settings: DispositifsSettings) -> list[PeriodicJob]:
    return [
        PeriodicJob(
            "start-due-immersions",
            settings.pmsmp_start_job_interval_seconds,
            _start_due_immersions(settings),
        ),
        PeriodicJob(
            "request-immersion-assessments",
            settings.assessment_job_interval_seconds,
            _request_assessments(settings),
        ),
        platform_retention_job(settings, PLATFORM, name="dispositifs-retention"),
    ]


def _start_due_immersions(
    settings: DispositifsSettings,
) -> Callable[[ServiceRuntime], Awaitable[None]]:
    async def run(runtime: ServiceRuntime) -> None:
        async with runtime.database.transaction() as session:
            await start_due_conventions(session, settings)

    return run


def _request_assessments(
    settings: DispositifsSettings,
) -> Callable[[ServiceRuntime], Awaitable[None]]:
    async def run(runtime: ServiceRuntime) -> None:
        async with runtime.database.transaction() as session:
            await request_due_assessments(session, settings)

    return run

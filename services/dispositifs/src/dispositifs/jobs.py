"""Periodic jobs of the dispositifs service: validated conventions whose first day has come are
marked in progress; the published outbox rows and idempotency records past their retention are
purged."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from dispositifs.models import PLATFORM
from dispositifs.settings import DispositifsSettings
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
        platform_retention_job(settings, PLATFORM, name="dispositifs-retention"),
    ]


def _start_due_immersions(
    settings: DispositifsSettings,
) -> Callable[[ServiceRuntime], Awaitable[None]]:
    async def run(runtime: ServiceRuntime) -> None:
        async with runtime.database.transaction() as session:
            await start_due_conventions(session, settings)

    return run

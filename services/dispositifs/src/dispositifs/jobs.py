"""Periodic jobs of the dispositifs service: validated conventions whose first day has come are
marked in progress."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from dispositifs.settings import DispositifsSettings
from dispositifs.use_cases.immersions import start_due_conventions
from shared.runtime import PeriodicJob, ServiceRuntime


def jobs(settings: DispositifsSettings) -> list[PeriodicJob]:
    return [
        PeriodicJob(
            "start-due-immersions",
            settings.pmsmp_start_job_interval_seconds,
            _start_due_immersions(settings),
        )
    ]


def _start_due_immersions(
    settings: DispositifsSettings,
) -> Callable[[ServiceRuntime], Awaitable[None]]:
    async def run(runtime: ServiceRuntime) -> None:
        async with runtime.database.transaction() as session:
            await start_due_conventions(session, settings)

    return run

"""Dispositifs service: FastAPI app factory."""

from __future__ import annotations

from fastapi import FastAPI

from dispositifs.api import ROUTERS
from dispositifs.api.deps import install_domain_problems
from dispositifs.consumers import consumers
from dispositifs.models import PLATFORM
from dispositifs.settings import DispositifsSettings
from dispositifs.use_cases.immersions import start_due_conventions
from shared.contracts.topics import DISPOSITIFS_EVENTS
from shared.http.app import create_service_app
from shared.runtime import PeriodicJob, ServiceRuntime


def create_app(settings: DispositifsSettings | None = None) -> FastAPI:
    settings = settings or DispositifsSettings()
    runtime = ServiceRuntime(
        settings,
        tables=PLATFORM,
        produces=[DISPOSITIFS_EVENTS],
        consumers=consumers(settings),
        jobs=[
            PeriodicJob(
                "start-due-immersions",
                settings.pmsmp_start_job_interval_seconds,
                _start_due_immersions(settings),
            )
        ],
    )
    app = create_service_app(
        runtime,
        title="Dispositifs (PMSMP, MRS, POEI/POEC)",
        description=(
            "Immersions (PMSMP), recrutement par simulation (MRS) et préparation opérationnelle "
            "à l'emploi (POEI, POEC), avec les règles du Code du travail, et leurs indicateurs."
        ),
        version="0.2.0",
        routers=ROUTERS,
    )
    install_domain_problems(app)
    return app


def _start_due_immersions(settings: DispositifsSettings):  # type: ignore[no-untyped-def]
    async def run(runtime: ServiceRuntime) -> None:
        async with runtime.database.transaction() as session:
            await start_due_conventions(session, settings)

    return run

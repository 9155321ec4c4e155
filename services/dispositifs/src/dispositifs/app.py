"""Dispositifs service: FastAPI app factory."""

from __future__ import annotations

from fastapi import FastAPI

from dispositifs import api
from dispositifs.consumers import CONSUMERS
from dispositifs.models import PLATFORM
from dispositifs.settings import DispositifsSettings
from shared.contracts.topics import DISPOSITIFS_EVENTS
from shared.http.app import create_service_app
from shared.runtime import ServiceRuntime


def create_app(settings: DispositifsSettings | None = None) -> FastAPI:
    settings = settings or DispositifsSettings()
    runtime = ServiceRuntime(
        settings, tables=PLATFORM, produces=[DISPOSITIFS_EVENTS], consumers=CONSUMERS
    )
    return create_service_app(
        runtime,
        title="Dispositifs (PMSMP, MRS, POEI/POEC)",
        description=(
            "Immersions, recrutement par simulation et préparation opérationnelle à l'emploi."
        ),
        version="0.1.0",
        routers=[api.router],
    )

"""Dispositifs service: FastAPI app factory."""

from __future__ import annotations

from fastapi import FastAPI

from dispositifs.api import ROUTERS
from dispositifs.api.pages import LINK_CLIENT, LINK_TOKEN
from dispositifs.consumers import consumers
from dispositifs.jobs import jobs
from dispositifs.models import PLATFORM
from dispositifs.settings import DispositifsSettings
from dispositifs.use_cases.queries import may_still_see
from shared.contracts.topics import DISPOSITIFS_EVENTS
from shared.http.app import create_service_app
from shared.http.rate_limit import BucketPolicy, RateLimiter
from shared.runtime import ServiceRuntime


def create_app(settings: DispositifsSettings | None = None) -> FastAPI:
    settings = settings or DispositifsSettings()
    runtime = ServiceRuntime(
        settings,
        tables=PLATFORM,
        produces=[DISPOSITIFS_EVENTS],
        consumers=consumers(settings),
        jobs=jobs(settings),
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
    # An Idempotency-Key replay re-checks, through access.py, that the caller still sees it.
    app.state.replay_check = may_still_see
    # The parties' pages (no account): per client and per link (see ``api/pages.py``).
    app.state.link_rate_limiter = RateLimiter(
        {
            LINK_CLIENT: BucketPolicy(
                settings.link_pages_per_second_per_client, settings.link_pages_burst_per_client
            ),
            LINK_TOKEN: BucketPolicy(
                settings.link_pages_per_second_per_link, settings.link_pages_burst_per_link
            ),
        }
    )
    return app

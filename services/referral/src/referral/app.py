"""Referral service: FastAPI app factory."""

from __future__ import annotations

from fastapi import FastAPI

from referral.adapters.network_topics import all_network_topics
from referral.api import ROUTERS
from referral.consumers import consumers
from referral.jobs import jobs
from referral.models import PLATFORM
from referral.settings import ReferralSettings
from referral.use_cases.queries import may_still_see
from shared.contracts.topics import REFERRAL_EVENTS
from shared.http.app import create_service_app
from shared.runtime import ServiceRuntime


def create_app(settings: ReferralSettings | None = None) -> FastAPI:
    settings = settings or ReferralSettings()
    runtime = ServiceRuntime(
        settings,
        tables=PLATFORM,
        produces=[REFERRAL_EVENTS],
        consumers=consumers(settings),
        jobs=jobs(settings),
        dynamic_topics=lambda rt: all_network_topics(rt.database, rt.settings),
    )
    app = create_service_app(
        runtime,
        title="Orientations (referral service)",
        description=(
            "Orientations de demandeurs d'emploi par les conseillers France Travail vers les "
            "agences d'emploi, leur suivi et les indicateurs de la convention."
        ),
        version="0.2.0",
        routers=ROUTERS,
    )
    # An Idempotency-Key replay re-checks, through access.py, that the caller still sees it.
    app.state.replay_check = may_still_see
    return app

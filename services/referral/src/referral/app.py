"""Referral service: FastAPI app factory."""

from __future__ import annotations

from fastapi import FastAPI

from referral.api import ROUTERS
from referral.consumers import consumers
from referral.models import PLATFORM
from referral.networks import all_network_topics
from referral.settings import ReferralSettings
from referral.use_cases import expire_due_referrals
from shared.contracts.topics import REFERRAL_EVENTS
from shared.http.app import create_service_app
from shared.runtime import PeriodicJob, ServiceRuntime


def expiry_job(settings: ReferralSettings) -> PeriodicJob:
    """Expire unanswered referrals (issue 3: after 30 days by default, a setting)."""

    async def run(runtime: ServiceRuntime) -> None:
        while True:
            expired = await expire_due_referrals(
                runtime.database.sessionmaker,
                delay=settings.expiry_delay,
                source=settings.event_source,
                batch_size=settings.expiry_batch_size,
            )
            if len(expired) < settings.expiry_batch_size:
                return

    return PeriodicJob(
        name="referral-expiry", interval_seconds=settings.expiry_job_interval_seconds, run=run
    )


def create_app(settings: ReferralSettings | None = None) -> FastAPI:
    settings = settings or ReferralSettings()
    runtime = ServiceRuntime(
        settings,
        tables=PLATFORM,
        produces=[REFERRAL_EVENTS],
        consumers=consumers(settings.event_source),
        jobs=[expiry_job(settings)],
        dynamic_topics=lambda rt: all_network_topics(rt.database),
    )
    return create_service_app(
        runtime,
        title="Orientations (referral service)",
        description=(
            "Orientations de demandeurs d'emploi par les conseillers France Travail vers les "
            "agences d'emploi, leur suivi et les indicateurs de la convention."
        ),
        version="0.2.0",
        routers=ROUTERS,
    )

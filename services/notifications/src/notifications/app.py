"""Notifications service: FastAPI app factory.

The runtime runs the consumers (events → messages and deliveries), the outbox relay (delivery
outcome events) and two periodic jobs: the delivery worker and the reminders.
"""

from __future__ import annotations

from fastapi import FastAPI

from notifications.api import ROUTERS
from notifications.consumers import consumers
from notifications.domain import catalog
from notifications.jobs import DeliveryWorker, Reminders, retention_job
from notifications.models import PLATFORM
from notifications.settings import NotificationsSettings
from notifications.use_cases import deliveries
from shared.contracts.topics import NOTIFICATIONS_EVENTS
from shared.http.app import create_service_app
from shared.runtime import BacklogProbe, PeriodicJob, ServiceRuntime


async def count_pending_deliveries(runtime: ServiceRuntime) -> float:
    """The deliveries waiting to be sent (``pending``, due or retrying later): the
    ``deliveries`` backlog probe of ``/health/ready`` (read path: never waits for a writer)."""
    async with runtime.database.reading() as session:
        return float(await deliveries.pending_count(session))


def deliveries_backlog(settings: NotificationsSettings) -> BacklogProbe:
    """Pending deliveries beyond ``NOTIFICATIONS_READINESS_DELIVERIES_PENDING_DEGRADED``: the
    instance is "degraded" (still ready) — mails and webhooks are late."""
    return BacklogProbe(
        "deliveries",
        count_pending_deliveries,
        degraded_above=settings.readiness_deliveries_pending_degraded,
    )


def create_app(settings: NotificationsSettings | None = None) -> FastAPI:
    settings = settings or NotificationsSettings()
    catalog.check()  # a broken rule or template stops the service here, not in a mail
    worker = DeliveryWorker(settings)
    reminders = Reminders(settings)

    # The jobs work on the background handle (on PostgreSQL its own pool: never HTTP's).
    async def deliver(runtime: ServiceRuntime) -> None:
        await worker.run_once(runtime.database.background)

    async def remind(runtime: ServiceRuntime) -> None:
        await reminders.run(runtime.database.background)

    runtime = ServiceRuntime(
        settings,
        tables=PLATFORM,
        produces=[NOTIFICATIONS_EVENTS],
        consumers=consumers(settings.counsellor_referral_url),
        jobs=[
            # Claimed per row with SKIP LOCKED: every replica sends its share, no lease.
            PeriodicJob("deliveries", settings.delivery_poll_interval_seconds, deliver, False),
            PeriodicJob("reminders", settings.reminders_interval_seconds, remind),
            retention_job(settings),
        ],
        backlogs=[deliveries_backlog(settings)],
    )
    app = create_service_app(
        runtime,
        title="Notifications",
        description="Messages aux conseillers, agences, tuteurs et demandeurs d'emploi : "
        "routage, envois (courriel, webhook, boîte de réception), préférences, rappels.",
        version="0.2.0",
        routers=ROUTERS,
    )
    app.state.delivery_worker = worker
    app.state.reminders = reminders
    return app

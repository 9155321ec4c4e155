"""The periodic job every service runs for the retention of its platform tables (issue 11):
:func:`shared.privacy.retention.purge_platform_tables` with the service's settings."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import structlog

from shared.db.tables import PlatformTables
from shared.privacy.retention import RetentionPolicy, purge_platform_tables
from shared.runtime import PeriodicJob, ServiceRuntime
from shared.settings import ServiceSettings

log = structlog.get_logger(__name__)


def retention_policy(settings: ServiceSettings) -> RetentionPolicy:
    return RetentionPolicy(
        published_outbox=timedelta(days=settings.retention_published_outbox_days),
        idempotency=timedelta(hours=settings.retention_idempotency_hours),
    )


def platform_retention_job(
    settings: ServiceSettings,
    tables: PlatformTables,
    *,
    name: str,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> PeriodicJob:
    policy = retention_policy(settings)

    async def run(runtime: ServiceRuntime) -> None:
        async with runtime.database.transaction() as session:
            report = await purge_platform_tables(session, tables, now=clock(), policy=policy)
        if report.outbox_rows or report.idempotency_records:
            log.info(
                "retention purge",
                outbox_rows=report.outbox_rows,
                idempotency_records=report.idempotency_records,
            )

    return PeriodicJob(name=name, interval_seconds=settings.retention_job_interval_seconds, run=run)

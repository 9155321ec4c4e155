"""Notifications service: FastAPI app factory."""

from __future__ import annotations

from fastapi import FastAPI

from notifications import api
from notifications.consumers import CONSUMERS
from notifications.models import PLATFORM
from notifications.settings import NotificationsSettings
from shared.contracts.topics import NOTIFICATIONS_EVENTS
from shared.http.app import create_service_app
from shared.runtime import ServiceRuntime


def create_app(settings: NotificationsSettings | None = None) -> FastAPI:
    settings = settings or NotificationsSettings()
    runtime = ServiceRuntime(
        settings, tables=PLATFORM, produces=[NOTIFICATIONS_EVENTS], consumers=CONSUMERS
    )
    return create_service_app(
        runtime,
        title="Notifications",
        description="Messages aux conseillers, agences, tuteurs et demandeurs d'emploi.",
        version="0.1.0",
        routers=[api.router],
    )

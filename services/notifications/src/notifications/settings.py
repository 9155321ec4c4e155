"""Notifications service settings: environment variables prefixed ``NOTIFICATIONS_``."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class NotificationsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFICATIONS_", extra="ignore")

    service_name: str = "notifications"
    database_url: str = "sqlite+aiosqlite:///.data/notifications.db"
    event_source: str = "/coop/notifications"

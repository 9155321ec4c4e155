"""Dispositifs service settings: environment variables prefixed ``DISPOSITIFS_``."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class DispositifsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DISPOSITIFS_", extra="ignore")

    service_name: str = "dispositifs"
    database_url: str = "sqlite+aiosqlite:///.data/dispositifs.db"
    event_source: str = "/coop/dispositifs"

"""Referral service settings: environment variables prefixed ``REFERRAL_``."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class ReferralSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REFERRAL_", extra="ignore")

    service_name: str = "referral"
    database_url: str = "sqlite+aiosqlite:///.data/referral.db"
    #: CloudEvents ``source`` of the events this service produces.
    event_source: str = "/coop/referral"

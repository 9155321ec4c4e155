"""Settings common to every service; each service subclasses with its own env prefix.

A service reads only its own variables (``REFERRAL_DATABASE_URL``, ``NOTIFICATIONS_DATABASE_URL``…),
so two services never share a store by accident.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Known to everyone, hence refused in production (see ``_no_shared_secret_in_production``).
DEVELOPMENT_JWT_SECRET = "coop-dev-secret-not-for-production-0123456789"  # noqa: S105


class ServiceSettings(BaseSettings):
    """Values every service needs. Subclasses set ``model_config`` with their ``env_prefix``."""

    model_config = SettingsConfigDict(extra="ignore")

    service_name: str = "service"
    #: Anything but these three is refused, so that a typo cannot pass for "not production".
    environment: Literal["development", "test", "production"] = "development"

    database_url: str = Field(
        description="SQLAlchemy async URL: sqlite+aiosqlite:///… or postgresql+asyncpg://…"
    )
    database_echo: bool = False

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_topic_partitions: int = 3
    #: How often clients refresh metadata: bounds how long a new network's topic goes unnoticed.
    kafka_metadata_max_age_ms: int = 30_000
    kafka_topic_replication_factor: int = 1
    #: When false, the service neither provisions topics nor starts consumers and relay: HTTP only.
    kafka_enabled: bool = True

    #: Periodic jobs (expiry, reminders); off in tests that call the jobs directly.
    jobs_enabled: bool = True

    outbox_poll_interval_seconds: float = 1.0
    outbox_batch_size: int = 200
    consumer_max_attempts: int = Field(
        default=6, description="Attempts for an unexpected handler error before dead-lettering."
    )
    consumer_retry_base_seconds: float = 0.2
    consumer_retry_max_seconds: float = 10.0

    jwt_algorithm: str = Field(
        default="HS256", description="HS256 (development) or RS256 (production)"
    )
    jwt_secret: SecretStr | None = Field(
        default=SecretStr(DEVELOPMENT_JWT_SECRET),
        description="HS256 shared secret; development and tests only.",
    )
    jwt_public_key: str | None = Field(default=None, description="RS256 public key, PEM.")
    jwt_issuer: str = "coop-platform-dev"
    jwt_audience: str = "coop-platform"

    log_level: str = "INFO"
    log_json: bool = True

    # Retention of the platform tables (issue 11, docs/personal-data.md).
    retention_published_outbox_days: float = Field(default=7, gt=0)
    retention_idempotency_hours: float = Field(default=24, gt=0)
    retention_job_interval_seconds: float = Field(default=3600, gt=0)
    #: Indicator cells under this count are shown as secret (issue 11; 1 shows every cell).
    statistical_secrecy_threshold: int = Field(default=5, ge=1)

    @model_validator(mode="after")
    def _no_shared_secret_in_production(self) -> ServiceSettings:
        if self.environment == "production":
            if self.jwt_algorithm != "RS256" or not self.jwt_public_key:
                raise ValueError("production requires jwt_algorithm=RS256 and jwt_public_key")
        elif self.jwt_algorithm == "HS256" and not self.jwt_secret:
            raise ValueError("HS256 needs jwt_secret")
        return self

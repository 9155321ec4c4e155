"""Settings common to every service; each service subclasses with its own env prefix.

A service reads only its own variables (``REFERRAL_DATABASE_URL``, ``NOTIFICATIONS_DATABASE_URL``…),
so two services never share a store by accident.

Tokens fail closed: a service is in production unless its settings say otherwise
(``<PREFIX>ENVIRONMENT``); the development HS256 secret, which is in the repository, is accepted
only with an explicit ``<PREFIX>ENVIRONMENT=development``, and production requires RS256.
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
    #: Anything but these three is refused, so that a typo cannot pass for "not production". The
    #: default is production: development (and its well-known secret) must be asked for explicitly.
    environment: Literal["development", "test", "production"] = "production"

    database_url: str = Field(
        description="SQLAlchemy async URL: sqlite+aiosqlite:///… or postgresql+asyncpg://…"
    )
    database_echo: bool = False

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    #: CA bundle (PEM) that signed the brokers' certificates, for SSL and SASL_SSL.
    kafka_ssl_cafile: str | None = None
    kafka_ssl_check_hostname: bool = True
    #: The principal that may create SCRAM users and ACLs (ALTER on the cluster): referral uses
    #: it to give each network it onboards its own credentials; unset, that is left to ops.
    kafka_provisioning_username: str | None = None
    kafka_provisioning_password: SecretStr | None = None
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
        default=None,
        description="HS256 shared secret (at least 32 characters); outside development only. "
        "In development, unset means the development secret.",
    )
    jwt_public_key: str | None = Field(default=None, description="RS256 public key, PEM.")
    jwt_public_keys: str | None = Field(
        default=None,
        description="RS256 public keys by key id, for rotation: a JWKS document "
        '(``{"keys": [{"kid": …, "kty": "RSA", "n": …, "e": …}]}``) or a JSON object '
        "kid → PEM. A token naming a ``kid`` is verified with that key only.",
    )
    jwt_issuer: str = "coop-platform-dev"
    jwt_audience: str = "coop-platform"
    jwt_max_lifetime_seconds: int = Field(
        default=12 * 3600,
        gt=0,
        description="Longest accepted token lifetime (exp - iat, and exp - now), in seconds.",
    )

    #: Largest request body a route accepts unless it declares its own ``max_body_size``.
    http_max_body_bytes: int = Field(default=1024 * 1024, gt=0)

    #: Per-caller token buckets (``shared.http.rate_limit``); a rate of 0 turns a limit off.
    rate_limit_writes_per_second: float = Field(default=20.0, ge=0)
    rate_limit_write_burst: int = Field(default=120, ge=1)
    rate_limit_probes_per_second: float = Field(default=1.0, ge=0)
    rate_limit_probe_burst: int = Field(default=30, ge=1)

    #: OpenTelemetry traces (shared.observability.tracing): none (off), otlp or console.
    tracing_exporter: Literal["none", "otlp", "console"] = "none"
    #: OTLP/HTTP traces endpoint, e.g. http://otel-collector:4318/v1/traces.
    tracing_otlp_endpoint: str | None = None
    tracing_sample_ratio: float = Field(default=1.0, ge=0, le=1)

    log_level: str = "INFO"
    log_json: bool = True

    # -- capacity and lag (issue 14) ---------------------------------------------------------------
    #: PostgreSQL pool of the HTTP requests (per worker process); SQLite ignores it.
    database_pool_size: int = 10
    database_max_overflow: int = 10
    #: PostgreSQL pool of the outbox relay and the consumers, apart from HTTP's.
    database_background_pool_size: int = 4
    #: ``/health/ready`` says "degraded" (still 200) beyond these: the oldest unpublished outbox
    #: row's age, and a consumer group's records not yet consumed.
    readiness_outbox_age_degraded_seconds: float = 60.0
    readiness_consumer_lag_degraded: int = 1000
    #: After start-up, the objects alive then (modules, referentials, the app) are moved out of
    #: the garbage collector's sight (``gc.freeze``): its full collections no longer walk them.
    #: On in a served process (``serve`` sets ``<PREFIX>GC_FREEZE=true`` unless it is set); off
    #: by default, for a process that starts many apps (a test run would pay a full collection of
    #: its whole heap at each start, and keep for ever what each one froze).
    gc_freeze: bool = False
    #: The event loop's watchdog (``shared.observability.loop_watch``): a stall of the loop this
    #: long or longer is logged (``event loop stalled``) with where the loop was; 0: not logged
    #: (the lag is still measured, ``coop_event_loop_lag_seconds``).
    loop_stall_log_seconds: float = Field(default=0.25, ge=0)

    # Retention of the platform tables (issue 11, docs/personal-data.md).
    retention_published_outbox_days: float = Field(default=7, gt=0)
    retention_idempotency_hours: float = Field(default=24, gt=0)
    retention_job_interval_seconds: float = Field(default=3600, gt=0)
    #: Indicator cells under this count are shown as secret (issue 11; 1 shows every cell).
    statistical_secrecy_threshold: int = Field(default=5, ge=1)

    @model_validator(mode="after")
    def _tokens_fail_closed(self) -> ServiceSettings:
        # Messages for operators, who read the start-up error; they name the variables to set.
        prefix = str(self.model_config.get("env_prefix", "")).upper()
        if self.jwt_algorithm not in ("HS256", "RS256"):
            raise ValueError(
                f"{prefix}JWT_ALGORITHM={self.jwt_algorithm!r} : seuls HS256 et RS256 sont pris en "
                "charge / only HS256 and RS256 are supported"
            )
        if self.environment == "development":
            if self.jwt_algorithm == "HS256" and self.jwt_secret is None:
                self.jwt_secret = SecretStr(DEVELOPMENT_JWT_SECRET)
        elif self.environment == "production" and (
            self.jwt_algorithm != "RS256" or not (self.jwt_public_key or self.jwt_public_keys)
        ):
            raise ValueError(
                f"production requires {prefix}JWT_ALGORITHM=RS256 and {prefix}JWT_PUBLIC_KEY "
                f"(la production exige RS256 et la clé publique) ; pour un poste de "
                f"développement, {prefix}ENVIRONMENT=development"
            )
        if self.jwt_algorithm == "RS256":
            if not (self.jwt_public_key or self.jwt_public_keys):
                raise ValueError(f"RS256 needs {prefix}JWT_PUBLIC_KEY (clé publique PEM requise)")
            return self
        secret = self.jwt_secret.get_secret_value() if self.jwt_secret else ""
        if self.environment != "development":
            if not secret or secret == DEVELOPMENT_JWT_SECRET:
                raise ValueError(
                    "the development JWT secret is refused unless "
                    f"{prefix}ENVIRONMENT=development; set {prefix}JWT_SECRET "
                    "(le secret de développement n'est accepté qu'avec "
                    f"{prefix}ENVIRONMENT=development)"
                )
            if len(secret) < 32:
                raise ValueError(
                    f"{prefix}JWT_SECRET must be at least 32 characters "
                    "(secret HS256 trop court : 32 caractères au moins)"
                )
        return self

"""Notifications service settings: environment variables prefixed ``NOTIFICATIONS_``."""

from __future__ import annotations

import ipaddress

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class NotificationsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFICATIONS_", extra="ignore")

    service_name: str = "notifications"
    database_url: str = "sqlite+aiosqlite:///.data/notifications.db"

    # -- email (SMTP) --------------------------------------------------------------------------
    #: Defaults point at the local mailbox ``make up`` starts (aiosmtpd on 127.0.0.1:1025).
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_starttls: bool = Field(
        default=False, description="Upgrade the connection with STARTTLS (production: true)."
    )
    smtp_ssl: bool = Field(default=False, description="Implicit TLS (port 465) instead.")
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout_seconds: float = 10.0
    #: CA bundle to verify the SMTP server's certificate (default: the system's).
    smtp_ca_file: str | None = None
    mail_from: str = "Coopération France Travail – Prism'emploi <notifications@coop-emploi.example>"
    #: Domain of the Message-ID header (``<delivery-id@domain>``), which receivers may dedupe on.
    mail_message_id_domain: str = "notifications.coop-emploi.example"

    # -- wording --------------------------------------------------------------------------------
    #: The counsellor tool's page of a referral, linked from the mails (``{referral_id}`` is
    #: replaced), e.g. ``https://outil-conseiller.example/orientations/{referral_id}``; none:
    #: no link.
    counsellor_referral_url: str | None = None

    # -- webhooks ------------------------------------------------------------------------------
    webhook_timeout_seconds: float = 10.0
    #: Receivers refuse a signature older than this (documented in docs/notifications.md).
    webhook_signature_tolerance_seconds: int = 300
    #: Networks (CIDR) a webhook target may be in although not public, e.g. an ERP reached over
    #: a private link ("10.20.0.0/16"). Cloud metadata addresses stay refused.
    #: (``notifications.adapters.webhook_targets``; https is required outside development.)
    webhook_allowed_networks: list[str] = Field(default_factory=list)

    # -- delivery worker -----------------------------------------------------------------------
    delivery_poll_interval_seconds: float = 1.0
    delivery_batch_size: int = 50
    delivery_concurrency: int = 8
    delivery_max_attempts: int = 8
    delivery_backoff_base_seconds: float = 30.0
    delivery_backoff_max_seconds: float = 3600.0
    #: A claimed delivery whose worker died is picked again after this long. A send taking more
    #: than half of it is abandoned and retried (so a lease never expires under a live send).
    delivery_lease_seconds: float = 30.0
    #: Beyond this many pending deliveries, ``/health/ready`` says "degraded" (still 200): mails
    #: and webhooks are late (``coop_backlog{name="deliveries"}`` is the figure).
    readiness_deliveries_pending_degraded: int = Field(default=1000, ge=0)

    # -- reminders -----------------------------------------------------------------------------
    reminders_interval_seconds: float = 3600.0
    #: Business days before an immersion's start when the tutor is reminded (immersion-facile
    #: reminds signatories 2 business days before, see DOMAIN.md).
    immersion_reminder_business_days: int = 2
    #: Calendar days without an answer after which the agency is reminded of a referral.
    referral_reminder_after_days: int = 7
    #: French subdivision whose extra public holidays count (e.g. "57" for Alsace-Moselle);
    #: none: national holidays only.
    holidays_subdivision: str | None = None
    timezone: str = "Europe/Paris"

    @field_validator("webhook_allowed_networks")
    @classmethod
    def _networks(cls, networks: list[str]) -> list[str]:
        for network in networks:
            ipaddress.ip_network(network, strict=False)  # ValueError names the bad one
        return networks

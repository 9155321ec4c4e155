"""Referral service settings: environment variables prefixed ``REFERRAL_``.

Rules that DOMAIN.md marks UNVERIFIED or that statistics define differently are settings here.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from referral.domain.indicators import Rules
from referral.domain.publics import PublicsRules
from shared.settings import ServiceSettings

#: France Travail's OAuth2 token endpoint for partner applications (a URL, not a secret).
FT_TOKEN_URL = (
    "https://entreprise.francetravail.fr/connexion/oauth2/access_token?realm=%2Fpartenaire"  # noqa: S105
)


class ReferralSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REFERRAL_", extra="ignore")

    service_name: str = "referral"
    database_url: str = "sqlite+aiosqlite:///.data/referral.db"

    # -- expiry (issue 3: default 30 days; les emplois de l'inclusion uses 60) ---------------
    expiry_after_days: float = Field(
        default=30, gt=0, description="Days after sending before an unanswered referral expires."
    )
    expiry_after_seconds: float | None = Field(
        default=None,
        gt=0,
        description="Overrides expiry_after_days when set (tests, demonstrations).",
    )
    expiry_job_interval_seconds: float = Field(default=3600, gt=0)
    expiry_batch_size: int = Field(default=200, gt=0)

    # -- the lifecycle after the first answer (issue 12) ----------------------------------------
    #: A declined referral may be re-opened by its agency this many days after the decline.
    reopen_decline_days: float = Field(default=30, gt=0)
    #: Accepted or interview scheduled without news this long: a reminder to the agency…
    stale_after_days: float = Field(default=30, gt=0)
    #: … then, still without news this long after the reminder, closed as ``no_news``.
    stale_close_after_days: float = Field(default=15, gt=0)
    #: Overrides both (seconds) when set (tests, demonstrations).
    stale_after_seconds: float | None = Field(default=None, gt=0)
    stale_close_after_seconds: float | None = Field(default=None, gt=0)

    # -- priority publics and indicators -------------------------------------------------------
    #: "Seniors": 50 or over in France Travail statistics, 55+ for the POEI 600 h rule (DOMAIN.md).
    senior_age: int = Field(default=50, ge=40, le=70)
    #: "Jeunes": under 26 (France Travail, missions locales: DOMAIN.md) …
    jeune_age_limit: int = Field(default=26, ge=16, le=35)
    #: … up to 29 with a RQTH (the CEJ's extension: DOMAIN.md): under this age.
    jeune_rqth_age_limit: int = Field(default=30, ge=16, le=35)
    #: DELD: registered with France Travail for this many months or more (DOMAIN.md).
    deld_months: int = Field(default=12, ge=1)
    #: A contract of this many months or more is a durable placement (DOMAIN.md: a setting).
    durable_contract_months: int = Field(default=6, ge=1)
    #: "Acknowledged within 48 h" (issue 3, indicators).
    acknowledgement_hours: float = Field(default=48, gt=0)
    #: An agency answer whose occurred_at is further than this from the broker's timestamp of
    #: its record is refused (issue 10: an answer dated 2001 once made a median negative).
    agency_max_clock_skew_seconds: float = Field(default=24 * 3600, gt=0)

    # -- agency suggestion ---------------------------------------------------------------------
    suggestion_weight_specialisation: float = 0.4
    suggestion_weight_proximity: float = 0.3
    suggestion_weight_acceptance: float = 0.15
    suggestion_weight_placement: float = 0.15
    #: Beta prior of the past-results rates, in pseudo-referrals: a new agency starts at the
    #: prior mean instead of 0 and is not buried under agencies with a few lucky results.
    suggestion_prior_strength: float = Field(default=5, ge=0)
    suggestion_prior_acceptance: float = Field(default=0.5, ge=0, le=1)
    suggestion_prior_placement: float = Field(default=0.3, ge=0, le=1)
    #: Proximity by distance: 1 at the origin, 0 from this many kilometres (issue 16, item 6).
    suggestion_radius_km: float = Field(default=100.0, gt=0)

    # -- France Travail's Offres d'emploi v2 API (issue 16, item 5; adapters/ft_offres.py) -----
    ft_offres_base_url: str = "https://api.francetravail.io/partenaire/offresdemploi/v2"
    ft_offres_token_url: str = FT_TOKEN_URL
    ft_offres_client_id: str | None = None
    ft_offres_client_secret: str | None = None

    # -- archive of inactive records (issue 11; les emplois de l'inclusion: 2 years) -----------
    archive_inactive_days: float = Field(default=730, gt=0)
    #: Between the notice to the owning structure and the anonymisation.
    archive_notice_days: float = Field(default=30, gt=0)
    archive_job_interval_seconds: float = Field(default=86400, gt=0)
    #: How often the indicators' aggregates fold the referrals' activity (issue 14, item 7).
    indicator_facts_interval_seconds: float = Field(default=30, gt=0)

    # -- the job seeker's own page (issue 11, item 7) ----------------------------------------------
    #: Signs the links to the job seeker's page; the JWT secret when unset (development).
    job_seeker_link_secret: str | None = None
    job_seeker_link_days: float = Field(default=30, gt=0)

    # -- the steering dashboard (issue 16, item 3) -------------------------------------------------
    #: How long a dashboard link (and the session cookie it opens) stays valid.
    steering_link_hours: float = Field(default=12, gt=0, le=24 * 7)
    #: ``seed`` also adds demo referrals, answers and scheme events (``make up`` sets it).
    demo_steering_activity: bool = False

    @property
    def link_secret(self) -> str:
        jwt_secret = self.jwt_secret
        if jwt_secret is not None and not isinstance(jwt_secret, str):
            jwt_secret = jwt_secret.get_secret_value()
        secret = self.job_seeker_link_secret or jwt_secret
        if not secret:
            raise ValueError("REFERRAL_JOB_SEEKER_LINK_SECRET is required")
        return secret

    @property
    def indicator_rules(self) -> Rules:
        """The rules the indicators are counted with (and their aggregates folded)."""
        return Rules(
            acknowledgement_hours=self.acknowledgement_hours,
            durable_contract_months=self.durable_contract_months,
        )

    @property
    def publics_rules(self) -> PublicsRules:
        """The derived priority publics' thresholds (issue 12, item 9), for every reader."""
        return PublicsRules(
            senior_age=self.senior_age,
            jeune_age_limit=self.jeune_age_limit,
            jeune_rqth_age_limit=self.jeune_rqth_age_limit,
            deld_months=self.deld_months,
        )

    @property
    def expiry_delay(self) -> timedelta:
        if self.expiry_after_seconds is not None:
            return timedelta(seconds=self.expiry_after_seconds)
        return timedelta(days=self.expiry_after_days)

    @property
    def stale_delays(self) -> tuple[timedelta, timedelta]:
        """(no news before the reminder, no news after it before closing)."""
        remind = (
            timedelta(seconds=self.stale_after_seconds)
            if self.stale_after_seconds is not None
            else timedelta(days=self.stale_after_days)
        )
        close = (
            timedelta(seconds=self.stale_close_after_seconds)
            if self.stale_close_after_seconds is not None
            else timedelta(days=self.stale_close_after_days)
        )
        return remind, close

"""Dispositifs service settings: environment variables prefixed ``DISPOSITIFS_``.

The limits of the legal rules are settings too (DOMAIN.md: texts change, and some limits are the
national tool's, not the law's). Each names the rule it feeds.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from dispositifs.domain.immersion import (
    DEFAULT_ALLOWED_PRESCRIBERS,
    ImmersionLimits,
    PrescriberKind,
)
from dispositifs.domain.training import TargetedPublic, TrainingLimits
from dispositifs.domain.working_time import WorkingTimeLimits
from shared.settings import ServiceSettings

DEVELOPMENT_SIGNING_LINK_KEY = "coop-dev-signing-links-not-for-production"


class DispositifsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DISPOSITIFS_", extra="ignore")

    service_name: str = "dispositifs"
    database_url: str = "sqlite+aiosqlite:///.data/dispositifs.db"

    # PMSMP (Code du travail L5135-1 ff., D5135-1 ff.)
    pmsmp_month_date_to_date: bool = Field(
        default=True, description="D5135-3: at most 1 month date to date."
    )
    pmsmp_max_calendar_days: int | None = Field(
        default=30, description="National tool's cap in calendar days (None: month rule only)."
    )
    pmsmp_max_weekly_hours: float = Field(
        default=48, description="L3121-20: 48 h a week (18 or more; the host's rules apply)."
    )
    pmsmp_max_daily_hours: float = Field(
        default=10, description="L3121-18: 10 h a day (18 or more)."
    )
    pmsmp_young_max_daily_hours: float = Field(
        default=8, description="L3162-1: young workers, 8 h a day."
    )
    pmsmp_young_max_weekly_hours: float = Field(
        default=35, description="L3162-1: young workers, 35 h a week."
    )
    pmsmp_adult_age: int = Field(default=18, description="Below it, the young workers' caps.")
    pmsmp_min_age: int = Field(default=16, description="National tool: 16 or more.")
    pmsmp_max_conventions_per_pair: int = Field(
        default=2, description="D5135-3: same beneficiary and host, per rolling window."
    )
    pmsmp_pair_window_months: int = 12
    pmsmp_max_days_per_pair: int = Field(default=60, description="D5135-3: together at most.")
    pmsmp_allowed_prescribers: list[PrescriberKind] = Field(
        default_factory=lambda: sorted(DEFAULT_ALLOWED_PRESCRIBERS),
        description="L5135-2 (agences d'emploi: UNVERIFIED, not prescribers by default).",
    )
    #: How often validated conventions whose start date has come are marked in progress.
    pmsmp_start_job_interval_seconds: float = 600

    # Signing links (issue 13): each party signs through its own link, no account needed.
    signing_link_key: SecretStr = Field(
        default=SecretStr(DEVELOPMENT_SIGNING_LINK_KEY),
        description="HMAC-SHA256 key of the parties' links (development default refused in "
        "production).",
    )
    signing_link_days: int = Field(default=14, ge=1, description="A signing link expires after.")
    #: The parties' pages answer without an account: token buckets per client (address) and per
    #: link bound how fast they may be tried (a 429 page beyond; a rate of 0 turns one off).
    link_pages_per_second_per_client: float = Field(default=1.0, ge=0)
    link_pages_burst_per_client: int = Field(default=30, ge=1)
    link_pages_per_second_per_link: float = Field(default=0.5, ge=0)
    link_pages_burst_per_link: int = Field(default=20, ge=1)
    assessment_link_days: int = Field(default=30, ge=1, description="The tutor's link expires.")
    #: Where the parties open their links (the service's public address).
    public_base_url: str = "http://127.0.0.1:8002"
    #: Two-step review (any counsellor pre-validates, a validator — a counsellor whose token
    #: carries ``pmsmp_validator`` — other than the pre-validator decides) for these structures,
    #: by their key in the store (``organisation_key``; "*": every structure).
    pmsmp_two_step_review_structures: list[str] = Field(default_factory=list)
    #: Reminders to assess: every this many days after the request, at most this many.
    assessment_reminder_days: int = 3
    assessment_max_reminders: int = 2
    assessment_job_interval_seconds: float = 3600

    # POEI (L6326-1, D6326-1) and POEC (L6326-3)
    poei_max_hours_full_tutoring: int = 300
    poei_max_hours_seasonal: int = 300
    poei_max_hours_training_body: int = 450
    poei_max_hours_targeted_public: int = 600
    poei_senior_age: int = 55
    poei_min_months_fixed_term: int = 6
    poei_min_months_seasonal_or_mission: int = 4
    poei_min_months_missions_total: int = 6
    poei_missions_window_months: int = 9
    poec_max_hours: int = 400
    poec_company_share_denominator: int = 3
    poec_temporary_work_opco: str = "AKTO"
    poec_min_months_fixed_term: int = Field(
        default=12, description="L6326-3: CDD / professionnalisation after a POEC, in months."
    )
    poec_missions_follow_up_days: int = Field(
        default=90,
        ge=1,
        description="L6326-3: in temporary work the trainee is given missions after the POEC; no "
        "text sets a delay: a completed POEC with no mission after this many days is flagged.",
    )
    poei_targeted_publics: list[TargetedPublic] = Field(
        default_factory=lambda: [TargetedPublic.BRSA, TargetedPublic.SENIOR],
        description="France Travail's rule (règles de prise en charge de la POEI, not D6326-1): "
        "publics with the POEI's 600 h cap, BRSA and seniors; a public listed here counts when "
        "the counsellor declares it or when the referral's priority publics (referral.sent) "
        "include it (jeune, deld, qpv may be added).",
    )

    # MRS
    mrs_habiletes_file: Path | None = Field(
        default=None, description="CSV (code,libelle) replacing the shipped referential."
    )
    mrs_positive_min_share: float = Field(
        default=1.0, ge=0, le=1, description="Share of habiletés acquired for a positive result."
    )

    @model_validator(mode="after")
    def _own_link_key_in_production(self) -> DispositifsSettings:
        key = self.signing_link_key.get_secret_value()
        if self.environment == "production" and key == DEVELOPMENT_SIGNING_LINK_KEY:
            raise ValueError("production requires its own DISPOSITIFS_SIGNING_LINK_KEY")
        return self

    def two_step_review(self, structure_code: str | None) -> bool:
        wanted = self.pmsmp_two_step_review_structures
        return "*" in wanted or (structure_code is not None and structure_code in wanted)

    def immersion_limits(self) -> ImmersionLimits:
        return ImmersionLimits(
            month_date_to_date=self.pmsmp_month_date_to_date,
            max_calendar_days=self.pmsmp_max_calendar_days,
            max_weekly_hours=self.pmsmp_max_weekly_hours,
            min_age=self.pmsmp_min_age,
            max_conventions_per_pair=self.pmsmp_max_conventions_per_pair,
            pair_window_months=self.pmsmp_pair_window_months,
            max_days_per_pair=self.pmsmp_max_days_per_pair,
            allowed_prescribers=frozenset(self.pmsmp_allowed_prescribers),
            working_time=WorkingTimeLimits(
                adult_age=self.pmsmp_adult_age,
                young_max_daily_hours=self.pmsmp_young_max_daily_hours,
                young_max_weekly_hours=self.pmsmp_young_max_weekly_hours,
                adult_max_daily_hours=self.pmsmp_max_daily_hours,
                adult_max_weekly_hours=self.pmsmp_max_weekly_hours,
            ),
        )

    def training_limits(self) -> TrainingLimits:
        return TrainingLimits(
            poei_max_hours_full_tutoring=self.poei_max_hours_full_tutoring,
            poei_max_hours_seasonal=self.poei_max_hours_seasonal,
            poei_max_hours_training_body=self.poei_max_hours_training_body,
            poei_max_hours_targeted_public=self.poei_max_hours_targeted_public,
            senior_age=self.poei_senior_age,
            poei_min_months_fixed_term=self.poei_min_months_fixed_term,
            poei_min_months_seasonal_or_mission=self.poei_min_months_seasonal_or_mission,
            poei_min_months_missions_total=self.poei_min_months_missions_total,
            poei_missions_window_months=self.poei_missions_window_months,
            poec_max_hours=self.poec_max_hours,
            poec_company_share_denominator=self.poec_company_share_denominator,
            poec_temporary_work_opco=self.poec_temporary_work_opco,
            poec_min_months_fixed_term=self.poec_min_months_fixed_term,
            poei_targeted_publics=frozenset(self.poei_targeted_publics),
            poec_missions_follow_up_days=self.poec_missions_follow_up_days,
        )

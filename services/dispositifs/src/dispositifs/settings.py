"""Dispositifs service settings: environment variables prefixed ``DISPOSITIFS_``.

The limits of the legal rules are settings too (DOMAIN.md: texts change, and some limits are the
national tool's, not the law's). Each names the rule it feeds.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from dispositifs.domain.immersion import (
    DEFAULT_ALLOWED_PRESCRIBERS,
    ImmersionLimits,
    PrescriberKind,
)
from dispositifs.domain.training import TrainingLimits
from shared.settings import ServiceSettings


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
    pmsmp_max_weekly_hours: float = Field(default=48, description="National tool: 48 h a week.")
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

    # MRS
    mrs_habiletes_file: Path | None = Field(
        default=None, description="CSV (code,libelle) replacing the shipped referential."
    )
    mrs_positive_min_share: float = Field(
        default=1.0, ge=0, le=1, description="Share of habiletés acquired for a positive result."
    )

    #: A "durable" outcome: CDI, or a contract of this many months or more.
    durable_contract_min_months: int = 6

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
        )

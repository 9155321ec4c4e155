"""``make up``'s steering demo (issue 16, "Done when"): the seed adds a regional convention with
targets and enough activity that its progress shows above the default secrecy threshold (5); a
second run adds nothing."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import FastAPI
from sqlalchemy import func, select

from referral.domain.indicators import Rules
from referral.models import Convention, Referral
from referral.seed import SEED_STEERING, seed_make_up
from referral.settings import ReferralSettings
from referral.use_cases.conventions import convention_progress
from referral.use_cases.indicators import IndicatorFilters
from referral.use_cases.steering import dashboard_figures
from shared.privacy.statistical_secrecy import DEFAULT_SECRECY_THRESHOLD, SECRET_MARK


async def test_the_demo_seeds_a_regional_convention_whose_progress_shows(
    app: FastAPI, referral_settings: ReferralSettings
) -> None:
    without = await seed_make_up(referral_settings)
    assert "demo referrals" not in without  # only make up asks for them
    demo = referral_settings.model_copy(update={"demo_steering_activity": True})
    said = await seed_make_up(demo)
    assert "35 demo referrals" in said
    again = await seed_make_up(demo)
    assert "0 demo referrals" in again
    assert "0 conventions" in again
    database = app.state.runtime.database
    async with database.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(Referral)) == 35
        regional = await session.scalar(select(Convention).where(Convention.region == "32"))
        assert regional is not None
        figures = await dashboard_figures(
            session,
            SEED_STEERING,
            Rules(),
            DEFAULT_SECRECY_THRESHOLD,
            datetime.now(UTC).date(),
            IndicatorFilters(),
        )
        progress = await convention_progress(
            session,
            regional,
            SEED_STEERING,
            Rules(),
            DEFAULT_SECRECY_THRESHOLD,
            datetime.now(UTC).date(),
        )
    achieved = {line["axis"]: line["achieved"] for line in progress["lines"]}
    # Lille and Arras (Intérim Nord, Hauts-de-France): 27 referrals, 9 placed in CDI, 6 MRS
    # recruits, 6 POEC starts, 6 immersions.
    assert achieved["referrals"] == 27
    assert achieved["placements"] == 9
    assert achieved["durable_placements"] == 9
    assert achieved["mrs_recruits"] == 6
    assert achieved["training_starts"] == 6
    assert achieved["immersions"] == 6
    assert achieved["priority_public_share"] != SECRET_MARK
    # The table by région shows its placements too (no cell under the threshold to protect).
    regions = {r["code"]: (r["referrals"], r["placements"]) for r in figures["regions"]}
    assert regions == {"32": (27, 9), "84": (8, 5)}

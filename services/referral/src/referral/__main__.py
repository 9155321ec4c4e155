"""``coop-referral migrate | seed | serve | rebuild-facts``."""

from __future__ import annotations

import sys
from pathlib import Path

from referral.seed import seed_make_up
from referral.settings import ReferralSettings
from shared.cli import run_service_cli


def main() -> None:
    if sys.argv[1:] == ["rebuild-facts"]:
        from referral.jobs import rebuild_facts_command

        rebuild_facts_command(ReferralSettings())
        return
    run_service_cli(
        prog="coop-referral",
        app_factory="referral.app:create_app",
        settings_class=ReferralSettings,
        migrations=Path(__file__).parent / "migrations",
        default_port=8001,
        seed=seed_make_up,  # type: ignore[arg-type]
    )


if __name__ == "__main__":
    main()

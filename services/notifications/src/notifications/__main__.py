"""``coop-notifications migrate | serve``."""

from __future__ import annotations

from pathlib import Path

from notifications.settings import NotificationsSettings
from shared.cli import run_service_cli


def main() -> None:
    run_service_cli(
        prog="coop-notifications",
        app_factory="notifications.app:create_app",
        settings_class=NotificationsSettings,
        migrations=Path(__file__).parent / "migrations",
        default_port=8003,
    )


if __name__ == "__main__":
    main()

"""``coop-dispositifs migrate | serve``."""

from __future__ import annotations

from pathlib import Path

from dispositifs.settings import DispositifsSettings
from shared.cli import run_service_cli


def main() -> None:
    run_service_cli(
        prog="coop-dispositifs",
        app_factory="dispositifs.app:create_app",
        settings_class=DispositifsSettings,
        migrations=Path(__file__).parent / "migrations",
        default_port=8002,
    )


if __name__ == "__main__":
    main()

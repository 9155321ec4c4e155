"""``python -m <service> migrate`` needs the database URL and nothing else (issue 15, item 7).

A migration job is given the database credentials only. Production settings refuse to load
without the RS256 public key, so a ``migrate`` that built the full settings would fail in exactly
the job that must run first.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from dispositifs.settings import DispositifsSettings
from notifications.settings import NotificationsSettings
from referral.settings import ReferralSettings
from shared.settings import ServiceSettings

SETTINGS: dict[str, type[ServiceSettings]] = {
    "referral": ReferralSettings,
    "dispositifs": DispositifsSettings,
    "notifications": NotificationsSettings,
}
PREFIXES = (*(f"{name.upper()}_" for name in SETTINGS), "COOP_")


def _bare_environment(**variables: str) -> dict[str, str]:
    """The process environment without any setting of ours, plus ``variables``."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(PREFIXES)}
    return env | variables


def _production_only_database(name: str, url: str) -> dict[str, str]:
    prefix = name.upper() + "_"
    return {
        prefix + "ENVIRONMENT": "production",
        prefix + "DATABASE_URL": url,
        # Not even the development secret: no token setting at all.
        prefix + "JWT_SECRET": "",
    }


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as db:
        return {row[0] for row in db.execute("select name from sqlite_master where type='table'")}


@pytest.mark.parametrize("name", list(SETTINGS))
def test_full_settings_refuse_this_environment(
    name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The premise: ``serve`` could not start with what the migration job is given."""
    for key in list(os.environ):
        if key.upper().startswith(PREFIXES):
            monkeypatch.delenv(key)
    url = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    for key, value in _production_only_database(name, url).items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ValidationError, match="RS256"):
        SETTINGS[name]()


@pytest.mark.parametrize("name", list(SETTINGS))
def test_migrate_runs_with_the_database_url_alone(name: str, tmp_path: Path) -> None:
    database = tmp_path / f"{name}.db"
    env = _bare_environment(**_production_only_database(name, f"sqlite+aiosqlite:///{database}"))
    result = subprocess.run(
        [sys.executable, "-m", name, "migrate"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "base de données migrée" in result.stdout
    tables = _tables(database)
    assert "alembic_version" in tables
    assert "outbox" in tables or any("outbox" in table for table in tables), tables
    # Running it again is a no-op, as a Job retried by Kubernetes would.
    again = subprocess.run(
        [sys.executable, "-m", name, "migrate"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert again.returncode == 0, again.stdout + again.stderr


def test_migrate_reads_the_service_default_like_the_service(tmp_path: Path) -> None:
    """Without a URL, migrate uses the same default store as ``serve`` (the local one)."""
    result = subprocess.run(
        [sys.executable, "-m", "referral", "migrate"],
        env=_bare_environment(REFERRAL_ENVIRONMENT="production"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "alembic_version" in _tables(tmp_path / ".data" / "referral.db")

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


def _migrate(name: str, env: dict[str, str], cwd: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", name, "migrate", *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


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


def test_migrate_runs_with_the_database_url_alone(tmp_path: Path) -> None:
    """The three services' migrations, side by side (each its own store), then once more: a
    retried Job finds nothing to do."""
    databases = {name: tmp_path / f"{name}.db" for name in SETTINGS}
    envs = {
        name: _bare_environment(**_production_only_database(name, f"sqlite+aiosqlite:///{db}"))
        for name, db in databases.items()
    }
    for attempt in ("first", "again"):
        runs = {name: _migrate(name, envs[name], tmp_path) for name in SETTINGS}
        for name, run in runs.items():
            out, _ = run.communicate(timeout=180)
            assert run.returncode == 0, f"{name} ({attempt}): {out}"
            assert "base de données migrée" in out, out
    for name, database in databases.items():
        tables = _tables(database)
        assert "alembic_version" in tables, name
        assert any("outbox" in table for table in tables), (name, tables)


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


def test_migrate_check_tells_a_pod_whether_the_schema_is_current(tmp_path: Path) -> None:
    """What the Deployments' init container runs: it waits for the migration Job, and changes
    nothing itself (two replicas never migrate concurrently)."""
    database = tmp_path / "referral.db"
    env = _bare_environment(
        **_production_only_database("referral", f"sqlite+aiosqlite:///{database}")
    )
    early = _migrate("referral", env, tmp_path, "--check")
    out, _ = early.communicate(timeout=120)
    assert early.returncode == 1, out
    assert "schéma à migrer" in out
    assert "alembic_version" not in _tables(database), "--check must not migrate"

    waiting = _migrate("referral", env, tmp_path, "--check", "--wait", "90")
    try:
        job = _migrate("referral", env, tmp_path)
        job_out, _ = job.communicate(timeout=120)
        assert job.returncode == 0, job_out
        out, _ = waiting.communicate(timeout=120)
    finally:
        if waiting.poll() is None:
            waiting.kill()
            waiting.wait()
    assert waiting.returncode == 0, out
    assert "schéma à jour" in out


def test_migrate_check_fails_on_an_unreachable_database(tmp_path: Path) -> None:
    env = _bare_environment(
        **_production_only_database(
            "referral", f"sqlite+aiosqlite:///{tmp_path / 'no-such-dir' / 'referral.db'}"
        )
    )
    check = _migrate("referral", env, tmp_path, "--check", "--wait", "1")
    out, _ = check.communicate(timeout=120)
    assert check.returncode == 1, out
    assert "base injoignable" in out


def test_migrate_check_lets_a_rolled_back_pod_start_on_a_newer_schema(tmp_path: Path) -> None:
    """The previous release, rolled back to, finds a revision it does not know: a later
    release's. Its pods must start (migrations keep the previous release working)."""
    database = tmp_path / "referral.db"
    env = _bare_environment(
        **_production_only_database("referral", f"sqlite+aiosqlite:///{database}")
    )
    job = _migrate("referral", env, tmp_path)
    assert job.wait(timeout=120) == 0
    with sqlite3.connect(database) as db:
        db.execute("update alembic_version set version_num = 'f00dfacade42'")
    check = _migrate("referral", env, tmp_path, "--check")
    out, _ = check.communicate(timeout=120)
    assert check.returncode == 0, out
    assert "plus récent" in out

"""The command line every service offers: ``migrate``, ``seed``, ``serve``.

coop-referral migrate        # apply the Alembic migrations to REFERRAL_DATABASE_URL
coop-referral seed           # load demo data (idempotent)
coop-referral serve --port 8001

``migrate`` reads and checks the database URL only: a migration job (a Kubernetes Job, an
init container, the compose ``*-migrate`` step) is given the database credentials and nothing
else — no token key, no broker address, no SMTP relay.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_settings import BaseSettings

from shared.db.migrations import upgrade
from shared.settings import ServiceSettings


def run_service_cli(
    *,
    prog: str,
    app_factory: str,
    settings_class: type[ServiceSettings],
    migrations: Path,
    default_port: int,
    seed: Callable[[ServiceSettings], Coroutine[Any, Any, str]] | None = None,
    argv: list[str] | None = None,
) -> None:
    parser = argparse.ArgumentParser(prog=prog)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply database migrations")
    if seed is not None:
        sub.add_parser("seed", help="load demo data (safe to run twice)")
    serve = sub.add_parser("serve", help="run the HTTP service, its consumers and outbox relay")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=default_port)
    args = parser.parse_args(argv)

    if args.command == "migrate":
        database_url = migration_database_url(settings_class)
        upgrade(migrations, database_url)
        print(f"{prog}: base de données migrée ({_redact(database_url)})")
        return
    settings = settings_class()  # type: ignore[call-arg]
    if args.command == "seed":
        assert seed is not None
        print(f"{prog}: {asyncio.run(seed(settings))}")
    elif args.command == "serve":
        import uvicorn

        uvicorn.run(
            app_factory,
            factory=True,
            host=args.host,
            port=args.port,
            log_config=None,
            timeout_graceful_shutdown=20,
        )


def migration_database_url(settings_class: type[ServiceSettings]) -> str:
    """The service's database URL, read as the service reads it (same prefix, same default),
    without building — hence without validating — any other setting."""
    field = settings_class.model_fields["database_url"]

    class MigrationSettings(BaseSettings):
        model_config = settings_class.model_config
        database_url: str = field  # type: ignore[assignment]

    MigrationSettings.__name__ = f"{settings_class.__name__}ForMigration"
    try:
        return MigrationSettings().database_url  # type: ignore[call-arg]
    except ValidationError:
        prefix = settings_class.model_config.get("env_prefix", "")
        raise SystemExit(f"migrate : {prefix}DATABASE_URL manquante ou invalide") from None


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)

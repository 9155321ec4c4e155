"""The command line every service offers: ``migrate``, ``seed``, ``serve``.

coop-referral migrate        # apply the Alembic migrations to REFERRAL_DATABASE_URL
coop-referral seed           # load demo data (idempotent)
coop-referral serve --port 8001
coop-referral serve --workers 4     # PostgreSQL: 4 processes, each HTTP, consumers, relay, jobs
coop-referral migrate --check --wait 300   # wait until someone else has migrated (exit 1 if not)

``migrate`` reads and checks the database URL only: a migration job (a Kubernetes Job, an
init container, the compose ``*-migrate`` step) is given the database credentials and nothing
else — no token key, no broker address, no SMTP relay.

``serve --workers N`` (or ``<PREFIX>WORKERS``) runs N processes on one port (uvicorn's workers:
the kernel spreads the connections; a worker that dies is replaced). On PostgreSQL each worker
runs everything: its consumers join the consumer group, the relays take turns under the outbox
lock, the periodic jobs run under their leases (:mod:`shared.jobs`). On SQLite more than one
worker is refused, unless ``--http-only-extra``: one worker (elected by a file lock) then runs
the relay, the consumers and the jobs, the others serve HTTP only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_settings import BaseSettings

from shared.db.migrations import upgrade
from shared.jobs import ELECTION_ENV
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
    migrate = sub.add_parser("migrate", help="apply database migrations")
    migrate.add_argument(
        "--check",
        action="store_true",
        help="change nothing: exit 0 if the database is at the latest revision, 1 otherwise",
    )
    migrate.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="with --check: check again every 2 s for that long (a pod waiting for its Job)",
    )
    if seed is not None:
        sub.add_parser("seed", help="load demo data (safe to run twice)")
    serve = sub.add_parser("serve", help="run the HTTP service, its consumers and outbox relay")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=default_port)
    prefix = str(settings_class.model_config.get("env_prefix", ""))
    serve.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get(f"{prefix}WORKERS", "1")),
        metavar="N",
        help=f"worker processes on the port (default: {prefix}WORKERS, else 1)",
    )
    serve.add_argument(
        "--http-only-extra",
        action="store_true",
        help="SQLite: the workers beyond the first serve HTTP only (one runs the background work)",
    )
    args = parser.parse_args(argv)

    if args.command == "migrate":
        database_url = migration_database_url(settings_class)
        if args.check:
            current, message = wait_for_schema(migrations, database_url, args.wait)
            print(f"{prog}: {message} ({_redact(database_url)})")
            raise SystemExit(0 if current else 1)
        upgrade(migrations, database_url)
        print(f"{prog}: base de données migrée ({_redact(database_url)})")
        return
    settings = settings_class()  # type: ignore[call-arg]
    if args.command == "seed":
        assert seed is not None
        print(f"{prog}: {asyncio.run(seed(settings))}")
    elif args.command == "serve":
        import uvicorn

        workers = check_workers(prog, settings.database_url, args.workers, args.http_only_extra)
        if workers > 1 and args.http_only_extra:
            os.environ[ELECTION_ENV] = "1"  # inherited by every worker process
        os.environ.setdefault(f"{prefix}GC_FREEZE", "true")  # shared.collector, once started
        uvicorn.run(
            app_factory,
            factory=True,
            host=args.host,
            port=args.port,
            workers=workers,
            log_config=None,
            timeout_graceful_shutdown=20,
        )


def check_workers(prog: str, database_url: str, workers: int, http_only_extra: bool) -> int:
    """The number of worker processes, or exit with a French message saying why not."""
    from sqlalchemy.engine import make_url

    if workers < 1:
        raise SystemExit(f"{prog} serve : --workers doit valoir au moins 1 (reçu {workers})")
    url = make_url(database_url)
    if workers == 1 or url.get_backend_name() != "sqlite":
        return workers
    if url.database in (None, "", ":memory:"):
        raise SystemExit(
            f"{prog} serve : --workers {workers} refusé, une base SQLite en mémoire n'existe que "
            "dans un seul processus ; un seul worker (ou PostgreSQL)."
        )
    if not http_only_extra:
        raise SystemExit(
            f"{prog} serve : --workers {workers} refusé avec SQLite : un seul processus peut y "
            "faire tourner le relais, les consommateurs et les tâches périodiques. Utilisez "
            "PostgreSQL, ou ajoutez --http-only-extra : un seul worker fait alors ce travail de "
            "fond, les autres ne servent que les requêtes HTTP."
        )
    return workers


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


def schema_status(migrations: Path, database_url: str) -> tuple[bool, str]:
    """(at the latest revision?, a French sentence saying where it is). Never raises: a database
    that cannot be reached yet is "not current"."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy import pool
    from sqlalchemy.ext.asyncio import create_async_engine

    from shared.db.migrations import alembic_config

    script = ScriptDirectory.from_config(alembic_config(migrations, database_url))
    heads = set(script.get_heads())
    known = {revision.revision for revision in script.walk_revisions()}

    async def current_heads() -> set[str]:
        engine = create_async_engine(database_url, poolclass=pool.NullPool)
        try:
            async with engine.connect() as connection:
                found = await connection.run_sync(
                    lambda sync: MigrationContext.configure(sync).get_current_heads()
                )
                return set(found)
        finally:
            await engine.dispose()

    try:
        current = asyncio.run(current_heads())
    except Exception as exc:  # unreachable, no such database yet, refused credentials
        return False, f"base injoignable ({type(exc).__name__})"
    if current == heads:
        return True, f"schéma à jour (révision {', '.join(sorted(heads))})"
    if current and not current & known:
        # Migrated by a later release (a rollback): the migrations are written to keep the
        # previous release working, so the pod may start.
        return True, f"schéma plus récent que cette version (révision {', '.join(sorted(current))})"
    found = ", ".join(sorted(current)) or "aucune"
    return False, f"schéma à migrer : révision {found}, attendue {', '.join(sorted(heads))}"


def wait_for_schema(migrations: Path, database_url: str, wait: float) -> tuple[bool, str]:
    deadline = time.monotonic() + max(wait, 0.0)
    while True:
        current, message = schema_status(migrations, database_url)
        if current or time.monotonic() >= deadline:
            return current, message
        time.sleep(min(2.0, max(deadline - time.monotonic(), 0.0)))


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)

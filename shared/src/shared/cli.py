"""The command line every service offers: ``migrate``, ``seed``, ``serve``.

coop-referral migrate        # apply the Alembic migrations to REFERRAL_DATABASE_URL
coop-referral seed           # load demo data (idempotent)
coop-referral serve --port 8001
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

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

    settings = settings_class()  # type: ignore[call-arg]
    if args.command == "migrate":
        upgrade(migrations, settings.database_url)
        print(f"{prog}: database migrated ({_redact(settings.database_url)})")
    elif args.command == "seed":
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


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)

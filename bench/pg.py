"""``STORE=postgres``: the PostgreSQL the bench runs on.

``COOP_TEST_POSTGRES_URL`` (an admin URL, e.g. ``postgresql://coop:coop@127.0.0.1:5432/postgres``)
names a server to use, as for the tests. Without it, a throwaway cluster is created with the local
``initdb``/``pg_ctl`` (run as the ``postgres`` user when the bench runs as root) on a free port,
and removed at the end.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from localkafka import free_port
from shared.testing import POSTGRES_ENV


@contextlib.contextmanager
def postgres_store(work: Path) -> Iterator[str]:
    """Sets ``COOP_TEST_POSTGRES_URL`` for the run (service processes inherit it) and yields it."""
    given = os.environ.get(POSTGRES_ENV)
    if given:
        yield given
        return
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if not (initdb and pg_ctl):
        raise SystemExit(
            "STORE=postgres needs COOP_TEST_POSTGRES_URL (an admin URL of a running PostgreSQL) "
            "or PostgreSQL's initdb and pg_ctl on PATH for a throwaway cluster"
        )
    data = work / "postgres"
    data.mkdir()
    prefix: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        user = pwd.getpwnam("postgres")
        os.chmod(work, 0o755)  # noqa: S103 - a throwaway directory the postgres user must enter
        os.chown(data, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    log = data / "server.log"

    def run(*args: str) -> None:
        subprocess.run([*prefix, *args], check=True, capture_output=True, timeout=120)  # noqa: S603

    run(initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
    options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c max_connections=300"
    run(pg_ctl, "-D", str(data), "-o", options, "-w", "-l", str(log), "start")
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    os.environ[POSTGRES_ENV] = url
    try:
        yield url
    finally:
        os.environ.pop(POSTGRES_ENV, None)
        with contextlib.suppress(Exception):
            run(pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop")

"""The PostgreSQL the production tests run on: ``COOP_TEST_POSTGRES_URL``, else a throwaway
local cluster (``bench.pg``), else the test is skipped with that reason.

``COOP_CI_POSTGRES_PASS_FOLLOWS=1`` (set by ``.ci/run`` on its SQLite pass, which runs beside a
PostgreSQL pass): these tests are skipped there, since the PostgreSQL pass runs them on its server —
a throwaway cluster would only repeat them."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.testing import POSTGRES_ENV

CI_POSTGRES_PASS_FOLLOWS = "COOP_CI_POSTGRES_PASS_FOLLOWS"


@contextlib.contextmanager
def postgres() -> Iterator[None]:
    if os.environ.get(POSTGRES_ENV):
        yield
        return
    if os.environ.get(CI_POSTGRES_PASS_FOLLOWS) == "1":
        pytest.skip("needs PostgreSQL: the PostgreSQL pass of this CI run (.ci/run) runs it")
    if shutil.which("initdb") is None or shutil.which("pg_ctl") is None:
        pytest.skip("no PostgreSQL: set COOP_TEST_POSTGRES_URL or install initdb/pg_ctl")
    from bench.pg import postgres_store

    # The cluster runs as the postgres user: a directory it can reach (pytest's are root's).
    work = Path(tempfile.mkdtemp(prefix="coop-replicas-pg-"))
    work.chmod(0o755)
    try:
        with postgres_store(work) as admin_url:
            os.environ[POSTGRES_ENV] = admin_url
            try:
                yield
            finally:
                os.environ.pop(POSTGRES_ENV, None)
    finally:
        shutil.rmtree(work, ignore_errors=True)

"""Alembic environment of the dispositifs service's own store."""

from dispositifs.models import Base
from shared.db.migrations import run_env

run_env(Base.metadata)

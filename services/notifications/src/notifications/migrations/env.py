"""Alembic environment of the notifications service's own store."""

from notifications.models import Base
from shared.db.migrations import run_env

run_env(Base.metadata)

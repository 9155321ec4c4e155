"""Alembic environment of the referral service's own store."""

from referral.models import Base
from shared.db.migrations import run_env

run_env(Base.metadata)

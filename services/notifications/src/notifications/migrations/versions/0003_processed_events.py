"""Rename the consumers' dedupe table from ``inbox`` to ``processed_events``.

"Inbox" also named the in-app messages and a delivery channel; the table keeps one meaning.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.rename_table("inbox", "processed_events")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE processed_events RENAME CONSTRAINT pk_inbox TO pk_processed_events")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE processed_events RENAME CONSTRAINT pk_processed_events TO pk_inbox")
    op.rename_table("processed_events", "inbox")

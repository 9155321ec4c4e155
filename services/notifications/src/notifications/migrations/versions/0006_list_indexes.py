"""The indexes the inbox and the lists filter on (issue 14, item 7): a recipient's unread
messages newest first (partial: only the unread), the messages of one event type, and the
deliveries by status oldest first.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels = None
depends_on = None

_UNREAD = sa.text("read_at IS NULL")


def upgrade() -> None:
    op.create_index(
        "ix_notifications_unread",
        "notifications",
        ["recipient_kind", "recipient_id", "created_at", "id"],
        sqlite_where=_UNREAD,
        postgresql_where=_UNREAD,
    )
    op.create_index(
        "ix_notifications_event_type_created", "notifications", ["event_type", "created_at", "id"]
    )
    op.create_index("ix_deliveries_status_created", "deliveries", ["status", "created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_status_created", table_name="deliveries")
    op.drop_index("ix_notifications_event_type_created", table_name="notifications")
    op.drop_index("ix_notifications_unread", table_name="notifications")

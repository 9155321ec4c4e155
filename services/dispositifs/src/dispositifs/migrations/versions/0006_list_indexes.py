"""The indexes the lists filter on (issue 14, item 7): each list by the caller's structure
newest first (MRS sessions, enrolments, proposals; immersions had it), and by status.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels = None
depends_on = None

_INDEXES = (
    ("ix_immersion_conventions_status_created", "immersion_conventions", ["status"]),
    (
        "ix_immersion_conventions_structure_status_created",
        "immersion_conventions",
        ["structure_code", "status"],
    ),
    ("ix_mrs_sessions_structure_created", "mrs_sessions", ["structure_code"]),
    ("ix_training_enrolments_structure_created", "training_enrolments", ["structure_code"]),
    ("ix_training_enrolments_kind_created", "training_enrolments", ["kind"]),
    ("ix_pathway_proposals_structure_created", "pathway_proposals", ["structure_code"]),
    ("ix_pathway_proposals_status_created", "pathway_proposals", ["status"]),
)


def upgrade() -> None:
    for name, table, columns in _INDEXES:
        op.create_index(name, table, [*columns, "created_at", "id"])


def downgrade() -> None:
    for name, table, _ in reversed(_INDEXES):
        op.drop_index(name, table_name=table)

"""Indexes for the console's ticket list and home counts: every query keeps to the jurisdiction's compounds

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 23:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (name, columns): the list filters by compound first, then pages by id, deadline or last change.
INDEXES = (
    ("ix_ticket_compound_state_id", ["compound_id", "state", "id"]),
    ("ix_ticket_compound_due", ["compound_id", "clock_due_at", "id"]),
    ("ix_ticket_compound_updated", ["compound_id", "updated_at", "id"]),
    ("ix_ticket_compound_created", ["compound_id", "created_at"]),
)


def upgrade() -> None:
    for name, columns in INDEXES:
        op.create_index(name, "ticket", columns)


def downgrade() -> None:
    for name, _ in reversed(INDEXES):
        op.drop_index(name, table_name="ticket")

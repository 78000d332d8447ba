"""Residents' ergonomics: parked drafts, the 大字 switch, ownership documents on self-registration

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 19:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTER TABLE … ADD COLUMN, not a batch copy (see downgrade).
    op.add_column("conversation", sa.Column("parked", sa.JSON(), nullable=False, server_default="{}"))
    op.add_column("person", sa.Column("large_text", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column(
        "org_node", sa.Column("owner_document", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    text = sqlmodel.sql.sqltypes.AutoString
    op.add_column(
        "residency", sa.Column("document_channel", text(length=16), nullable=False, server_default="")
    )
    op.add_column("residency", sa.Column("document_ref", text(length=200), nullable=False, server_default=""))


def downgrade() -> None:
    # Plain ALTER TABLE … DROP COLUMN (SQLite 3.35+), not a batch copy: person and org_node are
    # referenced by every other table, and copying them would trip the foreign keys.
    op.drop_column("residency", "document_ref")
    op.drop_column("residency", "document_channel")
    op.drop_column("org_node", "owner_document")
    op.drop_column("person", "large_text")
    op.drop_column("conversation", "parked")

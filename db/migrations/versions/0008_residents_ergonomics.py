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
    with op.batch_alter_table("conversation") as batch:
        batch.add_column(sa.Column("parked", sa.JSON(), nullable=False, server_default="{}"))
    with op.batch_alter_table("person") as batch:
        batch.add_column(sa.Column("large_text", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("org_node") as batch:
        batch.add_column(sa.Column("owner_document", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("residency") as batch:
        batch.add_column(
            sa.Column(
                "document_channel",
                sqlmodel.sql.sqltypes.AutoString(length=16),
                nullable=False,
                server_default="",
            )
        )
        batch.add_column(
            sa.Column(
                "document_ref",
                sqlmodel.sql.sqltypes.AutoString(length=200),
                nullable=False,
                server_default="",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("residency") as batch:
        batch.drop_column("document_ref")
        batch.drop_column("document_channel")
    with op.batch_alter_table("org_node") as batch:
        batch.drop_column("owner_document")
    with op.batch_alter_table("person") as batch:
        batch.drop_column("large_text")
    with op.batch_alter_table("conversation") as batch:
        batch.drop_column("parked")

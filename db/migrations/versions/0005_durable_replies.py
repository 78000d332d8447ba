"""durable replies, set-aside updates, the invite behind a role or home

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 13:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_log") as batch:
        batch.add_column(
            sa.Column(
                "error", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False, server_default=""
            )
        )
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("identity_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("rendered", sa.JSON(), nullable=True))
        batch.create_foreign_key("fk_outbox_identity_id_identity", "identity", ["identity_id"], ["id"])
        batch.create_index("ix_outbox_identity_id", ["identity_id"])
    for table in ("role_grant", "residency"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("invite_id", sa.Integer(), nullable=True))
            batch.create_foreign_key(f"fk_{table}_invite_id_invite", "invite", ["invite_id"], ["id"])


def downgrade() -> None:
    for table in ("residency", "role_grant"):
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"fk_{table}_invite_id_invite", type_="foreignkey")
            batch.drop_column("invite_id")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_identity_id")
        batch.drop_constraint("fk_outbox_identity_id_identity", type_="foreignkey")
        batch.drop_column("rendered")
        batch.drop_column("identity_id")
    with op.batch_alter_table("inbound_log") as batch:
        batch.drop_column("error")

"""WeChat and WeCom: shared platform tokens, the 客服 window and numbered choices, invites for WeCom members

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 17:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import db.types

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
TIME = db.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "platform_token",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("token", sqlmodel.sql.sqltypes.AutoString(length=600), nullable=False, server_default=""),
        sa.Column("expires_at", TIME, nullable=True),
        sa.Column("lease_until", TIME, nullable=True),
        sa.Column(
            "lease_owner", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False, server_default=""
        ),
        sa.PrimaryKeyConstraint("name"),
    )
    with op.batch_alter_table("identity") as batch:
        batch.add_column(sa.Column("last_inbound_at", TIME, nullable=True))
        batch.add_column(sa.Column("window_sent", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("choices", sa.JSON(), nullable=False, server_default="[]"))
    with op.batch_alter_table("invite") as batch:
        batch.add_column(
            sa.Column("wecom_userid", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch.create_index("ix_invite_wecom_userid", ["wecom_userid"])


def downgrade() -> None:
    with op.batch_alter_table("invite") as batch:
        batch.drop_index("ix_invite_wecom_userid")
        batch.drop_column("wecom_userid")
    with op.batch_alter_table("identity") as batch:
        batch.drop_column("choices")
        batch.drop_column("window_sent")
        batch.drop_column("last_inbound_at")
    op.drop_table("platform_token")

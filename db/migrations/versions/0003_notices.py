"""notices

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 01:20:35.385441
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import db.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mute",
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
        ),
        sa.PrimaryKeyConstraint("person_id", "kind"),
    )
    op.create_table(
        "notice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("body", sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=False),
        sa.Column("attachment_kind", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("attachment_channel", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("attachment_ref", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("buildings", sa.JSON(), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("ack_required", sa.Boolean(), nullable=False),
        sa.Column("send_at", db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("publicity_until", db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("audience_size", sa.Integer(), nullable=False),
        sa.Column("created_at", db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["person.id"],
        ),
        sa.ForeignKeyConstraint(
            ["node_id"],
            ["org_node.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("notice", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notice_node_id"), ["node_id"], unique=False)

    op.create_table(
        "notice_ack",
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("at", db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["notice_id"],
            ["notice.id"],
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
        ),
        sa.PrimaryKeyConstraint("notice_id", "person_id"),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("notice_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "status",
                sqlmodel.sql.sqltypes.AutoString(length=12),
                nullable=False,
                server_default="pending",
            )
        )
        batch_op.add_column(sa.Column("claimed_until", db.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_outbox_due", ["status", "urgent", "id"], unique=False)
        batch_op.create_index("ix_outbox_notice_status", ["notice_id", "status"], unique=False)
        batch_op.create_foreign_key("fk_outbox_notice", "notice", ["notice_id"], ["id"])
    # Rows from before: sent ones are sent, those that gave up are failed.
    op.execute("UPDATE outbox SET status = 'sent' WHERE sent_at IS NOT NULL")
    op.execute("UPDATE outbox SET status = 'failed' WHERE sent_at IS NULL AND attempts >= 5")


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint("fk_outbox_notice", type_="foreignkey")
        batch_op.drop_index("ix_outbox_notice_status")
        batch_op.drop_index("ix_outbox_due")
        batch_op.drop_column("claimed_until")
        batch_op.drop_column("status")
        batch_op.drop_column("notice_id")
    op.drop_table("notice_ack")
    with op.batch_alter_table("notice", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notice_node_id"))
    op.drop_table("notice")
    op.drop_table("mute")

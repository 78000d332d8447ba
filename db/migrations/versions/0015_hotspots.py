"""Hot spots (DESIGN §4.7): clusters with their proactive tickets, the detection watermark, and the
ticket indexes detection reads

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import db.types

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIME = db.types.UTCDateTime(timezone=True)


def _text(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_index("ix_ticket_created", "ticket", ["created_at", "id"])
    op.create_index("ix_ticket_cluster", "ticket", ["building_id", "category", "created_at"])
    op.create_index("ix_ticket_repeat", "ticket", ["home_id", "category", "resolved_at"])
    op.create_table(
        "hot_spot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", _text(80), nullable=False),
        sa.Column("kind", _text(10), nullable=False),
        sa.Column("place_id", sa.Integer(), nullable=False),
        sa.Column("category", _text(32), nullable=False),
        sa.Column("compound_id", sa.Integer(), nullable=False),
        sa.Column("building_id", sa.Integer(), nullable=False),
        sa.Column("home_id", sa.Integer(), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("since", TIME, nullable=False),
        sa.Column("last_at", TIME, nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("opened_at", TIME, nullable=False),
        sa.Column("told_at", TIME, nullable=True),
        sa.Column("told_by", sa.Integer(), nullable=True),
        sa.Column("told_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["compound_id"], ["org_node.id"]),
        sa.ForeignKeyConstraint(["building_id"], ["org_node.id"]),
        sa.ForeignKeyConstraint(["home_id"], ["home.id"]),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"]),
        sa.ForeignKeyConstraint(["told_by"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
        sa.UniqueConstraint("ticket_id"),
    )
    op.create_index("ix_hot_spot_place", "hot_spot", ["kind", "place_id", "category", "opened_at"])
    op.create_index("ix_hot_spot_compound_opened", "hot_spot", ["compound_id", "opened_at"])
    op.create_table(
        "hot_spot_ticket",
        sa.Column("hot_spot_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("joined_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(["hot_spot_id"], ["hot_spot.id"]),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"]),
        sa.PrimaryKeyConstraint("hot_spot_id", "ticket_id"),
    )
    op.create_index("ix_hot_spot_ticket_ticket_id", "hot_spot_ticket", ["ticket_id"])
    op.create_table(
        "hot_spot_watch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seen_at", TIME, nullable=True),
        sa.Column("seen_id", sa.Integer(), nullable=False),
        sa.Column("reporter_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["reporter_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    # The one row two sweepers lock in turn: it exists before either of them runs.
    op.execute("INSERT INTO hot_spot_watch (id, seen_id) VALUES (1, 0)")


def downgrade() -> None:
    op.drop_table("hot_spot_watch")
    op.drop_index("ix_hot_spot_ticket_ticket_id", table_name="hot_spot_ticket")
    op.drop_table("hot_spot_ticket")
    op.drop_index("ix_hot_spot_compound_opened", table_name="hot_spot")
    op.drop_index("ix_hot_spot_place", table_name="hot_spot")
    op.drop_table("hot_spot")
    op.drop_index("ix_ticket_repeat", table_name="ticket")
    op.drop_index("ix_ticket_cluster", table_name="ticket")
    op.drop_index("ix_ticket_created", table_name="ticket")

"""case handling: holders, SLA clocks, ratings, transfers; quiet-hour outbox; off-duty workers

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIME = db.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("not_before", TIME, nullable=True))
        batch.add_column(sa.Column("urgent", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("ticket_id", sa.Integer(), nullable=True))
        batch.create_index("ix_outbox_not_before", ["not_before"], unique=False)
        batch.create_foreign_key("fk_outbox_ticket", "ticket", ["ticket_id"], ["id"])

    with op.batch_alter_table("person") as batch:
        batch.add_column(sa.Column("off_duty", sa.Boolean(), nullable=False, server_default=sa.false()))

    with op.batch_alter_table("ticket") as batch:
        batch.add_column(sa.Column("level", sa.String(12), nullable=False, server_default="grid"))
        batch.add_column(sa.Column("grid_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("holder_node_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("holder_id", sa.Integer(), nullable=True))
        for name in ("accept_due_at", "resolve_due_at", "accepted_at", "resolved_at", "closed_at"):
            batch.add_column(sa.Column(name, TIME, nullable=True))
        batch.add_column(sa.Column("clock_stage", sa.String(10), nullable=False, server_default=""))
        batch.add_column(sa.Column("clock_started_at", TIME, nullable=True))
        batch.add_column(sa.Column("clock_due_at", TIME, nullable=True))
        batch.add_column(sa.Column("reminders_sent", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("next_due_at", TIME, nullable=True))
        batch.add_column(sa.Column("paused_at", TIME, nullable=True))
        batch.add_column(sa.Column("paused_state", sa.String(24), nullable=False, server_default=""))
        batch.add_column(sa.Column("rating", sa.String(16), nullable=False, server_default=""))
        batch.add_column(sa.Column("rating_comment", sa.String(500), nullable=False, server_default=""))
        batch.add_column(sa.Column("closure_kind", sa.String(24), nullable=False, server_default=""))
        batch.add_column(sa.Column("duplicate_of", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("transfer_reason", sa.String(500), nullable=False, server_default=""))
        batch.add_column(sa.Column("transfer_requested_by", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("reopen_count", sa.Integer(), nullable=False, server_default="0"))
        batch.create_index("ix_ticket_holder", ["holder_id", "state"], unique=False)
        batch.create_index("ix_ticket_holder_node", ["holder_node_id", "state"], unique=False)
        batch.create_index("ix_ticket_next_due", ["next_due_at"], unique=False)
        batch.create_foreign_key("fk_ticket_grid", "grid", ["grid_id"], ["id"])
        batch.create_foreign_key("fk_ticket_holder_node", "org_node", ["holder_node_id"], ["id"])
        batch.create_foreign_key("fk_ticket_holder", "person", ["holder_id"], ["id"])
        batch.create_foreign_key("fk_ticket_duplicate_of", "ticket", ["duplicate_of"], ["id"])
        batch.create_foreign_key("fk_ticket_transfer_by", "person", ["transfer_requested_by"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("ticket") as batch:
        for fk in (
            "fk_ticket_transfer_by",
            "fk_ticket_duplicate_of",
            "fk_ticket_holder",
            "fk_ticket_holder_node",
            "fk_ticket_grid",
        ):
            batch.drop_constraint(fk, type_="foreignkey")
        for index in ("ix_ticket_next_due", "ix_ticket_holder_node", "ix_ticket_holder"):
            batch.drop_index(index)
        for column in (
            "reopen_count",
            "transfer_requested_by",
            "transfer_reason",
            "duplicate_of",
            "closure_kind",
            "rating_comment",
            "rating",
            "paused_state",
            "paused_at",
            "next_due_at",
            "reminders_sent",
            "clock_due_at",
            "clock_started_at",
            "clock_stage",
            "closed_at",
            "resolved_at",
            "accepted_at",
            "resolve_due_at",
            "accept_due_at",
            "holder_id",
            "holder_node_id",
            "grid_id",
            "level",
        ):
            batch.drop_column(column)
    with op.batch_alter_table("person") as batch:
        batch.drop_column("off_duty")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_constraint("fk_outbox_ticket", type_="foreignkey")
        batch.drop_index("ix_outbox_not_before")
        for column in ("ticket_id", "urgent", "not_before"):
            batch.drop_column(column)

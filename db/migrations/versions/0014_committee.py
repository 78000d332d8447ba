"""Owners' committee terms (DESIGN §4.6): committees, their members, and handovers

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import db.types

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIME = db.types.UTCDateTime(timezone=True)


def _text(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "committee",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("compound_id", sa.Integer(), nullable=False),
        sa.Column("kind", _text(12), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("filed_on", sa.Date(), nullable=True),
        sa.Column("state", _text(10), nullable=False),
        sa.Column("current", sa.Boolean(), nullable=True),
        sa.Column("installed_by_poll_id", sa.Integer(), nullable=True),
        sa.Column("chair_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("ended_at", TIME, nullable=True),
        sa.Column("next_reminder", _text(8), nullable=False),
        sa.Column("lapsed_sent", sa.Integer(), nullable=False),
        sa.Column("next_due_at", TIME, nullable=True),
        sa.ForeignKeyConstraint(["compound_id"], ["org_node.id"]),
        sa.ForeignKeyConstraint(["installed_by_poll_id"], ["poll.id"]),
        sa.ForeignKeyConstraint(["chair_id"], ["person.id"]),
        sa.ForeignKeyConstraint(["created_by"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("compound_id", "current", name="uq_committee_current"),
    )
    op.create_index("ix_committee_compound_id", "committee", ["compound_id"])
    op.create_index("ix_committee_next_due", "committee", ["next_due_at"])
    op.create_table(
        "committee_member",
        sa.Column("committee_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("post", _text(10), nullable=False),
        sa.ForeignKeyConstraint(["committee_id"], ["committee.id"]),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("committee_id", "person_id"),
    )
    op.create_index("ix_committee_member_person_id", "committee_member", ["person_id"])
    op.create_table(
        "committee_handover",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("compound_id", sa.Integer(), nullable=False),
        sa.Column("old_committee_id", sa.Integer(), nullable=False),
        sa.Column("new_committee_id", sa.Integer(), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("due_at", TIME, nullable=False),
        sa.Column("done_at", TIME, nullable=True),
        sa.Column("done_by", sa.Integer(), nullable=True),
        sa.Column("reminders_sent", sa.Integer(), nullable=False),
        sa.Column("next_due_at", TIME, nullable=True),
        sa.ForeignKeyConstraint(["compound_id"], ["org_node.id"]),
        sa.ForeignKeyConstraint(["old_committee_id"], ["committee.id"]),
        sa.ForeignKeyConstraint(["new_committee_id"], ["committee.id"]),
        sa.ForeignKeyConstraint(["done_by"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("old_committee_id"),
    )
    op.create_index("ix_committee_handover_compound_id", "committee_handover", ["compound_id"])
    op.create_index("ix_committee_handover_next_due", "committee_handover", ["next_due_at"])


def downgrade() -> None:
    op.drop_index("ix_committee_handover_next_due", table_name="committee_handover")
    op.drop_index("ix_committee_handover_compound_id", table_name="committee_handover")
    op.drop_table("committee_handover")
    op.drop_index("ix_committee_member_person_id", table_name="committee_member")
    op.drop_table("committee_member")
    op.drop_index("ix_committee_next_due", table_name="committee")
    op.drop_index("ix_committee_compound_id", table_name="committee")
    op.drop_table("committee")

"""The staff console: one-time sign-in links, console sessions, the audit log, saved ticket filters

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import db.types

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIME = db.types.UTCDateTime(timezone=True)


def _text(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "console_link",
        sa.Column("token_hash", _text(64), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("expires_at", TIME, nullable=False),
        sa.Column("used_at", TIME, nullable=True),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index("ix_console_link_person_id", "console_link", ["person_id"])
    op.create_table(
        "console_session",
        sa.Column("id_hash", _text(64), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("csrf", _text(64), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("last_seen_at", TIME, nullable=False),
        sa.Column("ended_at", TIME, nullable=True),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id_hash"),
    )
    op.create_index("ix_console_session_person_id", "console_session", ["person_id"])
    op.create_table(
        "audit_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_role", _text(24), nullable=False, server_default=""),
        sa.Column("via", _text(16), nullable=False, server_default="chat"),
        sa.Column("action", _text(40), nullable=False),
        sa.Column("subject", _text(24), nullable=False, server_default=""),
        sa.Column("subject_id", sa.Integer(), nullable=True),
        sa.Column("node_path", _text(200), nullable=False, server_default=""),
        sa.Column("before", sa.JSON(), nullable=False),
        sa.Column("after", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["actor_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_entry_at", "audit_entry", ["at"])
    op.create_index("ix_audit_entry_actor_id", "audit_entry", ["actor_id"])
    op.create_index("ix_audit_path_id", "audit_entry", ["node_path", "id"])
    op.create_table(
        "saved_filter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("name", _text(60), nullable=False),
        sa.Column("query", _text(1000), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("person_id", "name", name="uq_saved_filter_name"),
    )
    op.create_index("ix_saved_filter_person_id", "saved_filter", ["person_id"])


def downgrade() -> None:
    op.drop_table("saved_filter")
    op.drop_table("audit_entry")
    op.drop_table("console_session")
    op.drop_table("console_link")

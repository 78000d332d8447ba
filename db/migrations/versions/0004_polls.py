"""polls

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 02:23:57.963552
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import db.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "poll",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("buildings", sa.JSON(), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("body", sqlmodel.sql.sqltypes.AutoString(length=3500), nullable=False),
        sa.Column("attachment_kind", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("attachment_channel", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("attachment_ref", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("matter", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("candidates", sa.JSON(), nullable=False),
        sa.Column("seats", sa.Integer(), nullable=False),
        sa.Column("secret", sa.Boolean(), nullable=False),
        sa.Column("changeable", sa.Boolean(), nullable=False),
        sa.Column("consultative", sa.Boolean(), nullable=False),
        sa.Column("shortened_reason", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("created_at", db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("opens_at", db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closes_at", db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("reminders_sent", sa.Integer(), nullable=False),
        sa.Column("next_due_at", db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("opened_at", db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("total_area", sa.Integer(), nullable=False),
        sa.Column("total_owners", sa.Integer(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("digest", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("announce_notice_id", sa.Integer(), nullable=True),
        sa.Column("result_notice_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["announce_notice_id"],
            ["notice.id"],
        ),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["person.id"],
        ),
        sa.ForeignKeyConstraint(
            ["node_id"],
            ["org_node.id"],
        ),
        sa.ForeignKeyConstraint(
            ["result_notice_id"],
            ["notice.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("poll", schema=None) as batch_op:
        batch_op.create_index("ix_poll_next_due", ["next_due_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_poll_node_id"), ["node_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_poll_state"), ["state"], unique=False)

    op.create_table(
        "poll_ballot",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("seal", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("area_centi_m2", sa.Integer(), nullable=False),
        sa.Column("choice", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("receipt", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("unit", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["poll_id"],
            ["poll.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("poll_id", "seal", name="uq_poll_ballot_seal"),
        sa.UniqueConstraint("receipt"),
    )
    with op.batch_alter_table("poll_ballot", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_poll_ballot_poll_id"), ["poll_id"], unique=False)

    op.create_table(
        "poll_home",
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("home_id", sa.Integer(), nullable=False),
        sa.Column("building_id", sa.Integer(), nullable=False),
        sa.Column("unit", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("area_centi_m2", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["building_id"],
            ["org_node.id"],
        ),
        sa.ForeignKeyConstraint(
            ["home_id"],
            ["home.id"],
        ),
        sa.ForeignKeyConstraint(
            ["poll_id"],
            ["poll.id"],
        ),
        sa.PrimaryKeyConstraint("poll_id", "home_id"),
    )
    with op.batch_alter_table("poll_home", schema=None) as batch_op:
        batch_op.create_index("ix_poll_home_unit", ["poll_id", "unit"], unique=False)

    op.create_table(
        "poll_turnout",
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("unit", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("voted_at", db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("changes", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
        ),
        sa.ForeignKeyConstraint(
            ["poll_id"],
            ["poll.id"],
        ),
        sa.PrimaryKeyConstraint("poll_id", "unit"),
    )
    op.create_table(
        "poll_voter",
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("unit", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
        ),
        sa.ForeignKeyConstraint(
            ["poll_id"],
            ["poll.id"],
        ),
        sa.PrimaryKeyConstraint("poll_id", "person_id"),
    )
    with op.batch_alter_table("home", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unsold", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("notice", schema=None) as batch_op:
        batch_op.add_column(sa.Column("data", sa.JSON(), nullable=False, server_default="{}"))


def downgrade() -> None:
    with op.batch_alter_table("notice", schema=None) as batch_op:
        batch_op.drop_column("data")
    with op.batch_alter_table("home", schema=None) as batch_op:
        batch_op.drop_column("unsold")

    op.drop_table("poll_voter")
    op.drop_table("poll_turnout")
    with op.batch_alter_table("poll_home", schema=None) as batch_op:
        batch_op.drop_index("ix_poll_home_unit")

    op.drop_table("poll_home")
    with op.batch_alter_table("poll_ballot", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_poll_ballot_poll_id"))

    op.drop_table("poll_ballot")
    with op.batch_alter_table("poll", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_poll_state"))
        batch_op.drop_index(batch_op.f("ix_poll_node_id"))
        batch_op.drop_index("ix_poll_next_due")

    op.drop_table("poll")

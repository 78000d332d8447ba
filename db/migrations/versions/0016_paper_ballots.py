"""Paper and proxy ballots (DESIGN §4.8): how each ballot was cast, the paper register, the sealed batch of a
secret poll, stub codes, proxies; a voter may belong to several owner units (owners counted by buyer)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import db.types

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIME = db.types.UTCDateTime(timezone=True)


def _text(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def _voter_table(name: str, key: list[str]) -> None:
    op.create_table(
        name,
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("unit", _text(32), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.ForeignKeyConstraint(["poll_id"], ["poll.id"]),
        sa.PrimaryKeyConstraint(*key),
    )


def _rekey_voters(key: list[str]) -> None:
    """poll_voter with another primary key: a new table, the rows copied, the old one dropped (the same
    steps on SQLite and PostgreSQL, whose names for the old key differ)."""
    _voter_table("poll_voter_new", key)
    op.execute(
        "INSERT INTO poll_voter_new (poll_id, person_id, unit)"
        " SELECT poll_id, person_id, unit FROM poll_voter"
    )
    op.drop_table("poll_voter")
    op.rename_table("poll_voter_new", "poll_voter")


def upgrade() -> None:
    with op.batch_alter_table("poll_turnout", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel", _text(8), nullable=False, server_default="online"))
        batch_op.add_column(sa.Column("home_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_poll_turnout_home", "home", ["home_id"], ["id"])
        batch_op.alter_column("person_id", existing_type=sa.Integer(), nullable=True)
    _rekey_voters(["poll_id", "person_id", "unit"])
    op.create_table(
        "poll_paper",
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("unit", _text(32), nullable=False),
        sa.Column("home_id", sa.Integer(), nullable=False),
        sa.Column("method", _text(8), nullable=False),
        sa.Column("collector", _text(50), nullable=False),
        sa.Column("collected_at", TIME, nullable=False),
        sa.Column("photo_channel", _text(16), nullable=False),
        sa.Column("photo_ref", _text(200), nullable=False),
        sa.Column("sealed", sa.Boolean(), nullable=False),
        sa.Column("entered_by", sa.Integer(), nullable=True),
        sa.Column("entered_at", TIME, nullable=False),
        sa.Column("source", _text(8), nullable=False),
        sa.Column("voided_at", TIME, nullable=True),
        sa.Column("voided_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["poll_id"], ["poll.id"]),
        sa.ForeignKeyConstraint(["home_id"], ["home.id"]),
        sa.ForeignKeyConstraint(["entered_by"], ["person.id"]),
        sa.ForeignKeyConstraint(["voided_by"], ["person.id"]),
        sa.PrimaryKeyConstraint("poll_id", "unit"),
    )
    op.create_table(
        "poll_batch",
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("state", _text(10), nullable=False),
        sa.Column("ballots", sa.Text(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("entered_by", sa.Integer(), nullable=False),
        sa.Column("entered_at", TIME, nullable=False),
        sa.Column("confirmed_by", sa.Integer(), nullable=True),
        sa.Column("confirmed_at", TIME, nullable=True),
        sa.ForeignKeyConstraint(["poll_id"], ["poll.id"]),
        sa.ForeignKeyConstraint(["entered_by"], ["person.id"]),
        sa.ForeignKeyConstraint(["confirmed_by"], ["person.id"]),
        sa.PrimaryKeyConstraint("poll_id"),
    )
    op.create_table(
        "poll_stub",
        sa.Column("poll_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", _text(64), nullable=False),
        sa.Column("issued_at", TIME, nullable=False),
        sa.Column("used", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["poll_id"], ["poll.id"]),
        sa.PrimaryKeyConstraint("poll_id", "code_hash"),
    )
    op.create_table(
        "poll_proxy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("compound_id", sa.Integer(), nullable=False),
        sa.Column("home_id", sa.Integer(), nullable=False),
        sa.Column("poll_id", sa.Integer(), nullable=True),
        sa.Column("starts_on", sa.Date(), nullable=True),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("proxy_id", sa.Integer(), nullable=True),
        sa.Column("proxy_name", _text(50), nullable=False),
        sa.Column("code_hash", _text(64), nullable=False),
        sa.Column("code_expires_at", TIME, nullable=True),
        sa.Column("source", _text(8), nullable=False),
        sa.Column("granted_by", sa.Integer(), nullable=False),
        sa.Column("photo_channel", _text(16), nullable=False),
        sa.Column("photo_ref", _text(200), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("claimed_at", TIME, nullable=True),
        sa.Column("revoked_at", TIME, nullable=True),
        sa.Column("revoked_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["compound_id"], ["org_node.id"]),
        sa.ForeignKeyConstraint(["home_id"], ["home.id"]),
        sa.ForeignKeyConstraint(["poll_id"], ["poll.id"]),
        sa.ForeignKeyConstraint(["proxy_id"], ["person.id"]),
        sa.ForeignKeyConstraint(["granted_by"], ["person.id"]),
        sa.ForeignKeyConstraint(["revoked_by"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_poll_proxy_home", "poll_proxy", ["home_id"])
    op.create_index("ix_poll_proxy_proxy", "poll_proxy", ["proxy_id"])
    op.create_index("ix_poll_proxy_code_hash", "poll_proxy", ["code_hash"])


def downgrade() -> None:
    # The old schema names who cast every ballot: a paper ballot entered from the command line is put down to
    # the poll's author; with no author to name, the downgrade stops rather than lose a ballot.
    op.execute(
        "UPDATE poll_turnout SET person_id ="
        " (SELECT author_id FROM poll WHERE poll.id = poll_turnout.poll_id) WHERE person_id IS NULL"
    )
    unnamed = (
        op.get_bind().execute(sa.text("SELECT COUNT(*) FROM poll_turnout WHERE person_id IS NULL")).scalar()
    )
    if unnamed:
        raise RuntimeError(
            f"{unnamed} paper ballots were entered from the command line in polls without an author: "
            "the schema before 0016 cannot keep them"
        )
    op.drop_index("ix_poll_proxy_code_hash", table_name="poll_proxy")
    op.drop_index("ix_poll_proxy_proxy", table_name="poll_proxy")
    op.drop_index("ix_poll_proxy_home", table_name="poll_proxy")
    op.drop_table("poll_proxy")
    op.drop_table("poll_stub")
    op.drop_table("poll_batch")
    op.drop_table("poll_paper")
    # A voter in several units keeps one of them: the old key held one unit per person.
    op.execute(
        "DELETE FROM poll_voter WHERE EXISTS (SELECT 1 FROM poll_voter AS o"
        " WHERE o.poll_id = poll_voter.poll_id AND o.person_id = poll_voter.person_id"
        " AND o.unit < poll_voter.unit)"
    )
    _rekey_voters(["poll_id", "person_id"])
    with op.batch_alter_table("poll_turnout", schema=None) as batch_op:
        batch_op.alter_column("person_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_constraint("fk_poll_turnout_home", type_="foreignkey")
        batch_op.drop_column("home_id")
        batch_op.drop_column("channel")

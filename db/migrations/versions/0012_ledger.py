"""Statements of accounts (DESIGN §4.4): the tables of db/ledger/

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import db.types

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIME = db.types.UTCDateTime(timezone=True)


def _text(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "ledger_statement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("compound_id", sa.Integer(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("filer", _text(12), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=True),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("author_name", _text(100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("supersedes", sa.Integer(), nullable=True),
        sa.Column("change_note", _text(500), nullable=False),
        sa.Column("state", _text(10), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("published_at", TIME, nullable=True),
        sa.Column("notice_id", sa.Integer(), nullable=True),
        sa.Column("opening_fund_fen", sa.BigInteger(), nullable=False),
        sa.Column("opening_income_fen", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["compound_id"], ["org_node.id"]),
        sa.ForeignKeyConstraint(["company_id"], ["property_company.id"]),
        sa.ForeignKeyConstraint(["author_id"], ["person.id"]),
        sa.ForeignKeyConstraint(["supersedes"], ["ledger_statement.id"]),
        sa.ForeignKeyConstraint(["notice_id"], ["notice.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "compound_id", "period_start", "filer", "version", name="uq_ledger_statement_version"
        ),
    )
    op.create_index(
        "ix_ledger_statement_compound_period", "ledger_statement", ["compound_id", "period_start"]
    )
    op.create_index("ix_ledger_statement_company_id", "ledger_statement", ["company_id"])
    op.create_index("ix_ledger_statement_supersedes", "ledger_statement", ["supersedes"])
    op.create_table(
        "ledger_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("statement_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("side", _text(8), nullable=False),
        sa.Column("category", _text(16), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("note", _text(200), nullable=False),
        sa.Column("project", _text(100), nullable=False),
        sa.Column("poll_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["statement_id"], ["ledger_statement.id"]),
        sa.ForeignKeyConstraint(["poll_id"], ["poll.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("statement_id", "seq", name="uq_ledger_line_seq"),
    )
    op.create_index("ix_ledger_line_statement_id", "ledger_line", ["statement_id"])
    op.create_table(
        "ledger_voucher",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column("channel", _text(16), nullable=False),
        sa.Column("ref", _text(200), nullable=False),
        sa.ForeignKeyConstraint(["line_id"], ["ledger_line.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_ledger_voucher_line_id", "ledger_voucher", ["line_id"])
    op.create_table(
        "ledger_question",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("asked_by", sa.Integer(), nullable=False),
        sa.Column("asked_at", TIME, nullable=False),
        sa.Column("text", _text(500), nullable=False),
        sa.ForeignKeyConstraint(["line_id"], ["ledger_line.id"]),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"]),
        sa.ForeignKeyConstraint(["asked_by"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ticket_id"),
    )
    op.create_index("ix_ledger_question_line_id", "ledger_question", ["line_id"])
    op.create_table(
        "ledger_due",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("compound_id", sa.Integer(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("filer", _text(12), nullable=False),
        sa.Column("stage", _text(12), nullable=False),
        sa.Column("next_due_at", TIME, nullable=True),
        sa.Column("filer_reminded_at", TIME, nullable=True),
        sa.Column("community_reminded_at", TIME, nullable=True),
        sa.ForeignKeyConstraint(["compound_id"], ["org_node.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("compound_id", "period_start", "filer", name="uq_ledger_due"),
    )
    op.create_index("ix_ledger_due_next", "ledger_due", ["next_due_at"])
    op.create_table(
        "ledger_seed",
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("seeded_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("period_start"),
    )


def downgrade() -> None:
    op.drop_table("ledger_seed")
    op.drop_index("ix_ledger_due_next", table_name="ledger_due")
    op.drop_table("ledger_due")
    op.drop_index("ix_ledger_question_line_id", table_name="ledger_question")
    op.drop_table("ledger_question")
    op.drop_index("ix_ledger_voucher_line_id", table_name="ledger_voucher")
    op.drop_table("ledger_voucher")
    op.drop_index("ix_ledger_line_statement_id", table_name="ledger_line")
    op.drop_table("ledger_line")
    op.drop_index("ix_ledger_statement_supersedes", table_name="ledger_statement")
    op.drop_index("ix_ledger_statement_company_id", table_name="ledger_statement")
    op.drop_index("ix_ledger_statement_compound_period", table_name="ledger_statement")
    op.drop_table("ledger_statement")

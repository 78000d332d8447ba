"""The tables of statements of accounts (收支公示, DESIGN §4.4).

A statement covers one compound and one period and is filed by the property company (fees and the income
of the common parts) or by the owners' committee (the maintenance fund). Every amount is in fen (integers).
A published statement is never changed: a correction is a new version (`version` + 1) whose `supersedes`
names the one it corrects, with a note of what changed. The rules in db/ledger/statements.py guard this.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Index, UniqueConstraint
from sqlmodel import Column, Field, SQLModel

from db.models import _time

FILERS = ("company", "committee")
STATES = ("draft", "published")


class LedgerStatement(SQLModel, table=True):
    """One version of a compound's statement for one period, by one filer."""

    __tablename__ = "ledger_statement"
    __table_args__ = (
        UniqueConstraint(
            "compound_id", "period_start", "filer", "version", name="uq_ledger_statement_version"
        ),
        Index("ix_ledger_statement_compound_period", "compound_id", "period_start"),
    )

    id: int | None = Field(default=None, primary_key=True)
    compound_id: int = Field(foreign_key="org_node.id")
    period_start: date = Field(sa_column=Column(Date(), nullable=False))
    period_end: date = Field(sa_column=Column(Date(), nullable=False))  # the period's last day
    filer: str = Field(max_length=12)  # company | committee
    company_id: int | None = Field(default=None, foreign_key="property_company.id", index=True)
    author_id: int | None = Field(default=None, foreign_key="person.id")
    author_name: str = Field(default="", max_length=100)  # as a file named the author, when no person
    version: int = Field(default=1)
    supersedes: int | None = Field(default=None, foreign_key="ledger_statement.id", index=True)
    change_note: str = Field(default="", max_length=500)
    state: str = Field(default="draft", max_length=10)  # draft | published
    created_at: datetime = _time(nullable=False)
    published_at: datetime | None = _time(nullable=True)
    notice_id: int | None = Field(default=None, foreign_key="notice.id")
    # Carried over from the period before, in fen: the maintenance fund, and the common-part income.
    opening_fund_fen: int = Field(default=0, sa_column=Column(BigInteger(), nullable=False))
    opening_income_fen: int = Field(default=0, sa_column=Column(BigInteger(), nullable=False))


class LedgerLine(SQLModel, table=True):
    """One line of a statement: income or expense, its category, its amount in fen, its note; a fund line
    names its project and, where one exists, the owners' poll that approved it."""

    __tablename__ = "ledger_line"
    __table_args__ = (UniqueConstraint("statement_id", "seq", name="uq_ledger_line_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    statement_id: int = Field(foreign_key="ledger_statement.id", index=True)
    seq: int  # 1, 2, … in the statement's order; a correction's diff pairs lines by it
    side: str = Field(max_length=8)  # income | expense
    category: str = Field(max_length=16)
    amount_fen: int = Field(sa_column=Column(BigInteger(), nullable=False))
    note: str = Field(default="", max_length=200)
    project: str = Field(default="", max_length=100)
    poll_id: int | None = Field(default=None, foreign_key="poll.id")


class LedgerVoucher(SQLModel, table=True):
    """A photo of a voucher (invoice, receipt) backing a line, as a channel's file reference."""

    __tablename__ = "ledger_voucher"

    id: int | None = Field(default=None, primary_key=True)
    line_id: int = Field(foreign_key="ledger_line.id", index=True)
    channel: str = Field(max_length=16)
    ref: str = Field(max_length=200)


class LedgerQuestion(SQLModel, table=True):
    """A resident's question about a line: the 物业收费 ticket it became; its answer shows under the line."""

    __tablename__ = "ledger_question"

    id: int | None = Field(default=None, primary_key=True)
    line_id: int = Field(foreign_key="ledger_line.id", index=True)
    ticket_id: int = Field(foreign_key="ticket.id", unique=True)
    asked_by: int = Field(foreign_key="person.id")
    asked_at: datetime = _time(nullable=False)
    text: str = Field(default="", max_length=500)  # what the resident asked, as they wrote it


class LedgerDue(SQLModel, table=True):
    """The reminders owed for one compound, period and filer while its statement is not published: the
    filer 30 days after the period ends, community staff 7 days later; each once (`stage` moves on)."""

    __tablename__ = "ledger_due"
    __table_args__ = (
        UniqueConstraint("compound_id", "period_start", "filer", name="uq_ledger_due"),
        Index("ix_ledger_due_next", "next_due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    compound_id: int = Field(foreign_key="org_node.id")
    period_start: date = Field(sa_column=Column(Date(), nullable=False))
    period_end: date = Field(sa_column=Column(Date(), nullable=False))
    filer: str = Field(max_length=12)  # company | committee
    stage: str = Field(default="filer", max_length=12)  # filer | community | done
    next_due_at: datetime | None = _time(nullable=True)
    filer_reminded_at: datetime | None = _time(nullable=True)
    community_reminded_at: datetime | None = _time(nullable=True)


class LedgerSeed(SQLModel, table=True):
    """A period whose due rows were written (once, when the job first saw the period ended)."""

    __tablename__ = "ledger_seed"

    period_start: date = Field(sa_column=Column(Date(), primary_key=True))
    seeded_at: datetime = _time(nullable=False)

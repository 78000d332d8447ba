"""The tables of owners' committee terms and 换届 (DESIGN §4.6): a compound's committees (业主委员会, or the
street's 物管会 standing in for one), their members and posts, and the handover an outgoing committee owes.

At most one committee is in office per compound: `current` is True for that one and NULL for every other,
and the unique constraint over (compound, current) lets the database refuse a second (NULLs never clash).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, Index, UniqueConstraint
from sqlmodel import Column, Field, SQLModel

from db.models import _time

KINDS = ("owners", "management")  # 业主委员会 | 物业管理委员会 (物管会)
STATES = ("in_office", "ended", "replaced")
# Posts: an owners' committee has 主任, 副主任, 委员; a 物管会 a chair from the street and representatives.
POSTS = ("chair", "deputy", "member", "street", "community", "owner")
HANDOVER_ITEMS = ("records", "seals", "accounts")


class Committee(SQLModel, table=True):
    """A committee of a compound over its term (both days inclusive), filed (备案) on a day."""

    __tablename__ = "committee"
    __table_args__ = (
        UniqueConstraint("compound_id", "current", name="uq_committee_current"),
        Index("ix_committee_next_due", "next_due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    compound_id: int = Field(foreign_key="org_node.id", index=True)
    kind: str = Field(max_length=12)  # owners | management
    starts_on: date = Field(sa_column=Column(Date(), nullable=False))
    ends_on: date = Field(sa_column=Column(Date(), nullable=False))
    filed_on: date | None = Field(default=None, sa_column=Column(Date(), nullable=True))
    state: str = Field(default="in_office", max_length=10)  # in_office | ended | replaced
    current: bool | None = Field(default=None)  # True while in office, NULL otherwise: one per compound
    installed_by_poll_id: int | None = Field(default=None, foreign_key="poll.id")
    chair_id: int | None = Field(default=None, foreign_key="person.id")
    created_by: int | None = Field(default=None, foreign_key="person.id")
    created_at: datetime = _time(nullable=False)
    ended_at: datetime | None = _time(nullable=True)
    # The reminders: which one is next (six | three | lapsed | ""), how many monthly ones went, and when.
    next_reminder: str = Field(default="", max_length=8)
    lapsed_sent: int = Field(default=0)
    next_due_at: datetime | None = _time(nullable=True)


class CommitteeMember(SQLModel, table=True):
    """A person serving on a committee, in a post."""

    __tablename__ = "committee_member"

    committee_id: int = Field(foreign_key="committee.id", primary_key=True)
    person_id: int = Field(foreign_key="person.id", primary_key=True, index=True)
    post: str = Field(max_length=10)


class Handover(SQLModel, table=True):
    """What an outgoing committee hands to the new one (records, seals, accounts) within 10 days."""

    __tablename__ = "committee_handover"
    __table_args__ = (Index("ix_committee_handover_next_due", "next_due_at"),)

    id: int | None = Field(default=None, primary_key=True)
    compound_id: int = Field(foreign_key="org_node.id", index=True)
    old_committee_id: int = Field(foreign_key="committee.id", unique=True)
    new_committee_id: int = Field(foreign_key="committee.id")
    items: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = _time(nullable=False)
    due_at: datetime = _time(nullable=False)
    done_at: datetime | None = _time(nullable=True)
    done_by: int | None = Field(default=None, foreign_key="person.id")
    reminders_sent: int = Field(default=0)  # overdue reminders to community staff, one a week
    next_due_at: datetime | None = _time(nullable=True)

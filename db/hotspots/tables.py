"""The tables of hot spots (DESIGN §4.7): each cluster the sweep found with its proactive ticket, the
tickets it gathers, and where the sweep's detection last stopped; plus the ticket indexes detection reads."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, Table
from sqlmodel import Field, SQLModel

from db.models import Ticket
from db.types import UTCDateTime

BUILDING, REPEAT = "building", "repeat"  # N tickets of a category in a building; a home reporting again


def _time(**kw: Any) -> Any:
    return Field(sa_column=Column(UTCDateTime(), **kw))


class HotSpot(SQLModel, table=True):
    """A cluster of tickets about one problem, and the one proactive ticket (主动发现) it opened."""

    __tablename__ = "hot_spot"
    __table_args__ = (
        # The latest cluster of a kind at a place (building or home) and category: does a new ticket join it.
        Index("ix_hot_spot_place", "kind", "place_id", "category", "opened_at"),
        Index("ix_hot_spot_compound_opened", "compound_id", "opened_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # One cluster once, even with two sweepers: kind/place/category/the ticket that started its window.
    key: str = Field(max_length=80, unique=True)
    kind: str = Field(max_length=10)  # building | repeat
    place_id: int  # the building (building) or the home (repeat)
    category: str = Field(max_length=32)
    compound_id: int = Field(foreign_key="org_node.id")
    building_id: int = Field(foreign_key="org_node.id")
    home_id: int | None = Field(default=None, foreign_key="home.id")
    ticket_id: int = Field(foreign_key="ticket.id", unique=True)  # the proactive ticket
    since: datetime = _time(nullable=False)  # when its first ticket was filed
    last_at: datetime = _time(nullable=False)  # when its latest ticket was filed
    size: int = Field(default=0)  # how many residents' tickets it gathers
    opened_at: datetime = _time(nullable=False)
    # The one message to the building's residents (告知本楼居民): when, by whom, to how many.
    told_at: datetime | None = _time(nullable=True)
    told_by: int | None = Field(default=None, foreign_key="person.id")
    told_count: int = Field(default=0)


class HotSpotTicket(SQLModel, table=True):
    """A resident's ticket gathered into a cluster."""

    __tablename__ = "hot_spot_ticket"

    hot_spot_id: int = Field(foreign_key="hot_spot.id", primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", primary_key=True, index=True)
    joined_at: datetime = _time(nullable=False)


class HotSpotWatch(SQLModel, table=True):
    """Where detection stopped (the last ticket it looked at, by filing time and number), and the person
    the system files proactive tickets as. One row (id 1), locked while a sweeper detects."""

    __tablename__ = "hot_spot_watch"

    id: int | None = Field(default=None, primary_key=True)
    seen_at: datetime | None = _time(nullable=True)
    seen_id: int = Field(default=0)
    reporter_id: int | None = Field(default=None, foreign_key="person.id")


# The ticket indexes detection reads (migration 0015): new tickets by filing time; the tickets of a
# category in a building by filing time; a home's resolved tickets of a category by resolution time.
_TICKET: Table = Ticket.__table__  # type: ignore[attr-defined]
TICKET_INDEXES = (
    Index("ix_ticket_created", _TICKET.c.created_at, _TICKET.c.id),
    Index("ix_ticket_cluster", _TICKET.c.building_id, _TICKET.c.category, _TICKET.c.created_at),
    Index("ix_ticket_repeat", _TICKET.c.home_id, _TICKET.c.category, _TICKET.c.resolved_at),
)

"""The staff's ticket list as queries: filters read from a query string, a jurisdiction's tickets found by
them with keyset pagination, capped counts, the home page's queue counts and today's deadlines.

Pure query building: no web framework. Every query is limited to the compounds under the actor's
jurisdiction (`compounds_under`), so an index on `ticket.compound_id` keeps it to one community's rows
however many tickets the database holds, and no query counts more than `cap + 1` rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, func, or_, true
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from core.permissions import LEVEL_ROLE, Action, Actor, grants_for
from db.cases import clocks, states
from db.models import OrgNode, Person, Ticket, TicketEvent
from db.org import in_subtrees

STATE_GROUPS = {"open": states.OPEN_STATES, "closed": (states.RESOLVED, *states.ENDED_UNRESOLVED)}
ALL_STATES = (*states.OPEN_STATES, states.RESOLVED, *states.ENDED_UNRESOLVED)
LEVELS = ("grid", "community", "street", "department")
RATINGS = (*states.RATINGS, "unrated")
QUEUES = ("unassigned", "transfer", "overdue", "escalated", "waiting")
SORTS = ("newest", "oldest", "deadline", "updated")
MAX_TEXT = 100
MAX_LIMIT = 500
ROLE_LEVEL = {role: level for level, role in LEVEL_ROLE.items()}
NUMBER = re.compile(r"^#?\s*(\d{1,12})$")
# Made once: building aliases and adapting their columns costs more than the query on a page of rows.
_COMPOUND, _BUILDING, _HOLDER = aliased(OrgNode), aliased(OrgNode), aliased(Person)


@dataclass(frozen=True, slots=True)
class Filters:
    """What the staff member narrowed the list to; empty fields do not narrow it."""

    state: str = ""  # a state, or a group: open | closed
    category: str = ""
    sla_class: str = ""
    compound_id: int | None = None
    building_id: int | None = None
    grid_id: int | None = None
    holder_id: int | None = None
    unheld: bool = False  # holder=none: nobody holds it
    overdue: bool = False
    level: str = ""  # grid | community | street | department
    rating: str = ""  # satisfied | basically | dissatisfied | unrated
    created_from: date | None = None  # local days, both ends included
    created_to: date | None = None
    text: str = ""  # in the description or a timeline note
    number: int | None = None
    queue: str = ""  # one of the home page's tiles: unassigned | transfer | overdue | escalated | waiting
    refused: tuple[str, ...] = field(default=())  # the parameters whose values were not understood

    def query(self, **changes: str) -> str:
        """The filters as a query string (what `parse` reads back), with some parameters changed."""
        pairs = {k: v for k, v in self.params().items() if v}
        pairs.update(changes)
        return urlencode({k: v for k, v in pairs.items() if v})

    def params(self) -> dict[str, str]:
        """The filters as query parameters, by name."""
        out: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "refused" or value in (None, "", False):
                continue
            if f.name == "unheld":
                out["holder"] = "none"
            elif f.name == "holder_id":
                out["holder"] = str(value)
            elif f.name in ("compound_id", "building_id", "grid_id"):
                out[f.name.removesuffix("_id")] = str(value)
            elif value is True:
                out[f.name] = "1"
            else:
                out[f.name] = str(value) if not isinstance(value, date) else value.isoformat()
        return out


def _id(value: str) -> int | None:
    return int(value) if value.isdigit() and 0 < int(value) < 2**53 else None


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        return None


def parse(
    query: Mapping[str, str], categories: Iterable[str] = (), sla_classes: Iterable[str] = ()
) -> Filters:
    """Filters from query parameters; a value that is not understood is left out and named in `refused`
    (the page says so), never an error."""
    known, classes = set(categories), set(sla_classes)
    values: dict[str, Any] = {}
    refused: list[str] = []

    def take(name: str, value: Any) -> None:
        if value is None or value == "":
            refused.append(name)
        else:
            values[name] = value

    def one_of(name: str, allowed: Iterable[str], raw: str) -> str | None:
        return raw if raw in allowed else None

    for name, raw in query.items():
        raw = (raw or "").strip()
        if not raw:
            continue
        if name == "state":
            take("state", one_of(name, (*STATE_GROUPS, *ALL_STATES), raw))
        elif name == "category":
            take("category", raw if raw in known or (not known and len(raw) <= 32) else None)
        elif name == "sla_class":
            take("sla_class", raw if raw in classes or (not classes and len(raw) <= 16) else None)
        elif name in ("compound", "building", "grid"):
            take(f"{name}_id", _id(raw))
        elif name == "holder":
            if raw == "none":
                values["unheld"] = True
            else:
                take("holder_id", _id(raw))
        elif name == "overdue":
            values["overdue"] = raw in ("1", "true", "on", "yes")
        elif name == "level":
            take("level", one_of(name, LEVELS, raw))
        elif name == "rating":
            take("rating", one_of(name, RATINGS, raw))
        elif name in ("created_from", "created_to"):
            take(name, _day(raw))
        elif name == "text":
            values["text"] = raw[:MAX_TEXT]
        elif name == "number":
            found = NUMBER.match(raw)
            take("number", _id(found.group(1)) if found else None)
        elif name == "queue":
            take("queue", one_of(name, QUEUES, raw))
    return Filters(**values, refused=tuple(refused))


# --- where: the jurisdiction --------------------------------------------------------------------------


def paths_of(actor: Actor, action: Action = Action.VIEW_QUEUE) -> list[str]:
    """The org paths the actor answers for, for the action."""
    return [g.path for g in grants_for(actor, action)]


def compounds_under(session: Session, paths: Sequence[str]) -> list[int]:
    """The ids of the compounds under the paths: where the policy's `covers` holds a ticket (its target is
    its compound's path, so a grant below a compound covers none)."""
    if not paths:
        return []
    found = session.exec(
        select(OrgNode.id).where(OrgNode.kind == "compound", in_subtrees(col(OrgNode.path), paths))
    ).all()
    return sorted(i for i in found if i is not None)


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose list: the compounds of the jurisdiction, the actor's staffed (level, node) pairs for
    "escalated to me", the time now and the local zone for days."""

    compound_ids: tuple[int, ...]
    now: datetime
    zone: ZoneInfo
    staffs: tuple[tuple[str, int], ...] = ()


def scope_for(session: Session, actor: Actor, now: datetime, zone: ZoneInfo) -> Scope:
    """The actor's ticket-list scope (empty compounds: nothing to list)."""
    mine = grants_for(actor, Action.VIEW_QUEUE)
    staffs = tuple((ROLE_LEVEL[g.role], g.node_id) for g in mine if g.role in ROLE_LEVEL)
    return Scope(tuple(compounds_under(session, [g.path for g in mine])), now, zone, staffs)


# --- the conditions -----------------------------------------------------------------------------------


def overdue_sql(now: datetime) -> ColumnElement[bool]:
    """`core.ticket_views.overdue` as SQL: the running accept or resolve clock has run out."""
    return and_(
        col(Ticket.paused_at).is_(None),
        col(Ticket.clock_stage).in_((clocks.ACCEPT, clocks.RESOLVE)),
        col(Ticket.clock_due_at) <= now,
    )


def _climbed() -> ColumnElement[bool]:
    """It reached its level by climbing (a breach, or 不满意), as `core.ticket_views.queue_for` says."""
    return (
        select(TicketEvent.id)
        .where(TicketEvent.ticket_id == Ticket.id, col(TicketEvent.kind).in_(("escalated", "reopened")))
        .exists()
    )


def queue_condition(queue: str, scope: Scope) -> ColumnElement[bool]:
    """One of the home page's queues as a condition on open tickets (the chat's /queue sections, and
    waiting for the resident)."""
    is_open = col(Ticket.state).in_(states.OPEN_STATES)
    if queue == "unassigned":
        return and_(is_open, col(Ticket.holder_id).is_(None))
    if queue == "transfer":
        return and_(is_open, col(Ticket.transfer_requested_by).is_not(None))
    if queue == "overdue":
        return and_(is_open, overdue_sql(scope.now))
    if queue == "waiting":
        return col(Ticket.state) == states.WAITING
    if queue == "escalated":
        mine = [and_(col(Ticket.level) == lv, col(Ticket.holder_node_id) == n) for lv, n in scope.staffs]
        return and_(is_open, or_(*mine), _climbed()) if mine else and_(is_open, col(Ticket.id) == -1)
    raise ValueError(queue)


def like(text: str) -> str:
    """A LIKE pattern matching the text anywhere, its % and _ taken literally (escape character \\)."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _local_start(day: date, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


def conditions(filters: Filters, scope: Scope) -> list[ColumnElement[bool]]:
    """The filters (and the jurisdiction) as SQL conditions on `ticket`."""
    found: list[ColumnElement[bool]] = [col(Ticket.compound_id).in_(scope.compound_ids or (-1,))]
    f = filters
    if f.state in STATE_GROUPS:
        found.append(col(Ticket.state).in_(STATE_GROUPS[f.state]))
    elif f.state:
        found.append(col(Ticket.state) == f.state)
    if f.category:
        found.append(col(Ticket.category) == f.category)
    if f.sla_class:
        found.append(col(Ticket.sla_class) == f.sla_class)
    for name in ("compound_id", "building_id", "grid_id", "holder_id"):
        value = getattr(f, name)
        if value is not None:
            found.append(getattr(Ticket, name) == value)
    if f.unheld:
        found.append(col(Ticket.holder_id).is_(None))
    if f.overdue:
        found.append(and_(col(Ticket.state).in_(states.OPEN_STATES), overdue_sql(scope.now)))
    if f.level:
        found.append(col(Ticket.level) == f.level)
    if f.rating == "unrated":
        found.append(and_(col(Ticket.rating) == "", col(Ticket.resolved_at).is_not(None)))
    elif f.rating:
        found.append(col(Ticket.rating) == f.rating)
    if f.created_from is not None:
        found.append(col(Ticket.created_at) >= _local_start(f.created_from, scope.zone))
    if f.created_to is not None:
        found.append(col(Ticket.created_at) < _local_start(f.created_to + timedelta(days=1), scope.zone))
    if f.text:
        pattern = like(f.text)
        in_notes = (
            select(TicketEvent.id)
            .where(TicketEvent.ticket_id == Ticket.id, col(TicketEvent.note).like(pattern, escape="\\"))
            .exists()
        )
        found.append(or_(col(Ticket.description).like(pattern, escape="\\"), in_notes))
    if f.number is not None:
        found.append(col(Ticket.id) == f.number)
    if f.queue:
        found.append(queue_condition(f.queue, scope))
    return found


# --- the list -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Line:
    """A row of the list: the ticket with the names of its compound, building and holder."""

    ticket: Ticket
    compound: str
    building: str
    holder: str


@dataclass(frozen=True, slots=True)
class Found:
    """A page of the list, and the key of the next page (None: this is the last)."""

    lines: list[Line]
    after: str | None


def _sort_column(sort: str) -> Any:
    return {"deadline": Ticket.clock_due_at, "updated": Ticket.updated_at}.get(sort)


def _key(ticket: Ticket, sort: str) -> str:
    """A row's position in the sort, as the next page's `after` (value~id; the value empty for none)."""
    column = _sort_column(sort)
    value = getattr(ticket, column.key) if column is not None else None
    shown = value.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%f") if value is not None else ""
    return f"{shown}~{ticket.id}"


def _unkey(after: str) -> tuple[datetime | None, int] | None:
    """The sort value and id of `after`, or None when it is not one of ours."""
    value, _, ident = after.partition("~")
    number = _id(ident)
    if number is None:
        return None
    if not value:
        return None, number
    try:
        return datetime.strptime(value, "%Y%m%dT%H%M%S.%f").replace(tzinfo=UTC), number
    except ValueError:
        return None


def _order_and_after(sort: str, after: str) -> tuple[list[Any], ColumnElement[bool]]:
    """The ORDER BY of a sort, and the condition for the rows after the key (keyset pagination)."""
    key = _unkey(after) if after else None
    ident = col(Ticket.id)
    if sort in ("newest", "oldest") or sort not in SORTS:
        down = sort != "oldest"
        order: list[Any] = [ident.desc() if down else ident.asc()]
        if key is None:
            return order, true()
        return order, (ident < key[1]) if down else (ident > key[1])
    column = col(_sort_column(sort))
    if sort == "updated":  # never empty: most recent first
        order = [column.desc(), ident.desc()]
        if key is None or key[0] is None:
            return order, true()
        value, last = key
        return order, or_(column < value, and_(column == value, ident < last))
    # deadline: the nearest first, those without one last
    order = [column.is_(None), column.asc(), ident.asc()]
    if key is None:
        return order, true()
    value, last = key
    if value is None:
        return order, and_(column.is_(None), ident > last)
    return order, or_(column > value, and_(column == value, ident > last), column.is_(None))


def search(
    session: Session, scope: Scope, filters: Filters, sort: str = "newest", after: str = "", limit: int = 50
) -> Found:
    """A page of the jurisdiction's tickets matching the filters, in the sort, after the key."""
    limit = max(1, min(limit, MAX_LIMIT))
    order, later = _order_and_after(sort, after)
    compound, building, holder = _COMPOUND, _BUILDING, _HOLDER
    rows = session.exec(
        select(Ticket, compound.name, building.name, holder.name)
        .join(compound, col(compound.id) == Ticket.compound_id, isouter=True)
        .join(building, col(building.id) == Ticket.building_id, isouter=True)
        .join(holder, col(holder.id) == Ticket.holder_id, isouter=True)
        .where(*conditions(filters, scope), later)
        .order_by(*order)
        .limit(limit + 1)
    ).all()
    lines = [Line(t, c or "", b or "", h or "") for t, c, b, h in rows[:limit]]
    more = len(rows) > limit
    return Found(lines, _key(lines[-1].ticket, sort) if more and lines else None)


def count(session: Session, scope: Scope, filters: Filters, cap: int = 1000) -> int:
    """How many tickets match, counting at most `cap + 1` (more than `cap` is shown as "cap+")."""
    inner = select(Ticket.id).where(*conditions(filters, scope)).limit(cap + 1).subquery()
    return int(session.exec(select(func.count()).select_from(inner)).one())


def shown_count(found: int, cap: int = 1000) -> str:
    """A capped count as staff read it: "1000+" beyond the cap."""
    return f"{cap}+" if found > cap else str(found)


def each(session: Session, scope: Scope, filters: Filters, limit: int) -> list[Line]:
    """Every matching ticket up to `limit` (oldest first, for an export), read a page at a time."""
    out: list[Line] = []
    after = ""
    while len(out) < limit:
        page = search(session, scope, filters, "oldest", after, min(MAX_LIMIT, limit - len(out)))
        out.extend(page.lines)
        if page.after is None:
            break
        after = page.after
    return out


# --- the home page ------------------------------------------------------------------------------------


def queue_counts(session: Session, scope: Scope, cap: int = 1000) -> dict[str, int]:
    """The home page's tiles: how many open tickets of the jurisdiction are unassigned, asked to be
    transferred, overdue, escalated to this person's level, and waiting for the resident (each capped)."""
    return {q: count(session, scope, Filters(queue=q), cap) for q in QUEUES}


def due_today(session: Session, scope: Scope, limit: int = 20) -> list[Line]:
    """The open tickets of the jurisdiction whose running clock runs out today (local day), nearest first,
    those already overdue today included."""
    local = scope.now.astimezone(scope.zone).date()
    start, end = _local_start(local, scope.zone), _local_start(local + timedelta(days=1), scope.zone)
    compound, building, holder = _COMPOUND, _BUILDING, _HOLDER
    rows = session.exec(
        select(Ticket, compound.name, building.name, holder.name)
        .join(compound, col(compound.id) == Ticket.compound_id, isouter=True)
        .join(building, col(building.id) == Ticket.building_id, isouter=True)
        .join(holder, col(holder.id) == Ticket.holder_id, isouter=True)
        .where(
            col(Ticket.compound_id).in_(scope.compound_ids or (-1,)),
            col(Ticket.state).in_(states.OPEN_STATES),
            col(Ticket.paused_at).is_(None),
            col(Ticket.clock_stage).in_((clocks.ACCEPT, clocks.RESOLVE)),
            col(Ticket.clock_due_at) >= start,
            col(Ticket.clock_due_at) < end,
        )
        .order_by(col(Ticket.clock_due_at), col(Ticket.id))
        .limit(limit)
    ).all()
    return [Line(t, c or "", b or "", h or "") for t, c, b, h in rows]

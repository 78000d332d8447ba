"""Reports over a jurisdiction and a period: load ticket records, group them, lay them out as rows or CSV.

Each row also counts the hot spots opened in the period (DESIGN §4.7): a hot spot's proactive ticket is
filed when the hot spot opens, so it is a record of the period like any other, marked `proactive`."""

from __future__ import annotations

import csv
import io
import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select as sa_select
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from core.permissions import outermost
from db.cases.states import ENDED_UNRESOLVED
from db.hotspots.tables import HotSpot
from db.models import Grid, OrgNode, Person, Ticket
from db.org import in_subtrees
from db.rates import GROUPS, Rates, Record, by_group, compute, percent

MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
DAYS = re.compile(r"^(\d{1,3})d$")
CSV_HEADER = (
    "group",
    "name",
    "filed",
    "open",
    "overdue",
    "unrated",
    "accept_due",
    "accepted_in_time",
    "response_rate_pct",
    "resolve_due",
    "resolved_in_time",
    "resolution_rate_pct",
    "rated",
    "satisfied",
    "satisfaction_rate_pct",
    "hotspots",
)


@dataclass(frozen=True, slots=True)
class TicketRecord(Record):
    """A rate record that also says whether the ticket is a hot spot's proactive ticket (主动发现)."""

    proactive: bool = False


@dataclass(frozen=True, slots=True)
class Period:
    """Tickets created in [start, end), and how to name the period."""

    start: datetime
    end: datetime
    label: str


def month(year: int, number: int, zone: ZoneInfo) -> Period:
    """A calendar month in local time."""
    start = datetime(year, number, 1, tzinfo=zone)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=zone)
    return Period(start, end, f"{year:04d}-{number:02d}")


def last_months(now: datetime, zone: ZoneInfo, count: int) -> list[Period]:
    """The `count` calendar months up to and including the current one, oldest first."""
    local = now.astimezone(zone)
    index = local.year * 12 + local.month - 1
    return [month(n // 12, n % 12 + 1, zone) for n in range(index - count + 1, index + 1)]


def by_period(records: Iterable[Record], periods: list[Period]) -> dict[str, list[Record]]:
    """The records split by the period each was created in (every period present, maybe empty); one
    query over the whole span and this split keep a year's trend to a single read. `periods` follow each
    other without gaps (as `last_months` gives them)."""
    split: dict[str, list[Record]] = {p.label: [] for p in periods}
    if not periods:
        return split
    # Compared in UTC, as the records' times are: comparing across time zones is several times slower.
    starts = [p.start.astimezone(UTC) for p in periods]
    end = periods[-1].end.astimezone(UTC)
    for record in records:
        index = bisect_right(starts, record.created_at) - 1
        if index >= 0 and record.created_at < end:
            split[periods[index].label].append(record)
    return split


def parse_period(text: str, now: datetime, zone: ZoneInfo) -> Period | None:
    """`2026-11` (a month), `7d`/`30d` (the last days up to now), or the current month when empty."""
    text = text.strip().lower()
    if not text:
        local = now.astimezone(zone)
        return month(local.year, local.month, zone)
    found = MONTH.match(text)
    if found:
        year, number = int(found.group(1)), int(found.group(2))
        return month(year, number, zone) if 2000 <= year <= 2100 and 1 <= number <= 12 else None
    found = DAYS.match(text)
    if found and 1 <= int(found.group(1)) <= 366:
        days = int(found.group(1))
        return Period(now - timedelta(days=days), now, f"{days}d")
    return None


def _outermost(nodes: Iterable[OrgNode]) -> list[OrgNode]:
    """The nodes without those lying under another one of them."""
    by_path = {n.path: n for n in nodes}
    return [by_path[p] for p in outermost(by_path)]


def load_records(
    session: Session, nodes: Iterable[OrgNode], period: Period, grid_id: int | None = None
) -> list[Record]:
    """The tickets created in the period whose compound lies under one of the nodes (and, given a grid,
    that belong to it), as rate records."""
    roots = _outermost(nodes)
    if not roots:
        return []
    compound = aliased(OrgNode)
    community = aliased(OrgNode)
    # Columns, not Ticket objects: a year of a street's tickets is tens of thousands of rows, and building
    # an ORM object for each costs several times the query.
    statement = (
        sa_select(
            col(Ticket.created_at),
            col(Ticket.accept_due_at),
            col(Ticket.accepted_at),
            col(Ticket.resolve_due_at),
            col(Ticket.resolved_at),
            col(Ticket.rating),
            col(Ticket.category),
            col(Ticket.state),
            col(Ticket.paused_at),
            col(Ticket.closed_at),
            col(Ticket.updated_at),
            col(Ticket.holder_id),
            col(compound.name),
            col(community.name),
            col(Grid.name),
            col(HotSpot.id),
        )
        .join(compound, col(compound.id) == Ticket.compound_id)
        .join(community, col(community.id) == compound.parent_id, isouter=True)
        .join(Grid, col(Grid.id) == Ticket.grid_id, isouter=True)
        .join(HotSpot, col(HotSpot.ticket_id) == Ticket.id, isouter=True)
        .where(
            in_subtrees(col(compound.path), [n.path for n in roots]),
            col(Ticket.created_at) >= period.start,
            col(Ticket.created_at) < period.end,
        )
    )
    if grid_id is not None:
        statement = statement.where(col(Ticket.grid_id) == grid_id)
    session.flush()  # the connection's read sees what this session wrote
    rows = session.connection().execute(statement.order_by(col(Ticket.id))).all()
    # Compounds of the same name in different communities are told apart by their community.
    communities: dict[str, set[str]] = {}
    for row in rows:
        communities.setdefault(row[12], set()).add(row[13] or "")
    holders = _holders(session, {row[11] for row in rows if row[11] is not None})
    records: list[Record] = []
    for (
        created_at,
        accept_due_at,
        accepted_at,
        resolve_due_at,
        resolved_at,
        rating,
        category,
        state,
        paused_at,
        closed_at,
        updated_at,
        holder_id,
        compound_name,
        community_name,
        grid_name,
        hot_spot_id,
    ) in rows:
        label = compound_name
        if len(communities[compound_name]) > 1:
            label = f"{community_name}/{compound_name}"
        ended = None
        if resolved_at is None and state in ENDED_UNRESOLVED:
            ended = closed_at or updated_at  # withdrawing leaves closed_at empty
        records.append(
            TicketRecord(
                created_at=created_at,
                accept_due_at=accept_due_at,
                accepted_at=accepted_at,
                resolve_due_at=resolve_due_at,
                resolved_at=resolved_at,
                rating=rating,
                grid=grid_name or "",
                category=category,
                compound=label,
                holder=holders.get(holder_id, "") if holder_id is not None else "",
                state=state,
                paused_at=paused_at,
                ended_at=ended,
                proactive=hot_spot_id is not None,
            )
        )
    return records


def compound_ids(session: Session, nodes: Iterable[OrgNode]) -> list[int]:
    """The compounds under the nodes (for counts kept per compound, such as hot spots)."""
    roots = _outermost(nodes)
    if not roots:
        return []
    found = session.exec(
        select(OrgNode.id).where(
            OrgNode.kind == "compound", in_subtrees(col(OrgNode.path), [n.path for n in roots])
        )
    ).all()
    return [i for i in found if i is not None]


def _holders(session: Session, ids: set[int]) -> dict[int, str]:
    """Holders' names by person id (one query); people of the same name are told apart by their number."""
    if not ids:
        return {}
    names = {
        i: n for i, n in session.exec(select(Person.id, Person.name).where(col(Person.id).in_(ids))) if i
    }
    shared = {n for n in names.values() if list(names.values()).count(n) > 1}
    return {i: f"{n} #{i}" if n in shared or not n else n for i, n in names.items()}


@dataclass(frozen=True, slots=True)
class Row:
    """One line of a report: which grouping, the group's display name, its counts and rates."""

    group: str  # total | grid | category | compound
    name: str
    rates: Rates
    hotspots: int = 0  # hot spots opened in the period (their proactive tickets among the records)


def proactive(record: Record) -> bool:
    """Whether a record is a hot spot's proactive ticket."""
    return bool(getattr(record, "proactive", False))


def report_rows(
    records: list[Record],
    now: datetime,
    category_name: Callable[[str], str] = str,
    no_grid: str = "—",
    total: str = "合计",
) -> list[Row]:
    """The total, then a row per grid, per category and per compound."""
    rows = [Row("total", total, compute(records, now), sum(1 for r in records if proactive(r)))]
    for group in GROUPS:
        spots = Counter(getattr(r, group) for r in records if proactive(r))
        for key, rates in by_group(records, now, group).items():
            name = category_name(key) if group == "category" else key
            rows.append(Row(group, name or no_grid, rates, spots[key]))
    return rows


def to_csv(rows: list[Row]) -> str:
    """The rows as CSV: counts, and the three rates as percentages (empty when nothing was due)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for row in rows:
        r = row.rates
        writer.writerow(
            [
                row.group,
                row.name,
                r.filed,
                r.open,
                r.overdue,
                r.unrated,
                r.accept_due,
                r.accepted_in_time,
                percent(r.response),
                r.resolve_due,
                r.resolved_in_time,
                percent(r.resolution),
                r.rated,
                r.satisfied,
                percent(r.satisfaction),
                row.hotspots,
            ]
        )
    return out.getvalue()

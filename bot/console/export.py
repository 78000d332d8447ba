"""The ticket list as a spreadsheet: the rows staff ask for (times to accept and resolve, who held it,
the rating), written as CSV (UTF-8 with a BOM, so Excel reads Chinese) or XLSX, with no cell a
spreadsheet could run as a formula."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from bot.console import sheets
from db.models import Person, TicketEvent
from db.ticket_search import Line

COLUMNS = (
    "number",
    "category",
    "state",
    "closure_kind",
    "urgency",
    "sla_class",
    "compound",
    "building",
    "created",
    "accepted",
    "resolved",
    "closed",
    "minutes_to_accept",
    "hours_to_resolve",
    "holders",
    "level",
    "rating",
    "rating_comment",
    "description",
)
# Who works a ticket, as the timeline names them: their acts make the holder chain.
HOLDING_KINDS = ("accepted", "progress", "asked", "resolved", "transfer_requested")
CHUNK = 500


def safe(value: object) -> str:
    """A cell's text that no spreadsheet runs as a formula: a risky first character gets an apostrophe."""
    text = "" if value is None else str(value)
    return sheets.text_cell(text)


def holder_chains(session: Session, ticket_ids: Sequence[int]) -> dict[int, list[str]]:
    """Who held each ticket, in order, from its timeline: the names it was assigned to and the people
    who worked it (repeats in a row shown once)."""
    chains: dict[int, list[str]] = {}
    for start in range(0, len(ticket_ids), CHUNK):
        part = list(ticket_ids[start : start + CHUNK])
        rows = session.exec(
            select(TicketEvent.ticket_id, TicketEvent.kind, TicketEvent.note, Person.name)
            .join(Person, col(Person.id) == TicketEvent.actor_id, isouter=True)
            .where(
                col(TicketEvent.ticket_id).in_(part),
                col(TicketEvent.kind).in_(("assigned", *HOLDING_KINDS)),
            )
            .order_by(col(TicketEvent.ticket_id), col(TicketEvent.at), col(TicketEvent.id))
        ).all()
        for ticket_id, kind, note, actor_name in rows:
            name = note if kind == "assigned" else actor_name
            chain = chains.setdefault(ticket_id, [])
            if name and (not chain or chain[-1] != name):
                chain.append(name)
    return chains


def _ending_with(chain: list[str], holder: str) -> list[str]:
    """The chain ending with who holds the ticket now (dispatch at filing names nobody on its event)."""
    return [*chain, holder] if holder and (not chain or chain[-1] != holder) else chain


def _minutes(start: datetime | None, end: datetime | None) -> int | str:
    return int((end - start).total_seconds() // 60) if start and end else ""


def _hours(start: datetime | None, end: datetime | None) -> float | str:
    return round((end - start).total_seconds() / 3600, 1) if start and end else ""


def rows(
    lines: Iterable[Line],
    chains: dict[int, list[str]],
    zone: ZoneInfo,
    word: Callable[[str, str], str],
) -> Iterable[list[Any]]:
    """The export's rows (without the header): `word(kind, key)` names categories, states, levels…"""

    def when(value: datetime | None) -> str:
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M") if value else ""

    for line in lines:
        t = line.ticket
        yield [
            t.id,
            word("category", t.category),
            word("state", t.state),
            word("closure", t.closure_kind) if t.closure_kind else "",
            word("urgency", "urgent" if t.urgent else "normal"),
            t.sla_class,
            line.compound,
            line.building,
            when(t.created_at),
            when(t.accepted_at),
            when(t.resolved_at),
            when(t.closed_at),
            _minutes(t.created_at, t.accepted_at),
            _hours(t.created_at, t.resolved_at),
            " → ".join(_ending_with(chains.get(t.id or 0, []), line.holder)),
            word("level", t.level),
            word("rating", t.rating) if t.rating else "",
            t.rating_comment,
            t.description,
        ]


def to_xlsx(header: Sequence[str], body: Iterable[list[Any]], title: str) -> bytes:
    """An XLSX workbook written as a stream (up to the export's 50 000 rows); every text cell is stored
    as a string made safe like the CSV's, so a copy pasted elsewhere stays harmless too."""
    from openpyxl import Workbook  # loaded when a workbook is written, not at every start

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31] or "tickets")
    sheet.append([safe(h) for h in header])
    for row in body:
        sheet.append([v if isinstance(v, int | float) else safe(v) for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()

"""审计: the audit log of staff actions (chat and console) under the desk's VIEW_AUDIT jurisdiction, newest
first, in keyset pages, filtered by action, person, subject and dates, and exported as CSV.

The log is append-only: this section only reads (`db.audit.entries`); no console route changes or removes
an entry.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session, col, select

from bot.console import sheets
from bot.console.desk import Desk, Kit, Refused, require
from core.permissions import Action, grants_for, outermost, path_ids
from db import audit
from db.models import AuditEntry, OrgNode, Person
from db.types import parse_id

ACTIONS = ("ticket.", "notice.", "poll.", "resident.", "org.", "grid.", "console.")
SUBJECTS = ("ticket", "notice", "poll", "residency", "person", "org")
EXPORT_LIMIT = 20_000  # rows in one export: a year of a busy street office
VALUE_WIDTH = 60  # characters of a before/after value shown on the page


@dataclass(frozen=True, slots=True)
class Filters:
    """The audit page's filters as the form sends them (strings), checked."""

    action: str = ""
    actor: str = ""
    subject: str = ""
    subject_id: str = ""
    since: str = ""
    until: str = ""

    def query_string(self, **more: object) -> str:
        """These filters (and more parameters) as a URL query, empty values left out."""
        pairs = {**{k: getattr(self, k) for k in self.__dataclass_fields__}, **more}
        return urlencode({k: v for k, v in pairs.items() if v not in ("", None)})


@dataclass(frozen=True, slots=True)
class Change:
    """One key an action changed: its value before and after, as short text."""

    key: str
    before: str
    after: str


def routes(kit: Kit) -> APIRouter:
    """GET /console/audit (the log) and GET /console/audit/export.csv (the filtered log); nothing else."""
    router = APIRouter()

    @router.get("/console/audit", include_in_schema=False)
    def audit_page(
        request: Request,
        action: str = "",
        actor: str = "",
        subject: str = "",
        subject_id: str = "",
        since: str = "",
        until: str = "",
        before_id: str = "",
    ) -> HTMLResponse:
        desk = kit.desk(request)
        require(desk, Action.VIEW_AUDIT)
        filters = Filters(action, actor[:60], subject, subject_id, since, until)
        with kit.sessions() as session:
            query = _query(kit, session, desk, filters)
            found = audit.entries(session, query, _number(before_id), audit.PAGE + 1)
            page, more = found[: audit.PAGE], len(found) > audit.PAGE
            lines = _lines(session, page)
        return kit.page(
            request,
            desk,
            "audit.html",
            filters=filters,
            actions=ACTIONS,
            subjects=SUBJECTS,
            lines=lines,
            first=bool(before_id),
            next_query=filters.query_string(before_id=page[-1].id) if more and page else "",
            export_query=filters.query_string(),
            first_query=filters.query_string(),
        )

    @router.get("/console/audit/export.csv", include_in_schema=False)
    def audit_export(
        request: Request,
        action: str = "",
        actor: str = "",
        subject: str = "",
        subject_id: str = "",
        since: str = "",
        until: str = "",
    ) -> Response:
        desk = kit.desk(request)
        require(desk, Action.VIEW_AUDIT)
        filters = Filters(action, actor[:60], subject, subject_id, since, until)
        words = kit.words(desk.locale)
        rows: list[list[sheets.Cell]] = []
        with kit.sessions() as session:
            query = _query(kit, session, desk, filters)
            before_id: int | None = None
            while len(rows) < EXPORT_LIMIT:  # keyset pages: never one huge read
                batch = audit.entries(session, query, before_id, 500)
                if not batch:
                    break
                rows.extend(_cells(kit, line, words) for line in _lines(session, batch))
                before_id = batch[-1].id
        header = [words["audit"]["columns"][key] for key in EXPORT_COLUMNS]
        stamp = kit.localtime(kit.clock.now(), "%Y%m%d-%H%M")
        return Response(
            sheets.csv_bytes(header, rows[:EXPORT_LIMIT]),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="linli-audit-{stamp}.csv"',
                "Cache-Control": "no-store",
            },
        )

    return router


# --- the query ------------------------------------------------------------------------------------


def _query(kit: Kit, session: Session, desk: Desk, filters: Filters) -> audit.Query:
    """The filters as a `db.audit.Query` over the desk's VIEW_AUDIT jurisdiction (400 when malformed)."""
    paths = tuple(outermost(g.path for g in grants_for(desk.actor, Action.VIEW_AUDIT)))
    if not paths:
        raise Refused(403, "not_allowed")
    if filters.action and filters.action not in ACTIONS:
        raise Refused(400, "bad_request")
    if filters.subject and filters.subject not in SUBJECTS:
        raise Refused(400, "bad_request")
    subject_id = _number(filters.subject_id.strip().removeprefix("#"))
    actor_id: int | None = None
    actor_ids: tuple[int, ...] | None = None
    who = filters.actor.strip()
    if who:
        number = _number(who.removeprefix("#"), strict=False)
        if number is not None:
            actor_id = number
        else:
            actor_ids = tuple(
                i
                for i in session.exec(
                    select(Person.id).where(col(Person.name).contains(who, autoescape=True)).limit(200)
                ).all()
                if i is not None
            )
    since = _day(kit, filters.since)
    until = _day(kit, filters.until)
    return audit.Query(
        paths=paths,
        action=filters.action,
        actor_id=actor_id,
        actor_ids=actor_ids,
        subject=filters.subject,
        subject_id=subject_id,
        since=since,
        until=until + timedelta(days=1) if until is not None else None,  # the whole last day
    )


def _number(text: str, strict: bool = True) -> int | None:
    """A positive id typed in a form; None when empty (or, not strict, when not a number at all)."""
    text = text.strip()
    if not text:
        return None
    found = parse_id(text)
    if found is not None:
        return found
    if strict:
        raise Refused(400, "bad_request")
    return None


def _day(kit: Kit, text: str) -> datetime | None:
    """The start of a local calendar day typed as 2026-11-30."""
    if not text:
        return None
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise Refused(400, "bad_request") from None
    return datetime.combine(day, time(), tzinfo=kit.zone)


# --- the lines ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Line:
    """An entry as the page shows it: the entry, who by name, where by name, and what changed."""

    entry: AuditEntry
    person: str
    place: str
    changes: list[Change]


def _lines(session: Session, entries: list[AuditEntry]) -> list[Line]:
    """The entries with their people's and places' names, read in two queries for the whole page."""
    people = {i for i in (e.actor_id for e in entries) if i is not None}
    names = (
        dict(session.exec(select(Person.id, Person.name).where(col(Person.id).in_(people))).all())
        if people
        else {}
    )
    nodes = {ids[-1] for ids in (path_ids(e.node_path) for e in entries) if ids}
    places = (
        dict(session.exec(select(OrgNode.id, OrgNode.name).where(col(OrgNode.id).in_(nodes))).all())
        if nodes
        else {}
    )
    lines = []
    for e in entries:
        ids = path_ids(e.node_path)
        person = names.get(e.actor_id, "") if e.actor_id is not None else ""
        lines.append(Line(e, person, places.get(ids[-1], "") if ids else "", changes(e.before, e.after)))
    return lines


def changes(before: dict[str, Any], after: dict[str, Any]) -> list[Change]:
    """The keys whose value differs between before and after, in key order, values shortened."""
    keys = sorted(set(before) | set(after))
    return [
        Change(key, _short(before.get(key)), _short(after.get(key)))
        for key in keys
        if before.get(key) != after.get(key)
    ]


def _short(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= VALUE_WIDTH else text[: VALUE_WIDTH - 1] + "…"


EXPORT_COLUMNS = (
    "id",
    "at",
    "person",
    "person_id",
    "role",
    "via",
    "action",
    "action_name",
    "subject",
    "subject_id",
    "place",
    "before",
    "after",
)


def _cells(kit: Kit, line: Line, words: dict[str, Any]) -> list[sheets.Cell]:
    """An entry as a CSV row (every text cell made formula-safe by `sheets.csv_bytes`)."""
    e = line.entry
    a = words["audit"]
    return [
        e.id,
        kit.localtime(e.at, "%Y-%m-%d %H:%M:%S"),
        line.person,
        e.actor_id,
        words["common"]["roles"].get(e.actor_role, e.actor_role),
        a["via"].get(e.via, e.via),
        e.action,
        a["actions"].get(e.action, e.action),
        a["subjects"].get(e.subject, e.subject),
        e.subject_id,
        line.place,
        json.dumps(e.before, ensure_ascii=False, sort_keys=True),
        json.dumps(e.after, ensure_ascii=False, sort_keys=True),
    ]

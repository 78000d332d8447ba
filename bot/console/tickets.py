"""工单: the jurisdiction's tickets as a list staff filter, sort and page through (keyset), save filters
of, act on in bulk (assign, close as duplicates) and export as CSV or XLSX.

Every query keeps to the compounds under the person's VIEW_QUEUE grants; every bulk action calls the
chat's own use cases (`core.tickets.assign`, `core.tickets.close_duplicate`) ticket by ticket, so the
policy decides each one as it does in the chat. No reporter is shown here to anyone (DESIGN §3).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.console import export, sheets
from bot.console.desk import Desk, Kit, PathId, Refused, number, require
from core import tickets as cases
from core.permissions import Action
from core.ticket_views import overdue
from db import ticket_choices as choices
from db import ticket_search as search
from db.models import SavedFilter, Ticket
from db.ticket_search import Filters, Scope

PAGE = 50
CAP = 1000
EXPORT_MAX = 50_000
MAX_BULK = 200
MAX_SAVED = 50
FORM_FIELDS = (
    *("state", "category", "sla_class", "compound", "building", "grid", "holder", "overdue", "level"),
    *("rating", "created_from", "created_to", "text", "number", "queue"),
)


def _filters(kit: Kit, params: Any) -> Filters:
    return search.parse(dict(params), kit.catalog.by_key, kit.policy.classes)


def _scope(kit: Kit, session: Session, desk: Desk) -> Scope:
    return search.scope_for(session, desk.actor, kit.clock.now(), kit.zone)


def _sort(value: str) -> str:
    return value if value in search.SORTS else "newest"


def _ids(values: list[str]) -> list[int]:
    """The ticked tickets' numbers (anything else dropped), in order, once each."""
    seen: dict[int, None] = {}
    for value in values:
        found = number(value)
        if found is not None:
            seen.setdefault(found, None)
    return list(seen)[:MAX_BULK]


def _back(query: str, **extra: str) -> str:
    """The list at a query (only our own parameters kept), with a result to show."""
    pairs = [(k, v) for k, v in parse_qsl(query) if k not in ("after", "ok", "no", "done", "export")]
    pairs += [(k, v) for k, v in extra.items() if v]
    return "/console/tickets" + ("?" + urlencode(pairs) if pairs else "")


def routes(kit: Kit) -> APIRouter:
    """GET /console/tickets (and its exports), the bulk actions and the saved filters."""
    router = APIRouter()

    @router.get("/console/tickets", include_in_schema=False)
    def listing(request: Request) -> HTMLResponse:
        desk = kit.desk(request)
        require(desk, Action.VIEW_QUEUE)
        params = request.query_params
        filters = _filters(kit, params)
        sort = _sort(params.get("sort", ""))
        after = params.get("after", "")[:80]
        with kit.sessions() as session:
            scope = _scope(kit, session, desk)
            found = search.search(session, scope, filters, sort, after, PAGE)
            total = search.count(session, scope, filters, CAP)
            ids = list(scope.compound_ids)
            shown = [filters.compound_id] if filters.compound_id in ids else ids  # its buildings only
            context: dict[str, Any] = {
                "compounds": choices.nodes(session, ids),
                "buildings": choices.buildings(session, shown),
                "grids": choices.grids(session, ids),
                "holders": choices.holders(session, ids),
                "workers": choices.workers(session, ids),
                "saved": session.exec(
                    select(SavedFilter)
                    .where(SavedFilter.person_id == desk.person_id)
                    .order_by(col(SavedFilter.name))
                ).all(),
            }
        query = filters.query(sort=sort if sort != "newest" else "")
        return kit.page(
            request,
            desk,
            "tickets.html",
            filters=filters,
            f={**dict.fromkeys(FORM_FIELDS, ""), **filters.params()},
            sort=sort,
            lines=found.lines,
            overdue={line.ticket.id for line in found.lines if overdue(line.ticket, scope.now)},
            next_href=f"/console/tickets?{filters.query(sort=sort, after=found.after or '')}",
            more=found.after is not None,
            first_href=f"/console/tickets?{query}" if after else "",
            sort_href={s: "/console/tickets?" + filters.query(sort=s) for s in search.SORTS},
            count=search.shown_count(total, CAP),
            query=query,
            categories=kit.catalog.ordered,
            sla_classes=sorted(kit.policy.classes),
            states=search.ALL_STATES,
            result=_result(params),
            **context,
        )

    @router.get("/console/tickets/export.{kind}", include_in_schema=False)
    def download(request: Request, kind: str) -> Response:
        desk = kit.desk(request)
        require(desk, Action.VIEW_QUEUE)
        if kind not in ("csv", "xlsx"):
            raise Refused(404, "not_found")
        filters = _filters(kit, request.query_params)
        with kit.sessions() as session:
            scope = _scope(kit, session, desk)
            if search.count(session, scope, filters, EXPORT_MAX) > EXPORT_MAX:
                return RedirectResponse(_back(str(request.url.query), done="too_many"), status_code=303)
            lines = search.each(session, scope, filters, EXPORT_MAX)
            chains = export.holder_chains(session, [line.ticket.id or 0 for line in lines])
        w = kit.words(desk.locale)["tickets"]
        body = export.rows(lines, chains, kit.zone, _namer(kit, w, desk.locale))
        header = [w["columns"][c] for c in export.COLUMNS]
        stamp = kit.clock.now().astimezone(kit.zone).strftime("%Y%m%d-%H%M")
        if kind == "csv":
            data, media = sheets.csv_bytes(header, body), "text/csv; charset=utf-8"
        else:
            data = export.to_xlsx(header, body, w["title"])
            media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        return Response(
            data,
            media_type=media,
            headers={
                "Content-Disposition": f'attachment; filename="tickets-{stamp}.{kind}"',
                "Cache-Control": "no-store",
            },
        )

    @router.post("/console/tickets/bulk", include_in_schema=False)
    async def bulk(request: Request, desk: Desk = Depends(kit.posting)) -> Response:
        require(desk, Action.VIEW_QUEUE)
        form = await request.form()
        action = str(form.get("action", ""))
        numbers = _ids([str(v) for v in form.getlist("ticket")])
        back = str(form.get("back", ""))[:1000]
        if action not in ("assign", "duplicate"):
            raise Refused(400, "bad_request")
        if not numbers:
            return RedirectResponse(_back(back, done="none"), status_code=303)
        other = number(str(form.get("worker" if action == "assign" else "original", "")))
        if other is None:
            return RedirectResponse(_back(back, done=f"{action}_missing"), status_code=303)
        done, refused = _apply(kit, desk, action, numbers, other)
        no = ",".join(f"{n}:{reason}" for n, reason in refused)
        return RedirectResponse(_back(back, done=action, ok=str(done), no=no), status_code=303)

    @router.post("/console/tickets/filters", include_in_schema=False)
    def save_filter(
        desk: Desk = Depends(kit.posting),
        name: str = Form("", max_length=200),
        query: str = Form("", max_length=1000),
    ) -> Response:
        require(desk, Action.VIEW_QUEUE)
        name = " ".join(name.split())[:60]
        kept = _clean_query(kit, query)
        if not name:
            return RedirectResponse(_back(query, done="name_missing"), status_code=303)
        with kit.sessions() as session:
            mine = session.exec(select(SavedFilter).where(SavedFilter.person_id == desk.person_id)).all()
            same = next((s for s in mine if s.name == name), None)
            if same is None and len(mine) >= MAX_SAVED:
                return RedirectResponse(_back(query, done="too_many_saved"), status_code=303)
            if same is not None:
                same.query = kept
            else:
                session.add(
                    SavedFilter(person_id=desk.person_id, name=name, query=kept, created_at=kit.clock.now())
                )
            try:
                session.commit()
            except IntegrityError:  # the same name saved twice at once: the other one stands
                session.rollback()
        return RedirectResponse(_back(kept, done="saved"), status_code=303)

    @router.post("/console/tickets/filters/{filter_id}/delete", include_in_schema=False)
    def delete_filter(filter_id: PathId, desk: Desk = Depends(kit.posting)) -> Response:
        require(desk, Action.VIEW_QUEUE)
        with kit.sessions() as session:
            found = session.get(SavedFilter, filter_id)
            if found is None or found.person_id != desk.person_id:
                raise Refused(404, "not_found")
            session.delete(found)
            session.commit()
        return RedirectResponse(_back("", done="deleted"), status_code=303)

    return router


def _clean_query(kit: Kit, query: str) -> str:
    """A query string as the list reads it: the understood filters and the sort, nothing else."""
    params = dict(parse_qsl(query[:1000]))
    filters = _filters(kit, params)
    sort = _sort(params.get("sort", ""))
    return filters.query(sort=sort if sort != "newest" else "")


def _apply(
    kit: Kit, desk: Desk, action: str, numbers: list[int], other: int
) -> tuple[int, list[tuple[int, str]]]:
    """Assign, or close as duplicates of `other`, each ticked ticket in one transaction; a ticket the
    rules refuse is reported with the reason and the others are still done. Refused (404) when none of
    them lies in the person's jurisdiction."""
    done = 0
    refused: list[tuple[int, str]] = []
    with kit.work() as work:
        scope = search.scope_for(work.session, desk.actor, work.now, kit.zone)
        inside = set(
            work.session.exec(
                select(Ticket.id).where(
                    col(Ticket.id).in_(numbers), col(Ticket.compound_id).in_(scope.compound_ids or (-1,))
                )
            ).all()
        )
        if not inside:
            raise Refused(404, "not_found")
        for number in numbers:
            if number not in inside:
                refused.append((number, "not_found"))
                continue
            try:
                with work.session.begin_nested():  # a refusal leaves nothing of this ticket behind
                    if action == "assign":
                        cases.assign(work, desk.actor, number, other)
                    else:
                        cases.close_duplicate(work, desk.actor, number, other)
                done += 1
            except cases.TicketError as error:
                refused.append((number, error.reason))
    return done, refused


def _result(params: Any) -> dict[str, Any] | None:
    """What the last action left to say (from the redirect's query), or None."""
    done = params.get("done", "")
    if not done:
        return None
    ok = params.get("ok", "")
    refused = []
    for part in params.get("no", "").split(",")[:MAX_BULK]:
        code, _, reason = part.partition(":")
        ticket = number(code)
        if ticket is not None and reason.isidentifier():
            refused.append((ticket, reason))
    return {"done": done[:30], "ok": number(ok) or 0, "refused": refused}


def _namer(kit: Kit, w: dict[str, Any], locale: str) -> Callable[[str, str], str]:
    """How the export names a category, state, level, rating, urgency or closure kind."""

    def name(kind: str, key: str) -> str:
        if kind == "category":
            return kit.category_name(key, locale)
        table = {
            "state": w["states"],
            "level": w["levels"],
            "rating": w["ratings"],
            "urgency": w["urgency"],
            "closure": w["closures"],
        }[kind]
        return str(table.get(key, key))

    return name

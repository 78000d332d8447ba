"""工作台: the console's first page — my queues as tiles that open the filtered list, today's deadlines,
and the three rates of my jurisdiction this month; built from what the policy lets this person do (an
owners' committee member sees the way to 表决 only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session

from bot.console.desk import Desk, Kit
from core import hotspots
from core.permissions import Action, grants_for
from core.work import Work
from db import reports
from db import ticket_search as search
from db.models import OrgNode
from db.rates import compute, percent

CAP = 1000
ALERT = ("overdue", "escalated", "transfer")  # tiles shown in the warning colour when not zero


def routes(kit: Kit) -> APIRouter:
    """GET /console."""
    router = APIRouter()

    @router.get("/console", include_in_schema=False)
    def home(request: Request) -> HTMLResponse:
        desk = kit.desk(request)
        context: dict[str, Any] = {"tiles": [], "due": [], "rates": None, "overdue": set(), "hotspots": None}
        with kit.sessions() as session:
            if desk.may(Action.VIEW_QUEUE):
                scope = search.scope_for(session, desk.actor, kit.clock.now(), kit.zone)
                counts = search.queue_counts(session, scope, CAP)
                context["tiles"] = [
                    (q, search.shown_count(n, CAP), f"/console/tickets?queue={q}", q in ALERT and n > 0)
                    for q, n in counts.items()
                ]
                context["due"] = search.due_today(session, scope)
                context["overdue"] = {
                    line.ticket.id
                    for line in context["due"]
                    if line.ticket.clock_due_at is not None and line.ticket.clock_due_at <= scope.now
                }
            if desk.may(Action.VIEW_STATS):
                context["rates"] = _rates(kit, session, desk)
                work = Work(session, kit.clock.now(), kit.policy, via="console")
                context["hotspots"] = len(hotspots.listed(work, desk.actor, current_only=True, limit=CAP))
        return kit.page(
            request,
            desk,
            "home.html",
            polls=desk.may(Action.RUN_POLL),
            queue=desk.may(Action.VIEW_QUEUE),
            **context,
        )

    return router


def _rates(kit: Kit, session: Session, desk: Desk) -> dict[str, Any]:
    """This month's three rates over the person's jurisdiction, with the fractions behind them."""
    now = kit.clock.now()
    period = reports.parse_period("", now, kit.zone)
    assert period is not None  # the current month always parses
    nodes = [session.get(OrgNode, g.node_id) for g in grants_for(desk.actor, Action.VIEW_STATS)]
    records = reports.load_records(session, [n for n in nodes if n is not None], period)
    r = compute(records, now)
    return {
        "period": period.label,
        "filed": r.filed,
        "response": (percent(r.response), r.accepted_in_time, r.accept_due),
        "resolution": (percent(r.resolution), r.resolved_in_time, r.resolve_due),
        "satisfaction": (percent(r.satisfaction), r.satisfied, r.rated),
    }

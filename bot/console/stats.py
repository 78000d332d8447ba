"""统计: the three rates of the desk's jurisdiction (DESIGN §4.1) over the last months and, for one month, by
grid, compound, category and handler, as charts with the numbers beside them, and the monthly report as
CSV and XLSX.

The numbers are the chat's /stats numbers: the same jurisdiction (`core.ticket_views.jurisdiction` for
VIEW_STATS), the same records (`db.reports.load_records`) and the same pure functions (`db.rates`). A trend
reads its whole span in one query and splits it by month in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from bot.console import charts, sheets
from bot.console.desk import Desk, Kit, Refused, require
from core.permissions import Action, may, place
from core.ticket_views import jurisdiction
from core.work import Work
from db import reports
from db.models import Grid, GridBuilding, OrgNode
from db.org import in_subtrees
from db.rates import Rates, Record, by_group, compute, percent
from db.types import parse_id
from handlers.stats import CHART_TEXT

RANGES = (6, 12)
GROUPS = ("grid", "compound", "category", "holder")  # the page's order: where, then what, then who


@dataclass(frozen=True, slots=True)
class Choice:
    """A node the rates can be narrowed to: `c<id>` a compound, `g<id>` a grid, with its label."""

    key: str
    label: str


@dataclass(frozen=True, slots=True)
class Scope:
    """What the numbers cover: the nodes to read, a grid to keep to, and how to name it."""

    nodes: list[OrgNode]
    grid_id: int | None
    label: str
    compounds: list[Choice]
    grids: list[Choice]


def routes(kit: Kit) -> APIRouter:
    """GET /console/stats, and the month's report as /console/stats/report.csv and .xlsx."""
    router = APIRouter()

    @router.get("/console/stats", include_in_schema=False)
    def stats_page(request: Request, node: str = "", month: str = "", months: str = "6") -> HTMLResponse:
        desk = kit.desk(request)
        require(desk, Action.VIEW_STATS)
        count = next((n for n in RANGES if str(n) == months.strip()), 0)
        if not count:
            raise Refused(400, "bad_request")
        now = kit.clock.now()
        period = _month(kit, month, now)
        words = kit.words(desk.locale)["stats"]
        periods = reports.last_months(now, kit.zone, count)
        span = reports.Period(periods[0].start, periods[-1].end, "")
        with kit.sessions() as session:
            scope = _scope(kit, session, desk, node)
            records = reports.load_records(session, scope.nodes, span, scope.grid_id)
            split = reports.by_period(records, periods)
            chosen = split.get(period.label)
            if chosen is None:  # a month before the trend's span: one more read
                chosen = reports.load_records(session, scope.nodes, period, scope.grid_id)
        series = tuple(words["series"])
        monthly = [compute(split[p.label], now) for p in periods]
        trend_title = words["trend_title"].format(n=count)
        trend = {
            "option": charts.trend(trend_title, scope.label, series, [p.label for p in periods], monthly),
            "rows": [_line(p.label, r) for p, r in zip(periods, monthly, strict=True)],
        }
        groups = _groups(kit, desk, chosen, now)
        by = [
            {
                "key": key,
                "option": charts.bars(
                    words["by"][key], f"{scope.label} · {period.label}", series, groups[key]
                ),
                "size": charts.size(len(groups[key])),
                "rows": [_line(name, rates) for name, rates in groups[key]],
            }
            for key in GROUPS
            if groups[key]
        ]
        total = compute(chosen, now)
        found = sum(1 for record in chosen if reports.proactive(record))
        return kit.page(
            request,
            desk,
            "stats.html",
            scope=scope,
            node=node,
            month=period.label,
            months=count,
            ranges=RANGES,
            trend=trend,
            by=by,
            total=_line(words["total"], total),
            hotspots=found,
            query=f"node={node}&month={period.label}",
        )

    @router.get("/console/stats/report.csv", include_in_schema=False)
    def report_csv(request: Request, node: str = "", month: str = "") -> Response:
        period, rows = _report(kit, request, node, month)
        safe = [reports.Row(r.group, sheets.text_cell(r.name), r.rates, r.hotspots) for r in rows]
        body = ("\ufeff" + reports.to_csv(safe)).encode("utf-8")  # the BOM lets Excel read the Chinese
        return _download(body, f"linli-report-{period.label}.csv", "text/csv; charset=utf-8")

    @router.get("/console/stats/report.xlsx", include_in_schema=False)
    def report_xlsx(request: Request, node: str = "", month: str = "") -> Response:
        period, rows = _report(kit, request, node, month)
        body = sheets.xlsx_bytes(period.label, reports.CSV_HEADER, [_cells(r) for r in rows])
        kind = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        return _download(body, f"linli-report-{period.label}.xlsx", kind)

    return router


# --- what the numbers cover -----------------------------------------------------------------------


def _month(kit: Kit, text: str, now: datetime) -> reports.Period:
    """The chosen month (`2026-11`; this month when empty); anything else is a bad request."""
    if text and not reports.MONTH.match(text.strip()):
        raise Refused(400, "bad_request")
    period = reports.parse_period(text[:7], now, kit.zone)
    if period is None:
        raise Refused(400, "bad_request")
    return period


def _scope(kit: Kit, session: Session, desk: Desk, key: str) -> Scope:
    """The desk's VIEW_STATS jurisdiction, narrowed to one compound or grid under it when chosen."""
    work = Work(session, kit.clock.now(), kit.policy, via="console")
    nodes = jurisdiction(work, desk.actor, Action.VIEW_STATS)
    if not nodes:
        raise Refused(403, "not_allowed")
    paths = [n.path for n in nodes]
    compounds = _compounds(session, paths)
    grids = _grids(session, paths)
    whole = "、".join(n.name for n in nodes)
    if not key:
        return Scope(nodes, None, whole, compounds, grids)
    kind, found = key[:1], parse_id(key[1:])
    if kind not in ("c", "g") or found is None:
        raise Refused(400, "bad_request")
    if kind == "c":
        node = session.get(OrgNode, found)
        if node is None or node.kind != "compound":
            raise Refused(404, "not_found")
        if not may(desk.actor, Action.VIEW_STATS, place(node.path)):
            raise Refused(403, "not_allowed")
        label = next((c.label for c in compounds if c.key == key), node.name)
        return Scope([node], None, label, compounds, grids)
    grid = session.get(Grid, found)
    if grid is None:
        raise Refused(404, "not_found")
    label = next((c.label for c in grids if c.key == key), "")
    if not label:  # none of the grid's buildings lies in the jurisdiction
        raise Refused(403, "not_allowed")
    # The grid's tickets within the jurisdiction (a grid may reach past a property company's compound).
    return Scope(nodes, grid.id, label, compounds, grids)


def _compounds(session: Session, paths: list[str]) -> list[Choice]:
    """The compounds under the jurisdiction, named with their community when names repeat."""
    community = aliased(OrgNode)
    rows = session.exec(
        select(OrgNode.id, OrgNode.name, community.name)
        .join(community, col(community.id) == OrgNode.parent_id, isouter=True)
        .where(OrgNode.kind == "compound", in_subtrees(col(OrgNode.path), paths))
        .order_by(col(OrgNode.path))
    ).all()
    return _choices("c", [(i, name, parent or "") for i, name, parent in rows if i is not None])


def _grids(session: Session, paths: list[str]) -> list[Choice]:
    """The grids with a building under the jurisdiction, named with their community when names repeat."""
    building = aliased(OrgNode)
    community = aliased(OrgNode)
    rows = session.exec(
        select(Grid.id, Grid.name, community.name)
        .join(GridBuilding, col(GridBuilding.grid_id) == Grid.id)
        .join(building, col(building.id) == GridBuilding.building_id)
        .join(community, col(community.id) == Grid.community_id)
        .where(in_subtrees(col(building.path), paths))
        .distinct()
        .order_by(col(community.name), col(Grid.name))
    ).all()
    return _choices("g", [(i, name, parent) for i, name, parent in rows if i is not None])


def _choices(prefix: str, rows: list[tuple[int, str, str]]) -> list[Choice]:
    names = [name for _, name, _ in rows]
    return [
        Choice(f"{prefix}{i}", f"{parent} / {name}" if names.count(name) > 1 else name)
        for i, name, parent in rows
    ]


# --- the numbers ----------------------------------------------------------------------------------


def _groups(kit: Kit, desk: Desk, records: list[Record], now: datetime) -> dict[str, list[tuple[str, Rates]]]:
    """The month's rates per grid, compound, category and holder, named for the desk."""
    words = kit.words(desk.locale)["stats"]
    found: dict[str, list[tuple[str, Rates]]] = {}
    for key in GROUPS:
        found[key] = [
            (_name(kit, desk, key, name, words), rates) for name, rates in by_group(records, now, key).items()
        ]
    return found


def _name(kit: Kit, desk: Desk, key: str, name: str, words: dict[str, Any]) -> str:
    if key == "category":
        return kit.category_name(name, desk.locale)
    if not name:
        return str(
            CHART_TEXT.get(desk.locale, CHART_TEXT["zh_CN"])["no_grid"] if key == "grid" else words["nobody"]
        )
    return name


def _line(name: str, rates: Rates) -> dict[str, Any]:
    """One line of a numbers table: each rate as a percentage and as part / whole (None: nothing due)."""
    return {
        "name": name,
        "filed": rates.filed,
        "open": rates.open,
        "overdue": rates.overdue,
        "unrated": rates.unrated,
        "rates": [
            _rate(rates.accepted_in_time, rates.accept_due, percent(rates.response)),
            _rate(rates.resolved_in_time, rates.resolve_due, percent(rates.resolution)),
            _rate(rates.satisfied, rates.rated, percent(rates.satisfaction)),
        ],
    }


def _rate(part: int, whole: int, pct: str) -> dict[str, Any] | None:
    return {"pct": pct, "part": part, "whole": whole} if whole else None


# --- the monthly report ---------------------------------------------------------------------------


def _report(kit: Kit, request: Request, node: str, month: str) -> tuple[reports.Period, list[reports.Row]]:
    """The month's report rows for the desk's (narrowed) jurisdiction: those of `linli report`."""
    desk = kit.desk(request)
    require(desk, Action.VIEW_STATS)
    now = kit.clock.now()
    period = _month(kit, month, now)
    with kit.sessions() as session:
        scope = _scope(kit, session, desk, node)
        records = reports.load_records(session, scope.nodes, period, scope.grid_id)
    words = CHART_TEXT.get(desk.locale, CHART_TEXT["zh_CN"])
    rows = reports.report_rows(
        records,
        now,
        category_name=lambda key: kit.category_name(key, desk.locale),
        no_grid=words["no_grid"],
        total=words["total"],
    )
    return period, rows


def _cells(row: reports.Row) -> list[sheets.Cell]:
    """A report row as spreadsheet cells: the CSV's columns, rates as numbers (empty: nothing due)."""
    r = row.rates
    return [
        row.group,
        row.name,
        r.filed,
        r.open,
        r.overdue,
        r.unrated,
        r.accept_due,
        r.accepted_in_time,
        charts.value(r.response),
        r.resolve_due,
        r.resolved_in_time,
        charts.value(r.resolution),
        r.rated,
        r.satisfied,
        charts.value(r.satisfaction),
        row.hotspots,
    ]


def _download(body: bytes, name: str, kind: str) -> Response:
    return Response(
        body,
        media_type=kind,
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )

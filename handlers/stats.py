"""`/stats [period]`: the three rates and counts for a staff member's jurisdiction, as a table and a chart,
then the current hot spots (主动发现); and the hot-spot card's button that tells a building once."""

from __future__ import annotations

import logging
from fractions import Fraction
from typing import Any, TypedDict

from core import actions, hotspots
from core.permissions import Action
from core.ticket_views import jurisdiction
from db import reports
from db.hotspots import detect
from db.rates import GROUPS, Rates, percent
from handlers import chart
from handlers.common import stale
from handlers.context import Context
from handlers.flows import Command, Flow
from handlers.types import Attachment, Button, Reply

log = logging.getLogger(__name__)


class ChartWords(TypedDict):
    """The few words of the chart and the table's own rows, in one locale."""

    series: tuple[str, str, str]
    grid: str
    category: str
    compound: str
    no_grid: str
    total: str


# The chart is an image, not a template: its few words live here, per locale.
CHART_TEXT: dict[str, ChartWords] = {
    "zh_CN": {
        "series": ("响应率", "解决率", "满意率"),
        "grid": "按网格",
        "category": "按类别",
        "compound": "按小区",
        "no_grid": "未划网格",
        "total": "合计",
    },
    "en": {
        "series": ("Response", "Resolution", "Satisfaction"),
        "grid": "By grid",
        "category": "By category",
        "compound": "By compound",
        "no_grid": "No grid",
        "total": "Total",
    },
}


FIGURE_SPACE = "\u2007"  # as wide as a digit: numbers stay aligned from line to line in any font
CELL = 6  # "100.0%"


def aligned(pct: str) -> str:
    """A rate as a fixed-width cell (" 50.0%", "100.0%", "—" for none), padded with figure spaces."""
    shown = f"{pct}%" if pct else "—"
    return shown.rjust(CELL, FIGURE_SPACE)


def _cell(part: int, whole: int, value: Fraction | None) -> dict[str, Any]:
    pct = percent(value)
    return {"pct": pct, "part": part, "whole": whole, "cell": aligned(pct)}


def _row(row: reports.Row) -> dict[str, Any]:
    r: Rates = row.rates
    return {
        "group": row.group,
        "name": row.name,
        "filed": r.filed,
        "open": r.open,
        "overdue": r.overdue,
        "unrated": r.unrated,
        "response": _cell(r.accepted_in_time, r.accept_due, r.response),
        "resolution": _cell(r.resolved_in_time, r.resolve_due, r.resolution),
        "satisfaction": _cell(r.satisfied, r.rated, r.satisfaction),
    }


def _float(value: Fraction | None) -> float | None:
    return None if value is None else float(value * 100)


def stats(ctx: Context, args: str) -> list[Reply]:
    """The rates for the period named in `args` (`2026-11`, `7d`, `30d`; default this month)."""
    nodes = jurisdiction(ctx.work, ctx.actor(), Action.VIEW_STATS)
    if not nodes:
        return [Reply("queue.not_staff")]
    period = reports.parse_period(args, ctx.now, ctx.policy.zone)
    if period is None:
        return [Reply("stats.bad_period", {"given": args[:20]})]
    scope = "、".join(n.name for n in nodes)
    records = reports.load_records(ctx.session, nodes, period)
    context: dict[str, Any] = {"period": period.label, "scope": scope}
    spots = _hot_spots(ctx)
    if not records:
        return [Reply("stats.empty", context), *spots]
    words = CHART_TEXT.get(ctx.locale, CHART_TEXT["zh_CN"])
    rows = reports.report_rows(
        records,
        ctx.now,
        category_name=lambda key: _category(ctx, key),
        no_grid=words["no_grid"],
        total=words["total"],
    )
    context["rows"] = [_row(r) for r in rows]
    context["hotspots"] = detect.opened_between(
        ctx.session, reports.compound_ids(ctx.session, nodes), period.start, period.end
    )
    photos = []
    name = _draw(ctx, rows, words, f"{scope} · {period.label}")
    if name is not None:
        photos.append(Attachment("photo", name))
    return [Reply("stats.table", context, photos=photos), *spots]


def _hot_spots(ctx: Context) -> list[Reply]:
    """The current hot spots of the jurisdiction, when there are any."""
    lines = hotspots.listed(ctx.work, ctx.actor(), current_only=True, limit=20)
    if not lines:
        return []
    shown = [
        {
            "ticket_id": line.ticket_id,
            "category": line.category,
            "kind": line.kind,
            "compound": line.compound,
            "building": line.building,
            "size": line.size,
            "since": line.since.isoformat(),
            "told": line.told_at is not None,
        }
        for line in lines
    ]
    return [Reply("hotspots.list", {"lines": shown})]


def on_press(ctx: Context, press: actions.HotSpotPress) -> list[Reply]:
    """告知本楼居民 on a hot spot's card: ask first, then tell the building once."""
    spot_id = press.spot
    if spot_id is None:
        return [stale()]
    try:
        if press.verb == "x":
            return [Reply("hotspots.not_now")]
        if press.verb == "t":
            spot = hotspots.check_tell(ctx.work, ctx.actor(), spot_id)
            line, _ = hotspots.one(ctx.work, ctx.actor(), spot_id)
            count = hotspots.audience_size(ctx.work, spot)
            buttons = [
                [
                    Button.of(actions.HotSpotPress("ok", spot=spot_id), "hotspots.btn_tell_ok", primary=True),
                    Button.of(actions.HotSpotPress("x", spot=spot_id), "hotspots.btn_not_now"),
                ]
            ]
            context = {"code": spot.ticket_id, "where": f"{line.compound} {line.building}", "count": count}
            return [Reply("hotspots.ask_tell", context, buttons)]
        told = hotspots.tell(ctx.work, ctx.actor(), spot_id)
        line, _ = hotspots.one(ctx.work, ctx.actor(), spot_id)
        where = f"{line.compound} {line.building}"
        return [
            Reply("hotspots.told_done", {"code": told.ticket_id, "where": where, "count": told.recipients})
        ]
    except hotspots.HotSpotError as error:
        return [Reply(f"hotspots.{error.reason}")]


FLOW = Flow("", {"/stats": Command(stats)}, press=actions.HotSpotPress, on_press=on_press)


def _category(ctx: Context, key: str) -> str:
    category = ctx.catalog.get(key)
    return category.name(ctx.locale) if category else key


def _draw(ctx: Context, rows: list[reports.Row], words: ChartWords, title: str) -> str | None:
    """The chart's file name under ctx.files_dir, or None when it cannot be drawn (the table stands)."""
    if ctx.files_dir is None:
        return None
    panels = [
        chart.Panel(
            words[group],
            [
                (
                    row.name,
                    (
                        _float(row.rates.response),
                        _float(row.rates.resolution),
                        _float(row.rates.satisfaction),
                    ),
                )
                for row in rows
                if row.group == group
            ],
        )
        for group in GROUPS
    ]
    try:
        return chart.draw(panels, words["series"], title, ctx.files_dir)
    except Exception:  # a chart is a bonus: never lose the answer over it
        log.exception("drawing the /stats chart failed")
        return None

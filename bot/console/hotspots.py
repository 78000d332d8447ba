"""热点 (DESIGN §4.7): the hot spots the sweep found in the desk's jurisdiction — current ones (their
proactive ticket still open) first, then recent ones — each with the tickets it gathers and its proactive
ticket, and the one-time 告知本楼居民 for a building's hot spot."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from bot.console.desk import Desk, Kit, PathId, Refused, require
from core import hotspots
from core.permissions import Action
from core.work import Work
from db.hotspots import detect

SHOWN = 100
DONE = ("told", "already_told", "not_building")


def routes(kit: Kit) -> APIRouter:
    """GET /console/hotspots, POST /console/hotspots/{id}/tell."""
    router = APIRouter()

    @router.get("/console/hotspots", include_in_schema=False)
    def hot_spots(request: Request, show: str = "current", done: str = "", spot: int = 0) -> HTMLResponse:
        desk = kit.desk(request)
        require(desk, Action.VIEW_STATS)
        if show not in ("current", "all") or (done and done not in DONE):
            raise Refused(400, "bad_request")
        with kit.sessions() as session:
            work = Work(session, kit.clock.now(), kit.policy, via="console")
            try:
                lines = hotspots.listed(work, desk.actor, current_only=show == "current", limit=SHOWN)
            except hotspots.HotSpotError:
                raise Refused(403, "not_allowed") from None
            members = detect.members_of(session, [line.id for line in lines])
            rows = [_row(desk, line, members.get(line.id, [])) for line in lines]
        return kit.page(request, desk, "hotspots.html", rows=rows, show=show, done=done, spot=spot)

    @router.post("/console/hotspots/{spot_id}/tell", include_in_schema=False)
    def tell(spot_id: PathId, desk: Desk = Depends(kit.posting)) -> RedirectResponse:
        require(desk, Action.VIEW_STATS)
        try:
            with kit.work() as work:
                hotspots.tell(work, desk.actor, spot_id)
            done = "told"
        except hotspots.HotSpotError as error:
            if error.reason == "not_found":
                raise Refused(404, "not_found") from None
            done = error.reason
        return RedirectResponse(f"/console/hotspots?done={done}&spot={spot_id}", status_code=303)

    return router


def _row(desk: Desk, line: hotspots.Line, tickets: list[Any]) -> dict[str, Any]:
    return {
        "line": line,
        "tickets": [{"id": t.id, "state": t.state, "created_at": t.created_at} for t in tickets],
        "may_tell": hotspots.may_tell(desk.actor, line),
    }

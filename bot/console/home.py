"""工作台: the console's first page (being built)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from bot.console.desk import Kit


def routes(kit: Kit) -> APIRouter:
    """GET /console."""
    router = APIRouter()

    @router.get("/console", include_in_schema=False)
    def home(request: Request) -> HTMLResponse:
        desk = kit.desk(request)
        return kit.page(request, desk, "home.html")

    return router

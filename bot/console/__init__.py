"""The staff console (DESIGN §5.2): server-rendered pages at /console on the web app, one module per
section; `mount` adds them, the static files and the refusal pages to the FastAPI app."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bot.console import (
    accounts,
    assets,
    audit_log,
    committees,
    home,
    hotspots,
    notices,
    org,
    polls,
    rating,
    residents,
    signin,
    stats,
    ticket_page,
    tickets,
)
from bot.console.desk import Kit, Refused

SECTIONS = (
    signin,
    assets,
    home,
    tickets,
    ticket_page,
    stats,
    hotspots,
    notices,
    polls,
    accounts,
    rating,
    committees,
    residents,
    org,
    audit_log,
)


def mount(web: FastAPI, kit: Kit) -> None:
    """Add every console route to the web app, and the page that answers a refusal."""
    for section in SECTIONS:
        web.include_router(section.routes(kit))

    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Refused)  # registered for it alone
        if exc.status == 401 and request.method == "GET" and not request.headers.get("hx-request"):
            return RedirectResponse("/console/signin", status_code=303)
        return render_refusal(kit, request, exc)

    web.add_exception_handler(Refused, refused)


def render_refusal(kit: Kit, request: Request, exc: Refused) -> HTMLResponse:
    """The page a refused request gets: what happened in plain words, in the default language."""
    return kit.page(request, None, "refused.html", status=exc.status, reason=exc.reason, detail=exc.detail)

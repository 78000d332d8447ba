"""The console's own static files (stylesheet, script) and the vendored htmx and ECharts builds, served
from disk by us: an intranet has no CDN."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

from bot.console.desk import Kit

STATIC = Path(__file__).resolve().parent / "static"
HTMX = "vendor/htmx-2.0.11.min.js"
ECHARTS = "vendor/echarts-6.1.0.common.min.js"
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


def routes(kit: Kit) -> APIRouter:
    """GET /console/static/{name}: only the files that lie in the static folder, with their type."""
    router = APIRouter()

    @router.get("/console/static/{name:path}", include_in_schema=False)
    def static(name: str) -> FileResponse:
        path = (STATIC / name).resolve()
        if not path.is_relative_to(STATIC) or not path.is_file() or path.suffix not in TYPES:
            raise HTTPException(404)
        # Vendored files carry their version in their name, so they may be cached for long.
        cache = "public, max-age=31536000, immutable" if name.startswith("vendor/") else "no-cache"
        return FileResponse(path, media_type=TYPES[path.suffix], headers={"Cache-Control": cache})

    return router

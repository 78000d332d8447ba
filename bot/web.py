"""The ASGI app: the web chat, the Telegram webhook route when configured, and a health check."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from starlette.middleware.sessions import SessionMiddleware

if TYPE_CHECKING:
    from bot.bootstrap import App


def create_web_app(app: App, lifespan: Any = None) -> FastAPI:
    """Build the FastAPI app around an assembled Linli App."""
    web = FastAPI(title="Linli", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    web.add_middleware(
        SessionMiddleware,
        secret_key=app.settings.session_secret(),
        session_cookie="linli_session",
        same_site="strict",
        https_only=app.settings.public_url.startswith("https://"),
        max_age=180 * 24 * 3600,
    )
    web.include_router(app.channels["web"].router())  # type: ignore[attr-defined]
    telegram = app.channels.get("telegram")
    if telegram is not None:
        web.include_router(telegram.webhook_router())  # type: ignore[attr-defined]

    @web.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/chat")

    @web.get("/healthz", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return web


@asynccontextmanager
async def no_lifespan(_: FastAPI) -> Any:
    """A lifespan that does nothing (tests drive start and stop themselves)."""
    yield

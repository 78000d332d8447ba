"""The ASGI app: the web chat, the Telegram webhook route when configured, and a health check."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, HTTPException
from fastapi.responses import PlainTextResponse, RedirectResponse
from starlette.middleware.sessions import SessionMiddleware

from db import polls
from db.models import Poll

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

    @web.get("/polls/{poll_id}/receipts.txt", include_in_schema=False)
    def receipts(poll_id: int) -> PlainTextResponse:
        """A closed poll's published receipts, one per line, sorted: their sha256 is the digest."""
        with app.sessions() as session:
            poll = session.get(Poll, poll_id) if 0 < poll_id < 2**31 else None
            if poll is None or poll.state != "closed":
                raise HTTPException(404)
            listed = polls.receipts(session, poll_id)
        return PlainTextResponse("\n".join(listed), headers={"X-Linli-Digest": polls.digest(listed)})

    @web.get("/healthz", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return web


@asynccontextmanager
async def no_lifespan(_: FastAPI) -> Any:
    """A lifespan that does nothing (tests drive start and stop themselves)."""
    yield

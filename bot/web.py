"""The ASGI app: the web chat, the Telegram webhook route when configured, and a health check."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse
from starlette.middleware.sessions import SessionMiddleware
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from bot.middleware import BodyLimit, SecurityHeaders, clear_errors
from db import polls
from db.models import Poll

if TYPE_CHECKING:
    from bot.bootstrap import App

SESSION_COOKIE = "linli_session"
MAX_BODY = 1024 * 1024  # any request but a photo upload


def create_web_app(app: App, lifespan: Any = None) -> FastAPI:
    """Build the FastAPI app around an assembled Linli App."""
    web = FastAPI(title="Linli", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    web.add_middleware(
        SessionMiddleware,
        secret_key=app.settings.session_secret(),
        session_cookie=SESSION_COOKIE,
        # Lax: a link to /chat from another site (an article, a message) still opens the resident's own
        # session. Posts stay guarded by the session's CSRF token and the Origin/Sec-Fetch-Site checks.
        same_site="lax",
        https_only=app.settings.public_url.startswith("https://"),
        max_age=180 * 24 * 3600,
    )
    web.add_middleware(
        BodyLimit,
        default=MAX_BODY,
        by_path={
            "/chat/api/photo": app.settings.max_upload_bytes + 64 * 1024,  # the photo and its form fields
            "/telegram/webhook/": MAX_BODY,
        },
    )
    web.add_middleware(SecurityHeaders, cookie=SESSION_COOKIE)
    if app.settings.proxies:
        # Only these addresses may say who the client is and whether it came over https.
        web.add_middleware(ProxyHeadersMiddleware, trusted_hosts=app.settings.proxies)
    web.add_exception_handler(RequestValidationError, _invalid)  # type: ignore[arg-type]
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


async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
    """422 with a readable line, whatever the input held (lone surrogates, NaN, huge numbers)."""
    return JSONResponse({"detail": f"bad request: {clear_errors(exc.errors())}"}, status_code=422)


@asynccontextmanager
async def no_lifespan(_: FastAPI) -> Any:
    """A lifespan that does nothing (tests drive start and stop themselves)."""
    yield

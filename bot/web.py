"""The ASGI app: the web chat, the Telegram webhook route when configured, and a health check."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.middleware.sessions import SessionMiddleware
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from bot import console
from bot.channels.base import Intake
from bot.middleware import BodyLimit, SecurityHeaders, clear_errors
from db import inbound, polls
from db.models import Poll

if TYPE_CHECKING:
    from bot.bootstrap import App

log = logging.getLogger(__name__)
SESSION_COOKIE = "linli_session"
MAX_BODY = 1024 * 1024  # any request but a photo upload


def create_web_app(app: App) -> FastAPI:
    """Build the FastAPI app around an assembled Linli App."""
    web = FastAPI(title="Linli", docs_url=None, redoc_url=None, openapi_url=None)
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
            "/chat/api/voice": app.settings.max_upload_bytes + 64 * 1024,  # a recording and its fields
            "/telegram/webhook/": MAX_BODY,
            "/console/org": 4 * 1024 * 1024,  # an organisation file of a whole street
            # a desk's honest close may carry the "after" photo (the other ticket forms are small anyway)
            "/console/tickets/": app.settings.max_upload_bytes + 64 * 1024,
        },
    )
    web.add_middleware(SecurityHeaders, cookie=SESSION_COOKIE)
    if app.settings.proxies:
        # Only these addresses may say who the client is and whether it came over https.
        web.add_middleware(ProxyHeadersMiddleware, trusted_hosts=app.settings.proxies)
    web.add_exception_handler(RequestValidationError, _invalid)
    if app.console is not None:
        console.mount(web, app.console)
    for channel in app.channels.values():
        routes = channel.router()
        if routes is not None:
            web.include_router(routes)

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
    def health() -> JSONResponse:
        """Each channel's intake: when updates last came in, what is stored but unprocessed; 503 when
        intake is stuck or the database does not answer, so a supervisor can restart or page someone."""
        try:
            report = intake_report(app)
        except SQLAlchemyError as exc:
            log.error("healthz: the database does not answer: %s", exc)
            return JSONResponse({"status": "database unreachable"}, status_code=503)
        return JSONResponse(report, status_code=200 if report["status"] == "ok" else 503)

    return web


STUCK_AFTER = timedelta(minutes=2)  # an update stored this long ago and still unprocessed means trouble


def intake_report(app: App) -> dict[str, Any]:
    """What /healthz answers: per channel the last intake, the unprocessed backlog, and the verdict."""
    now = app.clock.now()
    channels: dict[str, Any] = {}
    problems: list[str] = []
    with app.sessions() as session:
        for name, channel in app.channels.items():
            backlog = inbound.backlog(session, name)
            entry: dict[str, Any] = {"unprocessed": backlog.count}
            if backlog.oldest is not None:
                waiting = now - backlog.oldest
                entry["oldest_unprocessed_seconds"] = int(waiting.total_seconds())
                if waiting > STUCK_AFTER:
                    problems.append(f"{name}: updates waiting for {int(waiting.total_seconds())} s")
            intake = channel.intake
            if intake is not None:
                entry.update(
                    mode=intake.mode or "starting",
                    last_ok=intake.last_ok.isoformat() if intake.last_ok else None,
                    last_error=intake.last_error,
                    set_aside=intake.set_aside,
                )
                problem = _silent(name, intake, now, app.settings.telegram_poll_timeout)
                if problem:
                    problems.append(problem)
            channels[name] = entry
    return {"status": "stuck" if problems else "ok", "problems": problems, "channels": channels}


def _silent(name: str, intake: Intake, now: datetime, poll_timeout: int) -> str:
    """Why a polling channel counts as stuck (no answered poll for too long), or ""."""
    if intake.mode == "webhook" or intake.started_at is None:
        return ""
    allowed = timedelta(seconds=poll_timeout) + STUCK_AFTER
    since = intake.last_ok or intake.started_at
    if now - since <= allowed:
        return ""
    silent = int((now - since).total_seconds())
    return f"{name}: no update received for {silent} s ({intake.last_error or 'no answer'})"


async def _invalid(_: Request, exc: Exception) -> JSONResponse:
    """422 with a readable line, whatever the input held (lone surrogates, NaN, huge numbers)."""
    assert isinstance(exc, RequestValidationError)  # the handler is registered for it alone
    return JSONResponse({"detail": f"bad request: {clear_errors(exc.errors())}"}, status_code=422)

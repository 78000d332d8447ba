"""Runs one process, one event loop: the web app (uvicorn), Telegram and the scheduler together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from datetime import datetime
from typing import Any

import uvicorn
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot import demo
from bot.bootstrap import App
from bot.digest import send_digests
from bot.polls_job import advance_polls
from bot.web import create_web_app
from db.sweep import sweep

log = logging.getLogger(__name__)


def prepare(app: App) -> bool:
    """Load the demo organisation when the demo may run, else retire its codes; True when it runs."""
    with app.sessions() as session:
        on = demo.start(session, app.settings, app.clock.now())
        session.commit()
    app.extras["demo"] = on
    if on:
        log.warning(demo.WARNING)
    return on


def make_scheduler(app: App) -> AsyncIOScheduler:
    """The scheduler and its jobs; the database holds the truth, so jobs only look and act."""
    scheduler = AsyncIOScheduler(timezone=app.settings.zone)
    scheduler.add_job(
        app.dispatcher.drain, "interval", seconds=3, id="outbox", max_instances=1, coalesce=True
    )
    scheduler.add_job(
        run_sweep,
        "interval",
        args=[app],
        seconds=60,
        id="sweep",
        max_instances=1,
        coalesce=True,
        next_run_time=datetime.now(app.settings.zone),
    )
    scheduler.add_job(
        run_polls,
        "interval",
        args=[app],
        seconds=60,
        id="polls",
        max_instances=1,
        coalesce=True,
        next_run_time=datetime.now(app.settings.zone),
    )
    scheduler.add_job(
        run_digest,
        "cron",
        args=[app],
        hour=8,
        minute=0,
        timezone=app.settings.zone,  # 08:00 local (Asia/Shanghai unless TIME_ZONE says otherwise)
        id="digest",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=3600,
    )
    return scheduler


async def run_digest(app: App) -> None:
    """Queue the morning digests (once a local day per person), then send them."""
    queued = await asyncio.to_thread(send_digests, app.sessions, app.clock.now(), app.settings.zone)
    if queued:
        log.info("digest: %d queued", queued)
        await app.dispatcher.drain()


async def run_sweep(app: App) -> None:
    """Apply due ticket steps (reminders, escalations, unrated closes), then send what they queued."""
    done = await asyncio.to_thread(sweep, app.sessions, app.clock.now(), app.policy)
    if done:
        log.info("sweep: %s", dict(done))
        await app.dispatcher.drain()


async def run_polls(app: App) -> None:
    """Open, remind and close owners' polls that are due, then send what they queued."""
    done = await asyncio.to_thread(
        advance_polls, app.sessions, app.clock.now(), app.policy, app.settings.seal_key
    )
    if done:
        log.info("polls: %s", dict(done))
        await app.dispatcher.drain()


async def serve(app: App, ready: asyncio.Event | None = None) -> None:
    """Start everything, serve until SIGINT/SIGTERM, then stop cleanly."""
    loop = asyncio.get_running_loop()
    app.service.on_push = lambda: loop.call_soon_threadsafe(
        lambda: asyncio.ensure_future(app.dispatcher.drain())
    )
    scheduler = make_scheduler(app)
    telegram: Any = app.channels.get("telegram")
    web = create_web_app(app)
    config = uvicorn.Config(
        web, host=app.settings.web_host, port=app.settings.web_port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    scheduler.start()
    if telegram is not None:
        await telegram.start()
    web_task = asyncio.create_task(server.serve())
    while not server.started and not web_task.done():
        await asyncio.sleep(0.05)
    if web_task.done():
        await web_task  # raises the bind error, if any
    print(
        f"Linli is running: web chat at {app.settings.public_url}/chat"
        + (" · Telegram on" if telegram is not None else " · Telegram off (no TELEGRAM_BOT_TOKEN)")
        + (f" · {demo.WARNING}" if app.extras.get("demo") else ""),
        flush=True,
    )
    if ready is not None:
        ready.set()
    await asyncio.wait([asyncio.create_task(stop.wait()), web_task], return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    if telegram is not None:
        await telegram.stop()
    scheduler.shutdown(wait=False)
    with contextlib.suppress(Exception):
        await web_task
    app.engine.dispose()

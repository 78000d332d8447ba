"""Runs one process, one event loop: the web app (uvicorn), Telegram and the scheduler together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

import uvicorn
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot import demo
from bot.bootstrap import App
from bot.digest import send_digests
from bot.governance_job import advance_governance
from bot.polls_job import advance_polls
from bot.sweep_job import sweep
from bot.web import create_web_app
from db import outbox, polls
from db.files import delete_orphaned_files
from db.unjoined import forget_unjoined

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


def ballot_key_problem(app: App) -> str:
    """Why the ballot key cannot be used (it cannot read open secret polls' ballots), or ""; warns about
    a weak key kept from an older install."""
    if app.settings.weak_ballot_key():
        log.warning(
            "BALLOT_KEY is shorter than a new key would be; give it a new value once no secret poll is open"
        )
    with app.sessions() as session:
        unreadable = polls.unreadable_polls(session, app.settings.seal_key)
    if not unreadable:
        return ""
    listed = ", ".join(f"#{poll_id}" for poll_id in unreadable)
    return (
        f"setting BALLOT_KEY: it cannot read the ballots of open secret polls {listed}; set it to the key "
        "they were cast with (before BALLOT_KEY existed: the SECRET_KEY or var/secret_key of that time)"
    )


def make_scheduler(app: App) -> AsyncIOScheduler:
    """The scheduler and its jobs; the database holds the truth, so jobs only look and act."""
    zone = app.settings.zone
    scheduler = AsyncIOScheduler(timezone=zone)
    now = datetime.now(zone)
    late = {"misfire_grace_time": 3600}  # a daily job missed by a restart still runs within the hour

    def add(job: Any, job_id: str, trigger: str, **when: Any) -> None:
        # One run at a time, and runs missed while busy collapse into one: the jobs look at the database.
        scheduler.add_job(job, trigger, args=[app], id=job_id, max_instances=1, coalesce=True, **when)

    add(drain_outbox, "outbox", "interval", seconds=3)
    add(run_sweep, "sweep", "interval", seconds=60, next_run_time=now)
    add(run_polls, "polls", "interval", seconds=60, next_run_time=now)
    add(run_governance, "governance", "interval", seconds=60, next_run_time=now)
    if any(isinstance(c, Recovering) for c in app.channels.values()):
        add(recover_intake, "intake", "interval", seconds=60)
    add(run_upkeep, "upkeep", "interval", hours=1)
    add(prune_replies, "prune_replies", "cron", hour=3, minute=30, timezone=zone, **late)
    # 08:00 local (Asia/Shanghai unless TIME_ZONE says otherwise)
    add(run_digest, "digest", "cron", hour=8, minute=0, timezone=zone, **late)
    return scheduler


async def drain_outbox(app: App) -> None:
    """Send what is due in the outbox (pushes, and answers whose sender died)."""
    await app.dispatcher.drain()


STALE_INTAKE = timedelta(seconds=60)  # far longer than a turn takes: a process died with it stored


@runtime_checkable
class Recovering(Protocol):
    """A channel that stores what it receives before answering, and can process what was left."""

    async def recover(self, stale_after: timedelta | None = None) -> None:
        """Process stored updates never processed (older than `stale_after` when given)."""
        ...


async def recover_intake(app: App) -> None:
    """Process updates another process stored and then died with (several processes, one webhook)."""
    for channel in app.channels.values():
        intake = channel.intake
        if isinstance(channel, Recovering) and intake is not None and intake.mode:
            try:
                await channel.recover(stale_after=STALE_INTAKE)
            except Exception:  # one channel's trouble must not keep the others' updates waiting
                log.exception("%s: recovering stored updates failed; tried again in a minute", channel.name)


REPLY_RETENTION = timedelta(days=7)


async def prune_replies(app: App) -> None:
    """Delete turns' answers settled more than a week ago (the outbox is no archive)."""

    def prune() -> int:
        with app.sessions() as session:
            count = outbox.prune_replies(session, app.clock.now() - REPLY_RETENTION)
            session.commit()
            return count

    pruned = await asyncio.to_thread(prune)
    if pruned:
        log.info("outbox: %d settled answers pruned", pruned)


async def run_upkeep(app: App) -> None:
    """Forget visitors who never joined, then delete stored photos no row refers to any more."""
    try:
        forgotten, deleted = await asyncio.to_thread(upkeep, app)
    except Exception:
        log.exception("upkeep failed; it runs again within the hour")
        return
    if forgotten or deleted:
        log.info("upkeep: %d unjoined people forgotten, %d orphaned files deleted", forgotten, deleted)


def upkeep(app: App) -> tuple[int, int]:
    """One upkeep pass: (people forgotten, files deleted)."""
    now = app.clock.now()
    with app.sessions() as session:
        forgotten = forget_unjoined(session, now - timedelta(days=app.settings.forget_unjoined_days))
        session.commit()
    with app.sessions() as session:
        # A file younger than a day may belong to an upload whose turn has not committed yet.
        deleted = delete_orphaned_files(session, app.settings.files_dir, now - timedelta(days=1))
        session.rollback()
    return forgotten, deleted


async def run_digest(app: App) -> None:
    """Queue the morning digests (once a local day per person), then send them."""
    queued = await asyncio.to_thread(
        send_digests, app.sessions, app.clock.now(), app.settings.zone, app.policy
    )
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


async def run_governance(app: App) -> None:
    """Send the reminders of accounts, surveys and committee terms that are due, then what they queued."""
    done = await asyncio.to_thread(advance_governance, app.sessions, app.clock.now(), app.policy)
    if done:
        log.info("governance: %s", dict(done))
        await app.dispatcher.drain()


async def serve(app: App, ready: asyncio.Event | None = None) -> None:
    """Start everything, serve until SIGINT/SIGTERM, then stop cleanly."""
    loop = asyncio.get_running_loop()

    def wake() -> None:  # called from a turn's thread: the drain runs on the loop
        loop.call_soon_threadsafe(lambda: asyncio.ensure_future(app.dispatcher.drain()))

    app.service.on_push = wake
    scheduler = make_scheduler(app)
    web = create_web_app(app)
    config = uvicorn.Config(
        web,
        host=app.settings.web_host,
        port=app.settings.web_port,
        log_level="warning",
        lifespan="off",
        proxy_headers=False,  # the web app believes forwarded headers only from TRUSTED_PROXIES
    )
    server = uvicorn.Server(config)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    scheduler.start()
    for channel in app.channels.values():
        await channel.start()
    web_task = asyncio.create_task(server.serve())
    while not server.started and not web_task.done():
        await asyncio.sleep(0.05)
    if web_task.done():
        await web_task  # raises the bind error, if any
    print(
        f"Linli is running: web chat at {app.settings.public_url}/chat"
        + (" · Telegram on" if "telegram" in app.channels else " · Telegram off (no TELEGRAM_BOT_TOKEN)")
        + (" · WeChat on" if "wechat" in app.channels else "")
        + (" · WeCom on" if "wecom" in app.channels else "")
        + (f" · {demo.WARNING}" if app.extras.get("demo") else ""),
        flush=True,
    )
    if ready is not None:
        ready.set()
    await asyncio.wait([asyncio.create_task(stop.wait()), web_task], return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    for channel in app.channels.values():
        await channel.stop()
    scheduler.shutdown(wait=False)
    with contextlib.suppress(Exception):  # not marked now: sent again once their lease runs out
        await asyncio.to_thread(app.service.flush_sent)
    with contextlib.suppress(Exception):
        await web_task
    app.engine.dispose()

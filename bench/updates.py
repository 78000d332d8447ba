"""Updates per second through Linli's Telegram path, as a ratio against a bare PTB echo bot in the same run.

Each of N residents walks a whole report (/start invite, /report, category, description, [new report when
a neighbour's ticket matches], skip photos, skip location, submit) through the real PTB Application built
by `bot.bootstrap.build`, on SQLite in a temporary directory, via the channel's durable `store_and_process`
(inbound log, state writes, ticket). The same update JSON is then replayed through a bare PTB Application
whose only handler echoes text back. Both talk to the in-process Bot API double.

Run from the repository root: `.venv/bin/python bench/updates.py [--n 300] [--batch 1] [--db URL]`; with
`--db`, Linli runs on that database instead (it must be empty: the bench migrates it and files tickets).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import secrets
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy.engine import make_url  # noqa: E402
from sqlmodel import func, select  # noqa: E402
from telegram import Update  # noqa: E402
from telegram.ext import Application, ContextTypes, TypeHandler  # noqa: E402

from bot.bootstrap import build  # noqa: E402
from bot.demo import DEMO_ORG  # noqa: E402
from bot.runner import prepare  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from db import org, people  # noqa: E402
from db.migrate import upgrade  # noqa: E402
from db.models import Home, Ticket  # noqa: E402
from tests.support.botapi import BotApi, InProcessRequest, TgUser  # noqa: E402

TOKEN = "123:ABC"
CATEGORIES = ("water", "elevator", "power", "facility", "sanitation", "noise", "parking", "heating")


@dataclass
class Resident:
    """One simulated resident and where they are in the report flow."""

    user: TgUser
    invite: str
    category: str
    step: int = 0
    done: bool = False


@dataclass
class Run:
    """What one path measured."""

    updates: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """Updates per second."""
        return self.updates / self.seconds if self.seconds else 0.0


def _press(api: BotApi, user: TgUser, data: str) -> dict[str, Any]:
    """A callback query on the latest message to the user that offers this exact button data."""
    for call in reversed(api.calls_to("sendMessage", user.id)):
        if call.status == 200 and call.buttons():
            if any(d == data for _, d in call.buttons()):
                return user.callback(data, call.result)
            raise SystemExit(f"resident {user.id}: expected a {data!r} button, got {call.buttons()}")
    raise SystemExit(f"resident {user.id}: no message with buttons")


def next_update(api: BotApi, resident: Resident) -> dict[str, Any] | None:
    """The resident's next action, chosen from the bot's last answer; None when the report is filed."""
    user = resident.user
    step = resident.step
    resident.step += 1
    if step == 0:
        return user.start(resident.invite)
    if step == 1:
        return user.command("report")
    if step == 2:
        return _press(api, user, f"r:c:{resident.category}")
    if step == 3:
        return user.text(f"{resident.category} 问题，来自住户 {user.id}")
    if step == 4:
        if any(d == "r:n" for _, d in api.last_buttons(user.id)):
            return _press(api, user, "r:n")  # a neighbour's open ticket matched: file a new one
        resident.step += 1
        step = 5
    if step == 5:  # the summary (the place is the resident's building): submit
        return _press(api, user, "r:ok")
    resident.done = True
    return None


async def run_linli(
    n: int, batch: int, workdir: Path, url: str = ""
) -> tuple[Run, list[dict[str, Any]], int]:
    """Drive N report flows through Linli; returns measurements, the update JSON fed, and tickets filed."""
    url = url or f"sqlite:///{workdir / 'linli.db'}"
    upgrade(url)
    keys = {"SECRET_KEY": secrets.token_urlsafe(32), "BALLOT_KEY": secrets.token_urlsafe(32)}
    settings = load_settings(
        LINLI_VAR_DIR=workdir / "var", DATABASE_URL=url, TELEGRAM_BOT_TOKEN=TOKEN, **keys
    )
    api = BotApi(TOKEN)
    app = build(settings, telegram_request=InProcessRequest(api))
    channel: Any = app.channels["telegram"]
    await channel.application.initialize()
    with app.sessions() as session:  # one single-use owner invite per resident, spread over the demo homes
        if not prepare(app):  # no demo on PostgreSQL: its organisation is imported as a real one would be
            org.load_rows(session, *org.parse_yaml(DEMO_ORG.read_text(encoding="utf-8")))
        homes = list(session.exec(select(Home.id).order_by(Home.id)).all())
        now = app.clock.now()
        invites = [
            people.create_invite(session, "owner", now, home_id=homes[i % len(homes)]).code for i in range(n)
        ]
        session.commit()
    residents = [
        Resident(api.user(200_000 + i, f"住户{i}"), invites[i], CATEGORIES[i % len(CATEGORIES)])
        for i in range(n)
    ]
    fed: list[dict[str, Any]] = []
    run = Run()
    while True:
        wave = [u for r in residents if not r.done and (u := next_update(api, r)) is not None]
        if not wave:
            break
        for start in range(0, len(wave), batch):
            chunk = wave[start : start + batch]
            began = time.perf_counter()
            await channel.store_and_process(list(chunk))
            took = time.perf_counter() - began
            run.seconds += took
            run.latencies.extend([took] * len(chunk))  # for batch > 1: time until the whole batch is done
            fed.extend(chunk)
    run.updates = len(fed)
    with app.sessions() as session:
        filed = int(session.exec(select(func.count()).select_from(Ticket)).one())
    await channel.application.shutdown()
    app.engine.dispose()
    return run, fed, filed


async def run_echo(updates: list[dict[str, Any]], batch: int) -> Run:
    """Replay the same updates through a bare PTB Application whose one handler echoes text back."""
    api = BotApi(TOKEN)
    request = InProcessRequest(api)
    application = (
        Application.builder().token(TOKEN).request(request).get_updates_request(request).updater(None)
    )
    echo_app = application.build()

    async def echo(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        text = update.callback_query.data if update.callback_query else update.effective_message.text  # type: ignore[union-attr]
        await echo_app.bot.send_message(update.effective_chat.id, text or "?")  # type: ignore[union-attr]

    echo_app.add_handler(TypeHandler(Update, echo))
    await echo_app.initialize()
    run = Run(updates=len(updates))
    for start in range(0, len(updates), batch):
        chunk = updates[start : start + batch]
        began = time.perf_counter()
        for update in [Update.de_json(u, echo_app.bot) for u in chunk]:
            await echo_app.process_update(update)
        took = time.perf_counter() - began
        run.seconds += took
        run.latencies.extend([took] * len(chunk))
    await echo_app.shutdown()
    return run


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) of values."""
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[max(0, min(98, round(q) - 1))]


async def main(n: int, batch: int, url: str = "") -> int:
    """Run both paths and print the comparison; non-zero exit when a report went missing."""
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="linli-bench-") as tmp:
        linli, fed, filed = await run_linli(n, batch, Path(tmp), url)
    echo = await run_echo(fed, batch)
    ratio = linli.rate / echo.rate if echo.rate else 0.0
    database = make_url(url).get_backend_name() if url else "sqlite"
    print(f"residents: {n}, updates: {linli.updates}, batch: {batch}, tickets filed: {filed}, on {database}")
    print(f"linli (durable store + handle + replies): {linli.rate:8.1f} updates/s")
    print(f"bare PTB echo bot (baseline):             {echo.rate:8.1f} updates/s")
    print(f"ratio linli/baseline: {ratio:.2f} (target >= 0.3) {'OK' if ratio >= 0.3 else 'BELOW TARGET'}")
    print(
        f"linli per-update latency: p50 {percentile(linli.latencies, 50) * 1000:.2f} ms, "
        f"p99 {percentile(linli.latencies, 99) * 1000:.2f} ms"
    )
    return 0 if filed == n else 1


def cli() -> None:
    """Parse flags and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300, help="residents, each filing one report (default 300)")
    parser.add_argument("--batch", type=int, default=1, help="updates per store_and_process call (default 1)")
    parser.add_argument("--db", default="", help="an empty database URL to run Linli on (default: SQLite)")
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main(max(1, args.n), max(1, args.batch), args.db)))


if __name__ == "__main__":
    cli()

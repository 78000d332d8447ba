"""A broadcast through the outbox at Telegram's limits: how close the dispatcher gets to the limit.

Each scenario migrates a fresh SQLite database in a temporary directory, assembles the app with
`bot.bootstrap.build` (a real TelegramChannel on python-telegram-bot) against the in-process Bot API double
that enforces the limits (429 with retry_after when broken), creates the recipients with one outbox row
each, and drains the outbox with the app's dispatcher, its limiter set to the scenario's limit. It prints
the achieved messages/s ÷ the limit (target ≥ 0.95), the double's 429s (target 0), messages lost and
duplicated (0 and 0), and the CPU seconds the process spent per 1 000 messages (time.process_time around
the drain; the double runs in the same process, so this is an upper bound for the dispatcher).

Run from the repository root: `.venv/bin/python bench/broadcast.py [--only 30]`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.bootstrap import build  # noqa: E402
from bot.clock import FixedClock  # noqa: E402
from bot.delivery import RateLimit  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from db.migrate import upgrade  # noqa: E402
from tests.support.botapi import BotApi, InProcessRequest  # noqa: E402
from tests.support.broadcast import add_recipients, queue, statuses  # noqa: E402

TOKEN = "123:ABC"
NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai: no quiet hours
SCENARIOS = ((1_000, 30.0), (20_000, 1_000.0))


@dataclass
class Result:
    """What one scenario measured."""

    recipients: int
    limit: float
    seconds: float
    cpu: float
    throttled: int
    lost: int
    duplicated: int
    pending: int

    @property
    def ratio(self) -> float:
        """Achieved messages per second over the limit."""
        return self.recipients / self.seconds / self.limit


async def run(recipients: int, limit: float, workdir: Path) -> Result:
    """One broadcast of `recipients` messages at `limit` messages/s."""
    url = f"sqlite:///{workdir / 'linli.db'}"
    upgrade(url)
    api = BotApi(TOKEN)
    api.enforce(per_second=limit, per_chat=1)
    settings = load_settings(LINLI_VAR_DIR=workdir / "var", DATABASE_URL=url, TELEGRAM_BOT_TOKEN=TOKEN)
    app = build(settings, clock=FixedClock(NOW), telegram_request=InProcessRequest(api))
    try:
        people = add_recipients(app.sessions, range(1, recipients + 1), NOW)
        queue(app.sessions, people, NOW)
        app.dispatcher.limits["telegram"] = RateLimit(per_second=limit)
        cpu, wall = time.process_time(), time.perf_counter()
        await app.dispatcher.drain()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        counts = statuses(app.sessions)
    finally:
        app.engine.dispose()
    received = api.delivered
    return Result(
        recipients=recipients,
        limit=limit,
        seconds=wall,
        cpu=cpu,
        throttled=len(api.throttled),
        lost=sum(1 for chat in range(1, recipients + 1) if not received.get(chat)),
        duplicated=sum(api.duplicated().values()),
        pending=counts["pending"],
    )


def main() -> None:
    """Run the scenarios and print one line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", type=float, help="run only the scenario with this limit (30 or 1000)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    print(
        f"{'recipients':>10} {'limit/s':>8} {'seconds':>8} {'msg/s':>8} {'ratio':>6} "
        f"{'429s':>5} {'lost':>5} {'dup':>5} {'CPU s/1000':>10}"
    )
    ok = True
    for recipients, limit in SCENARIOS:
        if args.only and args.only != limit:
            continue
        with tempfile.TemporaryDirectory(prefix="linli-bench-") as tmp:
            result = asyncio.run(run(recipients, limit, Path(tmp)))
        print(
            f"{result.recipients:>10} {result.limit:>8.0f} {result.seconds:>8.2f} "
            f"{result.recipients / result.seconds:>8.1f} {result.ratio:>6.3f} {result.throttled:>5} "
            f"{result.lost:>5} {result.duplicated:>5} {result.cpu / result.recipients * 1000:>10.3f}",
            flush=True,
        )
        ok = ok and result.ratio >= 0.95 and not (result.throttled or result.lost or result.duplicated)
    print("targets met: ratio ≥ 0.95, 0 × 429, 0 lost, 0 duplicated" if ok else "TARGETS MISSED")


if __name__ == "__main__":
    main()

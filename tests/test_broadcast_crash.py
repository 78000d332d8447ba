"""Kill the real process (SIGKILL) in the middle of a broadcast and start it again: every recipient gets
the message, and only messages in flight at the kill (at most one dispatcher batch) arrive twice."""

from __future__ import annotations

import asyncio
import inspect
from datetime import UTC, datetime
from pathlib import Path

from bot.delivery import Dispatcher
from db.engine import make_engine, session_factory
from db.migrate import upgrade
from tests.support.botapi import BotApi, BotApiServer
from tests.support.broadcast import add_recipients, queue, statuses
from tests.support.process import BotProcess

TOKEN = "123:ABC"
RECIPIENTS = 1500
IN_FLIGHT = 50  # the dispatcher's batch: marked sent together, after the batch has gone out


async def test_kill_during_a_broadcast_loses_nothing_and_repeats_at_most_a_batch(tmp_path: Path) -> None:
    var = tmp_path / "var"
    url = f"sqlite:///{var / 'linli.db'}"
    upgrade(url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    now = datetime.now(UTC)
    queue(sessions, add_recipients(sessions, range(1, RECIPIENTS + 1), now), now)

    api = BotApi(TOKEN)
    api.enforce(per_second=300, per_chat=1)  # the process sends at 300/s; killed mid-batch (325)
    async with BotApiServer(api) as server:
        bot = BotProcess(
            var,
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_API_BASE_URL=server.url,
            TELEGRAM_POLL_TIMEOUT="1",
            TELEGRAM_RATE_LIMIT="300",
            LINLI_OUTBOX_LEASE="3",
        )
        try:
            await asyncio.to_thread(bot.start)
            await api.wait_for(lambda: api.delivered_total() >= 325, timeout=30, what="325 messages out")
            await asyncio.to_thread(bot.kill)
            at_kill = api.delivered_total()
            assert at_kill < RECIPIENTS, "the broadcast finished before the kill; nothing was tested"

            await asyncio.to_thread(bot.start)
            await api.wait_for(
                lambda: len(api.delivered) == RECIPIENTS and not statuses(sessions)["pending"],
                timeout=40,
                what="every recipient served and every row closed",
            )
        finally:
            await asyncio.to_thread(bot.stop)
            engine.dispose()

    assert set(api.delivered) == set(range(1, RECIPIENTS + 1))
    assert inspect.signature(Dispatcher).parameters["batch"].default == IN_FLIGHT
    duplicates = sum(api.duplicated().values())
    assert duplicates <= IN_FLIGHT, f"{duplicates} duplicates, more than one batch in flight"
    assert statuses(sessions) == {"sent": RECIPIENTS}
    assert not api.throttled
    print(f"delivered at the kill: {at_kill}; duplicates after the restart: {duplicates}")

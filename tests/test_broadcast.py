"""Broadcasts through the outbox against a Bot API double that enforces Telegram's limits.

The double answers 429 with retry_after when a limit is broken, 403 for chats that blocked the bot and
random 5xx with a seeded probability, and records every message that arrived, per chat. The dispatcher is
the app's own (a real TelegramChannel on python-telegram-bot), its limiter raised where a test needs speed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from bot.bootstrap import App
from bot.channels.telegram import TelegramChannel
from bot.clock import FixedClock
from bot.delivery import BACKOFF, Dispatcher, RateLimit
from core.actions import Notices
from db import outbox
from db.engine import make_engine, session_factory
from db.models import Outbox
from handlers.types import Attachment, Rendered, Reply
from tests.conftest import make_app
from tests.support.botapi import BotApi, InProcessRequest
from tests.support.broadcast import add_recipients, queue, statuses, unreachable_chats

TOKEN = "123:ABC"


@dataclass
class Broadcast:
    """The app on the double, with helpers to fill the outbox and drain it."""

    app: App
    api: BotApi
    clock: FixedClock

    @property
    def channel(self) -> TelegramChannel:
        """The app's Telegram channel."""
        channel = self.app.channels["telegram"]
        assert isinstance(channel, TelegramChannel)
        return channel

    def recipients(self, chats: range, **queue_args: Any) -> list[int]:
        """One person per chat with one pending outbox row each."""
        people = add_recipients(self.app.sessions, chats, self.clock.now())
        queue(self.app.sessions, people, self.clock.now(), **queue_args)
        return people

    def limit(self, per_second: float) -> RateLimit:
        """Set the dispatcher's own Telegram limiter."""
        limiter = RateLimit(per_second=per_second)
        self.app.dispatcher.limits["telegram"] = limiter
        return limiter

    async def drain_all(self, rounds: int = 8) -> None:
        """Drain until nothing is pending, moving the clock past the longest backoff between drains."""
        for _ in range(rounds):
            await self.app.dispatcher.drain()
            if not statuses(self.app.sessions)["pending"]:
                return
            self.clock.advance(seconds=BACKOFF[-1].total_seconds() + 1)
        raise AssertionError(f"still pending after {rounds} drains: {statuses(self.app.sessions)}")

    def rows(self) -> list[Outbox]:
        """Every outbox row, oldest first."""
        with self.app.sessions() as session:
            return list(session.exec(select(Outbox).order_by(Outbox.id)).all())  # type: ignore[arg-type]


def telegram_app(url: str, tmp_path: Path, clock: FixedClock, api: BotApi) -> App:
    """The app on `url` with its Telegram channel on the in-process double."""
    return make_app(url, tmp_path, clock, telegram_request=InProcessRequest(api), TELEGRAM_BOT_TOKEN=TOKEN)


@pytest.fixture
def bc(sqlite_url: str, tmp_path: Path, clock: FixedClock) -> Iterator[Broadcast]:
    """The app on a fresh SQLite database, Telegram on the double."""
    api = BotApi(TOKEN)
    app = telegram_app(sqlite_url, tmp_path, clock, api)
    yield Broadcast(app, api, clock)
    app.engine.dispose()


def sends(api: BotApi) -> list[Any]:
    """Every send the double was asked for, whatever it answered, in order."""
    return [c for c in api.calls if c.method in ("sendMessage", "sendPhoto", "sendMediaGroup")]


async def test_5000_recipients_each_served_once_blocked_marked_no_limit_broken(bc: Broadcast) -> None:
    chats = range(1, 5001)
    blocked = set(range(100, 5001, 100))
    for chat in blocked:
        bc.api.forbid(chat)
    bc.api.enforce(per_second=2000, per_chat=1, error_rate=0.01, seed=4)
    bc.limit(2000)
    bc.recipients(chats)

    await bc.drain_all()

    assert not bc.api.throttled, f"{len(bc.api.throttled)} sends broke a limit"
    assert bc.api.server_errors, "the double was to fail about 1 % of sends"
    reachable = set(chats) - blocked
    assert set(bc.api.delivered) == reachable
    assert bc.api.duplicated() == {}
    assert unreachable_chats(bc.app.sessions) == blocked
    assert statuses(bc.app.sessions) == {"sent": len(reachable), "unreachable": len(blocked)}
    retried = [r for r in bc.rows() if r.attempts]
    assert retried and all(r.status == "sent" for r in retried)


async def test_after_a_429_nothing_is_sent_until_retry_after_has_passed(bc: Broadcast) -> None:
    bc.api.enforce(per_second=20, per_chat=1)
    bc.limit(200)  # the dispatcher believes in a higher limit than the platform grants
    bc.recipients(range(1, 51))

    await bc.drain_all()

    assert bc.api.throttled, "the double should have answered 429"
    calls = sends(bc.api)
    for refused in bc.api.throttled:
        wait = 1.0  # what the double asked for: the window frees within a second
        later = calls[calls.index(refused) + 1 :]
        assert later, "the refused message must be sent again"
        assert later[0].at >= refused.at + wait - 0.005, (refused.at, later[0].at)
    assert set(bc.api.delivered) == set(range(1, 51))
    assert bc.api.duplicated() == {}
    assert statuses(bc.app.sessions) == {"sent": 50}
    assert all(r.attempts == 0 for r in bc.rows())  # a 429 is not a failed attempt


async def test_a_send_that_keeps_failing_is_retried_with_backoff_then_failed(bc: Broadcast) -> None:
    bc.api.enforce(per_second=30, error_rate=1.0)
    bc.limit(30).per_chat_gap = 0  # the clock is moved by hand; no need to wait a real second per retry
    bc.recipients(range(8, 9))
    waits = [w.total_seconds() for w in BACKOFF]
    for attempt in range(outbox.MAX_ATTEMPTS):
        await bc.app.dispatcher.drain()
        assert len(bc.api.server_errors) == attempt + 1
        [row] = bc.rows()
        if attempt + 1 == outbox.MAX_ATTEMPTS:
            break
        assert row.status == "pending" and row.attempts == attempt + 1
        wait = waits[min(attempt, len(waits) - 1)]
        bc.clock.advance(seconds=wait - 1)
        await bc.app.dispatcher.drain()  # not yet due: nothing is tried
        assert len(bc.api.server_errors) == attempt + 1
        bc.clock.advance(seconds=1)
    [row] = bc.rows()
    assert row.status == "failed" and row.attempts == outbox.MAX_ATTEMPTS
    assert "Bad Gateway" in row.error
    await bc.drain_all()  # a failed row is never tried again
    assert len(bc.api.server_errors) == outbox.MAX_ATTEMPTS and not bc.api.delivered


async def test_a_transient_failure_then_success_is_delivered_once(bc: Broadcast) -> None:
    limits = bc.api.enforce(per_second=30, error_rate=1.0)
    bc.limit(30).per_chat_gap = 0
    bc.recipients(range(7, 8))
    await bc.app.dispatcher.drain()
    limits.error_rate = 0.0
    bc.clock.advance(seconds=BACKOFF[0].total_seconds())
    await bc.app.dispatcher.drain()
    [row] = bc.rows()
    assert row.status == "sent" and row.attempts == 1
    assert bc.api.delivered == {7: [bc.api.delivered[7][0]]}


def test_two_dispatchers_on_one_postgres_never_send_a_row_twice(
    postgres_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    api = BotApi(TOKEN)
    app = telegram_app(postgres_url, tmp_path, clock, api)
    engines = [make_engine(postgres_url) for _ in range(2)]
    try:
        add = add_recipients(app.sessions, range(1, 1001), clock.now())
        queue(app.sessions, add, clock.now())
        dispatchers = [
            Dispatcher(
                session_factory(engine),
                app.renderer,
                clock,
                app.channels,
                app.policy,
                limits={"telegram": RateLimit(per_second=100_000, per_chat_gap=0)},
                batch=20,
            )
            for engine in engines
        ]

        async def both() -> list[int]:
            # Each in its own thread and event loop, so their transactions really overlap.
            drains = (asyncio.to_thread(asyncio.run, d.drain()) for d in dispatchers)
            return list(await asyncio.gather(*drains))

        counts = asyncio.run(both())
        assert sum(counts) == 1000 and all(counts), counts  # both took a share
        assert set(api.delivered) == set(range(1, 1001))
        assert api.duplicated() == {}
        assert statuses(app.sessions) == {"sent": 1000}
    finally:
        for engine in engines:
            engine.dispose()
        app.engine.dispose()


def paragraphs(total: int) -> str:
    """About `total` characters of numbered paragraphs, each under 700 characters."""
    parts, size, n = [], 0, 0
    while size < total:
        n += 1
        body = f"第{n}段：" + "业主大会依法决定共有部分的管理事项。" * (5 + n % 30)
        parts.append(body)
        size += len(body) + 2
    return "\n\n".join(parts)


async def test_a_9000_character_text_arrives_in_parts_cut_at_paragraphs(bc: Broadcast) -> None:
    text = paragraphs(9000)
    assert len(text) >= 9000
    ack = Notices("a", notice=1).encode()
    await bc.channel.send("42", Rendered(text=text, buttons=((("知道了", ack),),)))
    parts = bc.api.texts(42)
    assert len(parts) == 3 and all(len(p) <= 4096 for p in parts)
    assert "\n\n".join(parts) == text  # every cut fell on a paragraph boundary, nothing lost
    calls = bc.api.calls_to("sendMessage", 42)
    assert [bool(c.buttons()) for c in calls] == [False, False, True]  # the button rides on the last part


async def test_a_photo_with_text_over_a_caption_goes_as_photo_then_text(bc: Broadcast) -> None:
    text = "停水通知：" + "因二次供水设施检修，" * 150
    assert 1024 < len(text) <= 4096
    await bc.channel.send("43", Rendered(text=text, photos=(Attachment("photo", "AgADnotice"),)))
    [photo] = bc.api.calls_to("sendPhoto", 43)
    assert photo.status == 200 and not photo.params.get("caption")
    assert bc.api.texts(43) == [text]
    assert bc.api.delivered[43] == ["", text]


class TextRenderer:
    """Renders a row's `text` context as is: long texts without a template."""

    def render(self, reply: Reply, locale: str) -> Rendered:
        """The text, and the photos the row carries."""
        return Rendered(text=str(reply.context["text"]), photos=tuple(reply.photos))


async def test_every_part_of_a_long_message_counts_against_the_limit(bc: Broadcast) -> None:
    # 3 parts to each of 4 chats is 12 messages: at 6/s they must take two seconds, not one push each.
    bc.api.enforce(per_second=6, per_chat=3)
    people = add_recipients(bc.app.sessions, range(1, 5), bc.clock.now())
    queue(bc.app.sessions, people, bc.clock.now(), template="any.text", context={"text": paragraphs(9000)})
    dispatcher = Dispatcher(
        bc.app.sessions,
        TextRenderer(),  # type: ignore[arg-type]
        bc.clock,
        bc.app.channels,
        limits={"telegram": RateLimit(per_second=6, per_chat_gap=1.0)},
    )
    assert await dispatcher.drain() == 4
    assert not bc.api.throttled
    assert {chat: len(texts) for chat, texts in bc.api.delivered.items()} == {1: 3, 2: 3, 3: 3, 4: 3}


def test_the_double_counts_each_window_as_telegram_would() -> None:
    api = BotApi(TOKEN)
    limits = api.enforce(per_second=3, per_chat=1)
    assert limits.retry_after(1, 1, 10.0) == 0
    limits.book(1, 1, 10.0)
    assert limits.retry_after(1, 1, 10.5) == 1  # one a second to a chat
    assert limits.retry_after(2, 1, 10.5) == 0
    limits.book(2, 1, 10.5)
    limits.book(3, 1, 10.6)
    assert limits.retry_after(4, 1, 10.7) == 1  # three a second overall
    assert limits.retry_after(4, 1, 11.0) == 0  # the first one left the window
    assert limits.retry_after(4, 2, 11.0) == 1  # an album of two does not fit


async def test_no_database_work_runs_on_the_event_loop_while_a_broadcast_meets_failures(
    bc: Broadcast,
) -> None:
    """Blocked users, failing sends and 429s make the dispatcher write; those writes must not stall the
    event loop that serves the web chat (on PostgreSQL each is a network round trip)."""
    import threading

    from sqlalchemy import event

    loop_thread = threading.get_ident()
    on_loop: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if threading.get_ident() == loop_thread:
            on_loop.append(statement.split()[0])

    people = bc.recipients(range(1, 41))
    for chat in range(1, 11):
        bc.api.forbid(chat)  # blocked the bot: marked unreachable
    bc.api.enforce(per_second=1000, per_chat=1, error_rate=0.3, seed=3)  # random 5xx: retried later
    event.listen(bc.app.engine, "before_cursor_execute", record)
    try:
        await bc.app.dispatcher.drain()
    finally:
        event.remove(bc.app.engine, "before_cursor_execute", record)
    assert len(people) == 40 and bc.api.server_errors and statuses(bc.app.sessions)["unreachable"] == 10
    assert on_loop == []


async def test_a_chat_over_its_own_budget_waits_in_the_outbox_while_others_are_served(bc: Broadcast) -> None:
    # WeCom's per-member budget (30 a minute) in small: three to one chat, then the rest of its rows wait
    # without an attempt counted, and another chat's row is not held up behind them.
    people = add_recipients(bc.app.sessions, [1, 2], bc.clock.now())
    queue(bc.app.sessions, [people[0]] * 5 + [people[1]], bc.clock.now())
    bc.app.dispatcher.limits["telegram"] = RateLimit(per_second=1000, per_chat_gap=0, per_chat=("3/minute",))
    assert await bc.app.dispatcher.drain() == 4
    assert {chat: len(texts) for chat, texts in bc.api.delivered.items()} == {1: 3, 2: 1}
    waiting = [row for row in bc.rows() if row.status == "pending"]
    assert len(waiting) == 2
    assert all(row.attempts == 0 and row.claimed_until is not None for row in waiting)
    assert all(row.claimed_until > bc.clock.now() + timedelta(seconds=30) for row in waiting)
    assert await bc.app.dispatcher.drain() == 0  # not due again before the minute is out
    bc.clock.advance(seconds=61)
    assert await bc.app.dispatcher.drain() == 2
    assert {chat: len(texts) for chat, texts in bc.api.delivered.items()} == {1: 5, 2: 1}

"""Drains the outbox: leases due rows, renders each in its recipient's language, and pushes it within
each channel's rate limits, honouring the platform's requests to wait."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from limits import parse_many
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from bot.channels.base import Channel, ChatBusy, RetryLater, Unreachable
from bot.clock import Clock
from bot.render import Renderer
from bot.sent_marks import SentMarks
from core import actions, notify, tickets
from core.work import Work
from db import outbox
from db.models import Identity, Outbox, Person
from db.rows import id_of
from db.sla import Policy
from handlers.types import Attachment, Button, Rendered, Reply, shows_photo

log = logging.getLogger(__name__)
LEASE = timedelta(seconds=60)  # how long a dispatcher holds leased rows; it uses at most half of it
BACKOFF = (timedelta(seconds=5), timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10))


@dataclass
class RateLimit:
    """Messages per second overall, the least gap between two messages to one chat, and pauses the
    platform asks for (429 retry_after) before any further send.

    Messages are paced evenly; a send that starts late (the loop was busy) may catch up by at most
    `catch_up` seconds. On top of the pacing, no `window` seconds ever hold more than `per_second`
    messages as the platform counts them: a message may start only `window` + `margin` seconds after the
    one `per_second` places before it was answered (`sent`), so jitter on the way cannot bunch them."""

    per_second: float = 30.0
    per_chat_gap: float = 1.0
    catch_up: float = 0.05
    window: float = 1.0
    margin: float = 0.005
    _next_overall: float = 0.0
    _paused_until: float = 0.0
    _next_chat: dict[str, float] = field(default_factory=dict)
    _answered: deque[float] = field(default_factory=deque)  # when the last `per_second` messages were
    _booked: int = 0  # messages booked by `wait` and not yet answered
    # Budgets per chat over longer windows ("30/minute", "1000/hour": WeCom's per member); a message
    # over one waits in the outbox, so one busy chat never holds up the others. Counted on the
    # dispatcher's clock: the windows are minutes long, and tests move that clock.
    per_chat: tuple[str, ...] = ()
    _budgets: list[tuple[int, float]] = field(default_factory=list)  # (messages, window seconds)
    _chat_sent: dict[str, deque[float]] = field(default_factory=dict)  # per chat, when each one went

    def __post_init__(self) -> None:
        self._budgets = [
            (item.amount, float(item.get_expiry())) for t in self.per_chat for item in parse_many(t)
        ]

    def chat_wait(self, chat: str, count: int, now: float) -> float:
        """Seconds until `count` more messages to `chat` fit its per-chat budgets (`now` in seconds);
        0 when they fit now, and then they are counted."""
        if not self._budgets:
            return 0.0
        sent = self._chat_sent.setdefault(chat, deque())
        longest = max(seconds for _, seconds in self._budgets)
        while sent and sent[0] <= now - longest:
            sent.popleft()
        wait = 0.0
        for amount, seconds in self._budgets:
            recent = [at for at in sent if at > now - seconds]
            excess = len(recent) + count - amount
            if excess > 0:  # the window must first let go of the oldest `excess` of them
                wait = max(wait, recent[min(excess, len(recent)) - 1] + seconds - now)
        if wait > 0:
            return max(1.0, wait)
        sent.extend([now] * count)
        if len(self._chat_sent) > 50_000:
            self._chat_sent = {c: q for c, q in self._chat_sent.items() if q and q[-1] > now - longest}
        return 0.0

    def pause(self, seconds: float) -> None:
        """Send nothing on this channel for `seconds`."""
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    def sent(self) -> None:
        """Note that the messages booked by the last `wait` have been answered (or failed)."""
        if self._booked:
            self._answered.extend([time.monotonic()] * self._booked)
            self._booked = 0
            room = max(1, int(self.per_second))
            while len(self._answered) > room:
                self._answered.popleft()

    def _window_free(self, count: int) -> float:
        """The earliest time `count` more messages fit in the window."""
        excess = len(self._answered) + count - max(1, int(self.per_second))
        if excess <= 0 or not self._answered:
            return 0.0
        # the last of the messages that must have left the window first
        return self._answered[min(excess, len(self._answered)) - 1] + self.window + self.margin

    async def wait(
        self, chat: str, count: int = 1, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    ) -> None:
        """Wait until `count` more messages to `chat` (a long text's parts) keep within every limit, and
        book them; call `sent` once they have been answered."""
        self.sent()  # a sender that did not say so: the previous messages are done by now
        now = time.monotonic()
        start = max(
            now,
            self._next_overall,
            self._paused_until,
            self._next_chat.get(chat, 0.0),
            self._window_free(count),
        )
        self._next_overall = max(self._next_overall, start - self.catch_up) + count / self.per_second
        self._next_chat[chat] = start + count * self.per_chat_gap
        self._booked = count
        if len(self._next_chat) > 50_000:
            self._next_chat = {k: v for k, v in self._next_chat.items() if v > now}
        if start > now:
            await sleep(start - now)
        if self._paused_until > time.monotonic():  # a 429 arrived while we waited
            await sleep(self._paused_until - time.monotonic())


def about_of(row: Outbox) -> str:
    """The view a push is about, as button data: the ticket (a worker's task view when the push offers
    task buttons), the notice, or the poll its buttons vote in; "" when none."""
    presses = [actions.decode(str(b.get("data", ""))) for r in row.buttons for b in r if isinstance(b, dict)]
    if row.ticket_id is not None:
        if any(isinstance(p, actions.Task) for p in presses):
            return actions.Task("v", ticket=row.ticket_id).encode()
        return actions.MyTicket("v", ticket=row.ticket_id).encode()
    if row.notice_id is not None:
        return actions.Notices("v", notice=row.notice_id).encode()
    for press in presses:
        if isinstance(press, actions.Vote) and press.poll is not None:
            return actions.Vote("v", poll=press.poll).encode()
    return ""


@dataclass
class _Batch:
    """Leased rows with their recipients and reachable identities."""

    rows: list[Outbox]
    people: dict[int, Person]
    identities: dict[int, list[Identity]]
    leased_at: float  # time.monotonic() when the lease was taken


class Dispatcher:
    """Sends outbox rows through the channels. A row is marked sent after it left; a dispatcher that
    dies mid-batch leaves its lease to expire and the rows in flight are sent again (never lost)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        renderer: Renderer,
        clock: Clock,
        channels: dict[str, Channel],
        policy: Policy | None = None,
        limits: dict[str, RateLimit] | None = None,
        batch: int = 50,
        lease: timedelta = LEASE,
        sent: SentMarks | None = None,
    ) -> None:
        self.sessions = sessions
        self.renderer = renderer
        self.clock = clock
        self.channels = channels
        self.policy = policy
        self.limits = limits if limits is not None else {"telegram": RateLimit()}
        self.batch = batch
        self.lease = lease
        self.sent = sent if sent is not None else SentMarks()  # the turns' answers that left: marked first
        self._lock = asyncio.Lock()

    async def drain(self, limit: int | None = None) -> int:
        """Send everything due (urgent first; quiet hours respected); returns how many rows were sent.

        The database work runs in a worker thread, and the next batch is leased and looked up while the
        current one is being sent; a batch is marked sent before the next one starts, so at most one batch
        can be in flight at a crash."""
        async with self._lock:
            sent = 0
            handled = 0
            batch = await asyncio.to_thread(self._lease, self._size(limit, handled))
            while batch is not None:
                handled += len(batch.rows)
                upcoming: asyncio.Future[_Batch | None] | None = None
                if limit is None or handled < limit:
                    upcoming = asyncio.ensure_future(
                        asyncio.to_thread(self._lease, self._size(limit, handled))
                    )
                try:
                    sent += await self._send_batch(batch)
                except BaseException:
                    if upcoming is not None:  # give the prefetched rows back rather than hold them a lease
                        ahead = await asyncio.shield(upcoming)
                        if ahead is not None:
                            await asyncio.to_thread(
                                self._release, [r.id for r in ahead.rows if r.id is not None]
                            )
                    raise
                batch = await upcoming if upcoming is not None else None
            return sent

    def _size(self, limit: int | None, handled: int) -> int:
        return self.batch if limit is None else min(self.batch, limit - handled)

    def _lease(self, size: int) -> _Batch | None:
        """Lease the next due rows and look up their recipients (in a worker thread)."""
        with self.sessions() as session:
            now = self.clock.now()
            with self.sent.written(session, now):  # an answer that left is never taken to be sent again
                rows = outbox.claim(session, now, size, self.lease)
                session.commit()
        if not rows:
            return None
        people, identities = self._recipients(rows)
        return _Batch(rows, people, identities, time.monotonic())

    def _release(self, ids: list[int]) -> None:
        with self.sessions() as session:
            outbox.release(session, ids)
            session.commit()

    def _mark_sent(self, ids: list[int]) -> None:
        with self.sessions() as session:
            outbox.mark_sent(session, ids, self.clock.now())
            session.commit()

    async def _send_batch(self, batch: _Batch) -> int:
        cache: dict[tuple[Any, ...], Rendered] = {}
        sent: list[int] = []
        try:
            for index, row in enumerate(batch.rows):
                if time.monotonic() - batch.leased_at > self.lease.total_seconds() / 2:
                    # A long pause (429) ate into the lease: give the rest back before another dispatcher
                    # may take them, rather than send what it may be sending too.
                    rest = [r.id for r in batch.rows[index:] if r.id is not None]
                    await asyncio.to_thread(self._release, rest)
                    break
                person = batch.people.get(row.person_id)
                outcome = await self._send_row(row, person, batch.identities.get(row.person_id, []), cache)
                if outcome == "sent":
                    sent.append(id_of(row))
        finally:  # what left is marked even when the batch is interrupted (a clean shutdown cancels us)
            if sent:
                await asyncio.shield(asyncio.to_thread(self._mark_sent, sent))
        return len(sent)

    def _recipients(self, rows: list[Outbox]) -> tuple[dict[int, Person], dict[int, list[Identity]]]:
        ids = {row.person_id for row in rows}
        with self.sessions() as session:
            people = {id_of(p): p for p in session.exec(select(Person).where(col(Person.id).in_(ids))).all()}
            found = session.exec(
                select(Identity).where(col(Identity.person_id).in_(ids), col(Identity.unreachable).is_(False))
            ).all()
        identities: dict[int, list[Identity]] = {}
        for identity in found:
            identities.setdefault(identity.person_id, []).append(identity)
        return people, identities

    def _render(
        self, row: Outbox, person: Person, channel: str, cache: dict[tuple[Any, ...], Rendered]
    ) -> Rendered:
        if row.rendered is not None:  # a turn's answer, rendered when it was decided
            return Rendered.from_kept(row.rendered)
        # A broadcast renders once per language and channel, not once per recipient.
        key = (row.notice_id, row.template, person.locale, channel) if row.notice_id else None
        if key is not None and key in cache:
            return cache[key]
        context = dict(row.context)
        photos = context.pop("_photos", [])
        files = [Attachment("photo", ref) for ch, ref in photos if shows_photo(ch, channel)]
        voice = context.pop("_voice", [])  # a task card's spoken description: channel, ref, seconds
        if voice and shows_photo(voice[0], channel):
            files.append(Attachment("voice", voice[1], duration=voice[2]))
        buttons = [
            [Button(b["data"], b.get("label", ""), b.get("text", ""), b.get("args", {})) for b in r]
            for r in row.buttons
        ]
        reply = Reply(
            row.template,
            context,
            buttons,
            photos=files,
        )
        message = replace(self.renderer.render(reply, person.locale), about=about_of(row))
        if key is not None:
            cache[key] = message
        return message

    async def _send_row(
        self,
        row: Outbox,
        person: Person | None,
        identities: list[Identity],
        cache: dict[tuple[Any, ...], Rendered],
    ) -> str:
        if row.identity_id is not None:  # a turn's answer goes back to the account that asked
            identities = [i for i in identities if i.id == row.identity_id]
        if person is None or not identities:
            await asyncio.to_thread(self._close, row, "unreachable", "no reachable account")
            return "unreachable"
        delivered = blocked = False
        for identity in identities:
            channel = self.channels.get(identity.channel)
            if channel is None:
                continue
            try:
                message = self._render(row, person, identity.channel, cache)
            except Exception as exc:  # a template bug: keep the row with its reason rather than lose it
                log.exception("outbox %s: cannot render %s", row.id, row.template)
                await asyncio.to_thread(self._retry, row, f"render: {exc}")
                return "failed"
            limiter = self.limits.get(identity.channel)
            if limiter is not None:
                now = self.clock.now().timestamp()
                busy = limiter.chat_wait(identity.chat_id, channel.messages_for(message), now)
                if busy:
                    await asyncio.to_thread(self._defer, row, busy)
                    return "later"
            try:
                if limiter is not None:
                    await limiter.wait(identity.chat_id, channel.messages_for(message))
                try:
                    await channel.push(identity, message)
                finally:
                    if limiter is not None:
                        limiter.sent()
                delivered = True
            except Unreachable:
                blocked = True
                await asyncio.to_thread(self._mark_unreachable, id_of(identity))
            except ChatBusy as exc:  # only this account waits: the rest of the batch goes on
                await asyncio.to_thread(self._defer, row, exc.seconds)
                return "later"
            except RetryLater as exc:
                if limiter is not None:
                    limiter.pause(exc.seconds)
                await asyncio.to_thread(self._release, [id_of(row)])
                return "later"
            except Exception as exc:  # a transient failure: back off and try again
                log.warning("push to %s %s failed: %s", identity.channel, identity.id, exc)
                await asyncio.to_thread(self._retry, row, str(exc) or type(exc).__name__)
                return "failed"
        if delivered:
            return "sent"
        await asyncio.to_thread(
            self._close, row, "unreachable", "blocked the bot" if blocked else "no channel"
        )
        if blocked and row.ticket_id is not None:
            await asyncio.to_thread(self._tell_holder_to_call, row)
        return "unreachable"

    def _close(self, row: Outbox, status: str, reason: str) -> None:
        with self.sessions() as session:
            outbox.mark_status(session, id_of(row), status, reason)
            session.commit()

    def _defer(self, row: Outbox, seconds: float) -> None:
        with self.sessions() as session:
            outbox.defer(session, id_of(row), self.clock.now() + timedelta(seconds=seconds))
            session.commit()

    def _retry(self, row: Outbox, reason: str) -> None:
        wait = BACKOFF[min(row.attempts, len(BACKOFF) - 1)]
        with self.sessions() as session:
            outbox.retry_later(session, id_of(row), row.attempts, self.clock.now() + wait, reason)
            session.commit()

    def _mark_unreachable(self, identity_id: int) -> None:
        with self.sessions() as session:
            identity = session.get(Identity, identity_id)
            if identity is not None:
                identity.unreachable = True
            session.commit()

    def _tell_holder_to_call(self, row: Outbox) -> None:
        """A resident who blocked the bot still has a case: its holder is told to phone or visit."""
        if self.policy is None or row.ticket_id is None:
            return
        with self.sessions() as session:
            work = Work(session, self.clock.now(), self.policy)
            if tickets.resident_unreachable(work, row.ticket_id, row.person_id):
                notify.publish(work)
                session.commit()

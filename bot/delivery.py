"""Drains the outbox: leases due rows, renders each in its recipient's language, and pushes it within
each channel's rate limits, honouring the platform's requests to wait."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from bot.channels.base import Channel, RetryLater, Unreachable
from bot.clock import Clock
from bot.render import Renderer
from db import cases, outbox
from db.models import Identity, Outbox, Person, Ticket
from db.sla import Policy
from handlers.types import Attachment, Button, Rendered, Reply

log = logging.getLogger(__name__)
LEASE = timedelta(seconds=60)
BACKOFF = (timedelta(seconds=5), timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10))


@dataclass
class RateLimit:
    """Messages per second overall, the least gap between two messages to one chat, and pauses the
    platform asks for (429 retry_after) before any further send."""

    per_second: float = 30.0
    per_chat_gap: float = 1.0
    _next_overall: float = 0.0
    _paused_until: float = 0.0
    _next_chat: dict[str, float] = field(default_factory=dict)

    def pause(self, seconds: float) -> None:
        """Send nothing on this channel for `seconds`."""
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    async def wait(self, chat: str, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        """Wait until one more message to `chat` keeps within every limit, and book it."""
        now = time.monotonic()
        start = max(now, self._next_overall, self._paused_until, self._next_chat.get(chat, 0.0))
        self._next_overall = start + 1.0 / self.per_second
        self._next_chat[chat] = start + self.per_chat_gap
        if len(self._next_chat) > 50_000:
            self._next_chat = {k: v for k, v in self._next_chat.items() if v > now}
        if start > now:
            await sleep(start - now)
        if self._paused_until > time.monotonic():  # a 429 arrived while we waited
            await sleep(self._paused_until - time.monotonic())


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
    ) -> None:
        self.sessions = sessions
        self.renderer = renderer
        self.clock = clock
        self.channels = channels
        self.policy = policy
        self.limits = limits if limits is not None else {"telegram": RateLimit()}
        self.batch = batch
        self._lock = asyncio.Lock()

    async def drain(self, limit: int | None = None) -> int:
        """Send everything due (urgent first; quiet hours respected); returns how many rows were sent."""
        async with self._lock:
            sent = 0
            handled = 0
            while limit is None or handled < limit:
                size = self.batch if limit is None else min(self.batch, limit - handled)
                with self.sessions() as session:
                    rows = outbox.claim(session, self.clock.now(), size, LEASE)
                    session.commit()
                if not rows:
                    break
                handled += len(rows)
                sent += await self._send_batch(rows)
            return sent

    async def _send_batch(self, rows: list[Outbox]) -> int:
        people, identities = self._recipients(rows)
        cache: dict[tuple[Any, ...], Rendered] = {}
        sent: list[int] = []
        for row in rows:
            person = people.get(row.person_id)
            outcome = await self._send_row(row, person, identities.get(row.person_id, []), cache)
            if outcome == "sent":
                sent.append(row.id)  # type: ignore[arg-type]
        if sent:
            with self.sessions() as session:
                outbox.mark_sent(session, sent, self.clock.now())
                session.commit()
        return len(sent)

    def _recipients(self, rows: list[Outbox]) -> tuple[dict[int, Person], dict[int, list[Identity]]]:
        ids = {row.person_id for row in rows}
        with self.sessions() as session:
            people = {p.id: p for p in session.exec(select(Person).where(col(Person.id).in_(ids))).all()}
            found = session.exec(
                select(Identity).where(col(Identity.person_id).in_(ids), col(Identity.unreachable).is_(False))
            ).all()
        identities: dict[int, list[Identity]] = {}
        for identity in found:
            identities.setdefault(identity.person_id, []).append(identity)
        return people, identities  # type: ignore[return-value]

    def _render(
        self, row: Outbox, person: Person, channel: str, cache: dict[tuple[Any, ...], Rendered]
    ) -> Rendered:
        # A broadcast renders once per language and channel, not once per recipient.
        key = (row.notice_id, person.locale, channel) if row.notice_id else None
        if key is not None and key in cache:
            return cache[key]
        context = dict(row.context)
        photos = context.pop("_photos", [])
        buttons = [
            [Button(b["data"], b.get("label", ""), b.get("text", ""), b.get("args", {})) for b in r]
            for r in row.buttons
        ]
        reply = Reply(
            row.template,
            context,
            buttons,
            photos=[Attachment("photo", ref) for ch, ref in photos if ch in (channel, "web")],
        )
        message = self.renderer.render(reply, person.locale)
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
        if person is None or not identities:
            self._close(row, "unreachable", "no reachable account")
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
                self._retry(row, f"render: {exc}")
                return "failed"
            limiter = self.limits.get(identity.channel)
            try:
                if limiter is not None:
                    await limiter.wait(identity.chat_id)
                await channel.push(identity, message)
                delivered = True
            except Unreachable:
                blocked = True
                self._mark_unreachable(identity.id)  # type: ignore[arg-type]
            except RetryLater as exc:
                if limiter is not None:
                    limiter.pause(exc.seconds)
                with self.sessions() as session:
                    outbox.release(session, [row.id])  # type: ignore[list-item]
                    session.commit()
                return "later"
            except Exception as exc:  # a transient failure: back off and try again
                log.warning("push to %s %s failed: %s", identity.channel, identity.id, exc)
                self._retry(row, str(exc) or type(exc).__name__)
                return "failed"
        if delivered:
            return "sent"
        self._close(row, "unreachable", "blocked the bot" if blocked else "no channel")
        if blocked and row.ticket_id is not None:
            self._tell_holder_to_call(row)
        return "unreachable"

    def _close(self, row: Outbox, status: str, reason: str) -> None:
        with self.sessions() as session:
            outbox.mark_status(session, row.id, status, reason)  # type: ignore[arg-type]
            session.commit()

    def _retry(self, row: Outbox, reason: str) -> None:
        wait = BACKOFF[min(row.attempts, len(BACKOFF) - 1)]
        with self.sessions() as session:
            outbox.retry_later(session, row.id, row.attempts, self.clock.now() + wait, reason)  # type: ignore[arg-type]
            session.commit()

    def _mark_unreachable(self, identity_id: int) -> None:
        with self.sessions() as session:
            identity = session.get(Identity, identity_id)
            if identity is not None:
                identity.unreachable = True
            session.commit()

    def _tell_holder_to_call(self, row: Outbox) -> None:
        """A resident who blocked the bot still has a case: its holder is told to phone or visit."""
        if self.policy is None:
            return
        with self.sessions() as session:
            ticket = session.get(Ticket, row.ticket_id)
            if ticket is None or row.person_id not in cases.residents_of(session, ticket):
                return
            if ticket.state not in (
                "new",
                "assigned",
                "accepted",
                "waiting_for_resident",
                "reopened",
                "resolved",
            ):
                return
            resident = session.get(Person, row.person_id)
            cases.push(
                session,
                ticket,
                cases.holders_of(session, ticket),
                "cases.resident_unreachable",
                {"phone": cases.mask_phone(resident.phone) if resident else ""},
                self.clock.now(),
                self.policy,
                urgent=True,
            )
            session.commit()

"""Drains the outbox: renders each queued message in its recipient's language and pushes it within
each channel's rate limits."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from bot.channels.base import Channel, Unreachable
from bot.clock import Clock
from bot.render import Renderer
from db import cases, outbox
from db.models import Identity, Outbox, Person, Ticket
from db.sla import Policy
from handlers.types import Attachment, Button, Reply

log = logging.getLogger(__name__)


@dataclass
class RateLimit:
    """Messages per second overall and the least gap between two messages to one chat."""

    per_second: float = 30.0
    per_chat_gap: float = 1.0
    _next_overall: float = 0.0
    _next_chat: dict[str, float] = field(default_factory=dict)

    async def wait(self, chat: str, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        """Wait until one more message to `chat` keeps within both limits, and book it."""
        now = time.monotonic()
        start = max(now, self._next_overall, self._next_chat.get(chat, 0.0))
        self._next_overall = start + 1.0 / self.per_second
        self._next_chat[chat] = start + self.per_chat_gap
        if len(self._next_chat) > 50_000:
            self._next_chat = {k: v for k, v in self._next_chat.items() if v > now}
        if start > now:
            await sleep(start - now)


class Dispatcher:
    """Sends outbox rows through the channels. A row is marked sent before it leaves, so a crash can at
    worst lose one message in flight, never send one twice."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        renderer: Renderer,
        clock: Clock,
        channels: dict[str, Channel],
        policy: Policy | None = None,
        limits: dict[str, RateLimit] | None = None,
    ) -> None:
        self.sessions = sessions
        self.renderer = renderer
        self.clock = clock
        self.channels = channels
        self.policy = policy
        self.limits = limits if limits is not None else {"telegram": RateLimit()}
        self._lock = asyncio.Lock()

    async def drain(self, limit: int = 200) -> int:
        """Send what is due (urgent first, quiet hours respected); returns how many rows reached someone."""
        async with self._lock:
            with self.sessions() as session:
                rows = outbox.due(session, self.clock.now(), limit)
            sent = 0
            for row in rows:
                sent += int(await self._send_row(row))
            return sent

    async def _send_row(self, row: Outbox) -> bool:
        with self.sessions() as session:
            if not outbox.mark_sent(session, row.id, self.clock.now()):  # type: ignore[arg-type]
                session.rollback()
                return False  # another dispatcher took it
            person = session.get(Person, row.person_id)
            identities = session.exec(
                select(Identity).where(
                    Identity.person_id == row.person_id, col(Identity.unreachable).is_(False)
                )
            ).all()
            session.commit()
        if person is None:
            return False
        context = dict(row.context)
        photos = context.pop("_photos", [])
        buttons = [
            [Button(b["data"], b.get("label", ""), b.get("text", ""), b.get("args", {})) for b in r]
            for r in row.buttons
        ]
        delivered = False
        blocked = False
        for identity in identities:
            channel = self.channels.get(identity.channel)
            if channel is None:
                continue
            reply = Reply(
                row.template,
                context,
                buttons,
                photos=[Attachment("photo", ref) for ch, ref in photos if ch in (identity.channel, "web")],
            )
            try:
                message = self.renderer.render(reply, person.locale)
            except Exception as exc:  # a template bug: keep the row (with its reason) rather than lose it
                log.exception("outbox %s: cannot render %s", row.id, row.template)
                with self.sessions() as session:
                    outbox.mark_failed(session, row.id, f"render: {exc}")  # type: ignore[arg-type]
                    session.commit()
                return False
            limiter = self.limits.get(identity.channel)
            try:
                if limiter is not None:
                    await limiter.wait(identity.chat_id)
                await channel.push(identity, message)
                delivered = True
            except Unreachable:
                blocked = True
                self._mark_unreachable(identity.id)  # type: ignore[arg-type]
            except Exception as exc:  # a transient failure: the row goes back for another try
                log.warning("push to %s %s failed: %s", identity.channel, identity.id, exc)
                with self.sessions() as session:
                    outbox.mark_failed(session, row.id, str(exc))  # type: ignore[arg-type]
                    session.commit()
                return False
        if not delivered and blocked and row.ticket_id is not None:
            self._tell_holder_to_call(row)
        return delivered

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
            now = self.clock.now()
            cases.push(
                session,
                ticket,
                cases.holders_of(session, ticket),
                "cases.resident_unreachable",
                {"phone": cases.mask_phone(resident.phone) if resident else ""},
                now,
                self.policy,
                urgent=True,
            )
            session.commit()

"""Drains the outbox: renders each queued message in its recipient's language and pushes it."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from bot.channels.base import Channel, Unreachable
from bot.clock import Clock
from bot.render import Renderer
from db import outbox
from db.models import Identity, Person
from handlers.types import Button, Reply

log = logging.getLogger(__name__)


class Dispatcher:
    """Sends outbox rows through the channels; a row is marked sent before it leaves, so a crash
    can at worst lose one in flight, never send one twice."""

    def __init__(
        self, sessions: sessionmaker[Session], renderer: Renderer, clock: Clock, channels: dict[str, Channel]
    ) -> None:
        self.sessions = sessions
        self.renderer = renderer
        self.clock = clock
        self.channels = channels
        self._lock = asyncio.Lock()

    async def drain(self, limit: int = 200) -> int:
        """Send what is due; returns how many messages left."""
        async with self._lock:
            sent = 0
            with self.sessions() as session:
                rows = outbox.due(session, limit)
            for row in rows:
                with self.sessions() as session:
                    if not outbox.mark_sent(session, row.id, self.clock.now()):  # type: ignore[arg-type]
                        session.rollback()
                        continue
                    person = session.get(Person, row.person_id)
                    identities = session.exec(
                        select(Identity).where(
                            Identity.person_id == row.person_id, col(Identity.unreachable).is_(False)
                        )
                    ).all()
                    session.commit()
                if person is None:
                    continue
                reply = Reply(
                    row.template,
                    dict(row.context),
                    [
                        [
                            Button(b["data"], b.get("label", ""), b.get("text", ""), b.get("args", {}))
                            for b in r
                        ]
                        for r in row.buttons
                    ],
                )
                message = self.renderer.render(reply, person.locale)
                delivered = False
                for identity in identities:
                    channel = self.channels.get(identity.channel)
                    if channel is None:
                        continue
                    try:
                        await channel.push(identity, message)
                        delivered = True
                    except Unreachable:
                        with self.sessions() as session:
                            fresh = session.get(Identity, identity.id)
                            if fresh is not None:
                                fresh.unreachable = True
                            session.commit()
                    except Exception as exc:  # a transient failure: keep the row for another try
                        log.warning("push to %s %s failed: %s", identity.channel, identity.id, exc)
                        with self.sessions() as session:
                            outbox.mark_failed(session, row.id, str(exc))  # type: ignore[arg-type]
                            session.commit()
                sent += int(delivered)
            return sent

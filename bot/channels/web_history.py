"""The web chat's history: the messages a page shows, kept so a reload or a push shows the whole chat."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, cast
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from bot.clock import Clock
from db import files
from db.models import Identity, WebMessage

PAGE = 200  # messages per answer; a first load gets the newest ones


class WebHistory:
    """Reads and writes the web chat's messages, and what it knows of a session's uploads."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock, channel: str) -> None:
        self.sessions = sessions
        self.clock = clock
        self.channel = channel

    def push(self, identity_id: int, body: dict[str, Any]) -> None:
        """Store a pushed message; the page picks it up on its next poll."""
        with self.sessions() as session:
            session.add(
                WebMessage(identity_id=identity_id, outgoing=True, body=body, created_at=self.clock.now())
            )
            session.commit()

    @staticmethod
    def add(
        session: Session,
        identity_id: int,
        outgoing: bool,
        body: dict[str, Any],
        now: datetime,
        need_id: bool = False,
    ) -> int | None:
        """Write a message in the caller's transaction (a turn's); its id only when `need_id` (a flush)."""
        row = WebMessage(identity_id=identity_id, outgoing=outgoing, body=body, created_at=now)
        session.add(row)
        if not need_id:
            return None
        session.flush()
        return row.id

    def page(self, identity_id: int | None, after: int) -> list[dict[str, Any]]:
        """The messages after id `after` (a fresh page, `after` 0: the newest ones), oldest first."""
        if identity_id is None:
            return []
        query = select(WebMessage).where(WebMessage.identity_id == identity_id, col(WebMessage.id) > after)
        with self.sessions() as session:
            if after <= 0:  # a fresh page shows the newest messages, not the oldest ones
                rows = list(session.exec(query.order_by(col(WebMessage.id).desc()).limit(PAGE)).all())[::-1]
            else:
                rows = list(session.exec(query.order_by(col(WebMessage.id)).limit(PAGE)).all())
            return [{"id": r.id, "outgoing": r.outgoing, **r.body} for r in rows]

    def shows(self, identity_id: int, name: str) -> bool:
        """Whether a photo or voice was shown in this identity's chat (uploaded by it, or sent to it)."""
        with self.sessions() as session:
            bodies = session.exec(
                select(WebMessage.body).where(
                    WebMessage.identity_id == identity_id, cast(WebMessage.body, String).contains(name)
                )
            ).all()
        return any(
            name in (body.get("photos") or []) or any(v[0] == name for v in body.get("voices") or [])
            for body in bodies
        )

    def uploads(self, external_id: str, since: datetime) -> list[tuple[str, datetime]] | None:
        """The photos a session's person sent since a moment (name, when); None when they have not joined."""
        with self.sessions() as session:
            person_id = session.exec(
                select(Identity.person_id).where(
                    Identity.channel == self.channel, Identity.external_id == external_id
                )
            ).first()
            if person_id is None or not files.joined(session, person_id):
                return None
            return files.uploads_since(session, person_id, since)

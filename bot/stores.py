"""What a channel reads and writes outside a turn: its people's accounts, its part of the inbound log, and
the stored photos. Each is a small store over the session factory, so a channel is handed only these."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from bot.clock import Clock
from db import inbound
from db.models import Identity, Person
from db.rows import id_of

# The names we give stored photos (uploads, charts); anything else is not one of our files.
FILE_NAME = re.compile(r"^[A-Za-z0-9_-]{20,64}\.(jpg|png|gif|webp|amr|mp3|speex|webm|ogg|m4a|aac|wav)$")


class Identities:
    """People's accounts on one channel, found by the channel's own id for them."""

    def __init__(self, sessions: sessionmaker[Session], channel: str) -> None:
        self.sessions = sessions
        self.channel = channel

    def _where(self, external_id: str) -> Any:
        return (Identity.channel == self.channel) & (Identity.external_id == external_id)

    def id_of(self, external_id: str) -> int | None:
        """The identity's row id, or None when this account never wrote."""
        with self.sessions() as session:
            return session.exec(select(Identity.id).where(self._where(external_id))).first()

    def person_of(self, external_id: str) -> int | None:
        """The person behind the account, or None when this account never wrote."""
        with self.sessions() as session:
            return session.exec(select(Identity.person_id).where(self._where(external_id))).first()

    def locale_of(self, external_id: str) -> str | None:
        """The language the person chose with /lang, or None when unknown."""
        with self.sessions() as session:
            return session.exec(
                select(Person.locale)
                .join(Identity, col(Identity.person_id) == Person.id)
                .where(self._where(external_id))
            ).first()

    def note_inbound(self, external_id: str, at: datetime) -> None:
        """The person wrote or tapped on this account: a platform's reply window starts again."""
        with self.sessions() as session:
            session.exec(
                update(Identity)
                .where(self._where(external_id))
                .values(last_inbound_at=at, window_sent=0, unreachable=False)
            )
            session.commit()

    def take_window(
        self, external_id: str, now: datetime, window: timedelta, limit: int, count: int = 1
    ) -> bool:
        """Count `count` messages in the reply window (the person wrote within `window`, and they fit in
        `limit` with those sent since); False when it is closed or used up, and nothing is counted."""
        with self.sessions() as session:
            result = session.exec(
                update(Identity)
                .where(
                    self._where(external_id),
                    col(Identity.last_inbound_at) > now - window,
                    col(Identity.window_sent) + count <= limit,
                )
                .values(window_sent=Identity.window_sent + count)
            )
            session.commit()
            return bool(result.rowcount)

    def spend_window(self, external_id: str, count: int) -> None:
        """Count messages the platform counts in the window though no push asked first (a turn's answers),
        or use it up (`count` at the limit) when the platform says it is."""
        with self.sessions() as session:
            session.exec(
                update(Identity)
                .where(self._where(external_id))
                .values(window_sent=Identity.window_sent + count)
            )
            session.commit()

    def set_choices(self, external_id: str, data: list[str]) -> None:
        """Remember the button data of the numbered menu just shown ("回复 1、2、3")."""
        with self.sessions() as session:
            session.exec(update(Identity).where(self._where(external_id)).values(choices=list(data)))
            session.commit()

    def choices_of(self, external_id: str) -> list[str]:
        """The button data of the last numbered menu shown to this account, in order."""
        with self.sessions() as session:
            found = session.exec(select(Identity.choices).where(self._where(external_id))).first()
            return [str(item) for item in found or []]

    def mark_unreachable(self, external_id: str) -> None:
        """Stop pushing to an account that blocked the bot or no longer exists."""
        with self.sessions() as session:
            session.exec(update(Identity).where(self._where(external_id)).values(unreachable=True))
            session.commit()


class IntakeLog:
    """One channel's part of the inbound log: updates stored and never processed, and closing updates
    without a turn."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock, channel: str) -> None:
        self.sessions = sessions
        self.clock = clock
        self.channel = channel

    def pending(
        self, limit: int, after_id: int = 0, received_before: datetime | None = None
    ) -> list[tuple[int, str, dict[str, Any]]]:
        """Stored, unprocessed updates after row `after_id`, oldest first: (row id, update id, payload)."""
        with self.sessions() as session:
            rows = inbound.unprocessed(
                session, self.channel, limit, after_id=after_id, received_before=received_before
            )
            return [(id_of(row), row.update_id, row.payload) for row in rows]

    def close(self, items: list[tuple[str, str]]) -> int:
        """Close stored updates without a turn: (update id, why), where no reason means ignored rather
        than set aside; returns how many were set aside."""
        set_aside = 0
        with self.sessions() as session:
            now = self.clock.now()
            for update_id, reason in items:
                closed = inbound.close(session, self.channel, [update_id], now, reason)
                set_aside += closed if reason else 0
            session.commit()
        return set_aside


class FileStore:
    """Stored photos (uploads, charts) in one folder, under the random names we gave them."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, name: str) -> Path | None:
        """Where one of our files is, or None when the name is not ours or the file is gone."""
        if not FILE_NAME.match(name):
            return None
        path = self.folder / name
        return path if path.is_file() else None

    def read(self, name: str) -> bytes | None:
        """The bytes of one of our files, or None."""
        path = self.path(name)
        return path.read_bytes() if path is not None else None

    def save(self, name: str, data: bytes) -> None:
        """Write a file under the name we gave it."""
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / name).write_bytes(data)

    def delete(self, name: str) -> None:
        """Remove a file, if it is there."""
        (self.folder / name).unlink(missing_ok=True)

    def size(self, name: str) -> int:
        """A file's size in bytes; 0 when it is gone."""
        try:
            return (self.folder / name).stat().st_size
        except OSError:
            return 0

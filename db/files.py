"""Stored photos: who may upload, what a person uploaded lately, which files no row needs any more."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, String, Text, TypeDecorator, cast, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, SQLModel, col, select

from db.models import Conversation, Identity, Residency, RoleGrant, WebMessage

# The names we give stored photos and voices (random, so a name found in any text is a reference); the
# same extensions as bot.stores.FILE_NAME, so a discarded recording is cleaned up like a photo.
_KINDS = ("jpg", "png", "gif", "webp", "amr", "mp3", "speex", "webm", "ogg", "m4a", "aac", "wav")
STORED_NAME = re.compile(r"[A-Za-z0-9_-]{20,64}\.(?:" + "|".join(_KINDS) + ")")
_EXTENSIONS = tuple(f".{kind}" for kind in _KINDS)
# The conversation's flow and step while a self-registering owner is asked for the certificate photo.
REGISTERING = ("join", "document")


def joined(session: Session, person_id: int) -> bool:
    """Whether a person has joined: a home (verified or waiting for it) or a role; or, about to, they are
    asked for the ownership certificate's photo their registration needs (so they may upload it)."""
    home = session.exec(
        select(Residency.id).where(
            Residency.person_id == person_id, col(Residency.status).in_(("pending", "verified"))
        )
    ).first()
    if home is not None:
        return True
    if session.exec(select(RoleGrant.id).where(RoleGrant.person_id == person_id)).first() is not None:
        return True
    asked = session.exec(
        select(Conversation.person_id).where(
            Conversation.person_id == person_id,
            Conversation.flow == REGISTERING[0],
            Conversation.step == REGISTERING[1],
        )
    ).first()
    return asked is not None


def uploads_since(session: Session, person_id: int, since: datetime) -> list[tuple[str, datetime]]:
    """The photos and voices a person sent in the web chat since a moment: stored name and when."""
    rows = session.exec(
        select(WebMessage.body, WebMessage.created_at)
        .join(Identity, col(Identity.id) == WebMessage.identity_id)
        .where(
            Identity.person_id == person_id,
            col(WebMessage.outgoing).is_(False),
            col(WebMessage.created_at) >= since,
        )
    ).all()
    sent = [(name, at) for body, at in rows for name in (body.get("photos") or []) if isinstance(name, str)]
    voices = [(voice[0], at) for body, at in rows for voice in (body.get("voices") or []) if voice]
    return sent + [(name, at) for name, at in voices if isinstance(name, str)]


def referenced_names(session: Session) -> set[str]:
    """Every stored-photo name that any row mentions, in any table's text or JSON column.

    Reading every column (not a list of known ones) keeps a file that a table added later refers to.
    """
    names: set[str] = set()
    for table in SQLModel.metadata.sorted_tables:
        for column in table.columns:
            kind = column.type.impl_instance if isinstance(column.type, TypeDecorator) else column.type
            if isinstance(kind, JSON):
                text: Any = cast(column, Text)
            elif isinstance(kind, String) and (kind.length or 10_000) >= 24:  # long enough for a name
                text = column
            else:
                continue
            found = session.connection().execute(
                sa_select(text).where(or_(*(text.contains(ext) for ext in _EXTENSIONS)))
            )
            for (value,) in found:
                names.update(STORED_NAME.findall(value or ""))
    return names


def orphaned_files(session: Session, folder: Path, before: datetime) -> list[Path]:
    """Stored photos last changed before a moment that no row refers to (an upload in flight is newer)."""
    if not folder.is_dir():
        return []
    cutoff = before.timestamp()
    old = [
        path
        for path in folder.iterdir()
        if STORED_NAME.fullmatch(path.name) and path.is_file() and path.stat().st_mtime < cutoff
    ]
    if not old:
        return []
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        # One snapshot for every table: a photo moving from a draft to its ticket is seen in one of them.
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    kept = referenced_names(session)
    return [path for path in old if path.name not in kept]


def delete_orphaned_files(session: Session, folder: Path, before: datetime) -> int:
    """Delete the stored photos nobody refers to that are older than a moment; returns how many."""
    orphans = orphaned_files(session, folder, before)
    for path in orphans:
        path.unlink(missing_ok=True)
    return len(orphans)

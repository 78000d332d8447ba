"""Console sign-in: one-time links and sessions. Only hashes of the secrets are stored, so a copy of the
database signs nobody in."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col

from db.models import ConsoleLink, ConsoleSession

LINK_LIFETIME = timedelta(minutes=10)
IDLE_TIMEOUT = timedelta(minutes=30)
LONGEST = timedelta(hours=12)  # a working day: a tab kept busy still signs in again the next morning
TOUCH_EVERY = timedelta(minutes=1)  # a session's last_seen is written at most this often


def digest(secret: str) -> str:
    """The stored form of a link token or session id."""
    return hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()


def issue_link(session: Session, person_id: int, now: datetime, lifetime: timedelta = LINK_LIFETIME) -> str:
    """A new sign-in token for the person, valid once within `lifetime`; returns the token itself."""
    token = secrets.token_urlsafe(32)
    session.add(
        ConsoleLink(token_hash=digest(token), person_id=person_id, created_at=now, expires_at=now + lifetime)
    )
    return token


def redeem_link(session: Session, token: str, now: datetime) -> int | None:
    """Use a sign-in token: the person it was issued to, or None when unknown, used or expired. One
    conditional update, so two tabs (or two processes) racing for one link let only one through."""
    if not token or len(token) > 100:
        return None
    hashed = digest(token)
    used = session.connection().execute(
        update(ConsoleLink)
        .where(
            col(ConsoleLink.token_hash) == hashed,
            col(ConsoleLink.used_at).is_(None),
            col(ConsoleLink.expires_at) > now,
        )
        .values(used_at=now)
    )
    if used.rowcount != 1:
        return None
    link = session.get(ConsoleLink, hashed)
    return link.person_id if link is not None else None


@dataclass(frozen=True, slots=True)
class Opened:
    """A new console session: the cookie value and the CSRF token its forms carry."""

    session_id: str
    csrf: str


def open_session(session: Session, person_id: int, now: datetime) -> Opened:
    """Start a console session for the person (always a fresh id: a session id is never taken from the
    browser, so it cannot be fixed by someone else beforehand)."""
    session_id = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    session.add(
        ConsoleSession(
            id_hash=digest(session_id), person_id=person_id, csrf=csrf, created_at=now, last_seen_at=now
        )
    )
    return Opened(session_id, csrf)


def find_session(
    session: Session, session_id: str, now: datetime, idle: timedelta = IDLE_TIMEOUT
) -> ConsoleSession | None:
    """The live session behind a cookie value (touched now), or None when unknown, ended or idle."""
    if not session_id or len(session_id) > 100:
        return None
    found = session.get(ConsoleSession, digest(session_id))
    if found is None or found.ended_at is not None:
        return None
    if now - found.last_seen_at > idle or now - found.created_at > LONGEST:
        found.ended_at = now
        return None
    if now - found.last_seen_at >= TOUCH_EVERY:
        found.last_seen_at = now
    return found


def end_session(session: Session, session_id: str, now: datetime) -> None:
    """Sign out: the session can never be used again."""
    found = session.get(ConsoleSession, digest(session_id)) if session_id else None
    if found is not None and found.ended_at is None:
        found.ended_at = now

"""Platform access tokens shared by every process: read the stored one, take the lease to refresh it,
store the new one, and forget one the platform refused."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col

from db.models import PlatformToken


@dataclass(frozen=True, slots=True)
class Stored:
    """A token as stored: its value and when it stops working (None: refused or never fetched)."""

    token: str
    expires_at: datetime | None


def read(session: Session, name: str) -> Stored | None:
    """The stored token of that name, or None when none was ever stored."""
    row = session.get(PlatformToken, name)
    return None if row is None else Stored(row.token, row.expires_at)


def take_lease(
    session: Session, name: str, owner: str, now: datetime, lease: timedelta, fresh_until: datetime
) -> bool:
    """Become the one process that refreshes the token, unless another holds an unexpired lease or the
    stored token is good past `fresh_until` (another process refreshed it since we read it)."""
    insert = pg_insert if session.connection().dialect.name == "postgresql" else sqlite_insert
    session.exec(insert(PlatformToken).values(name=name, token="").on_conflict_do_nothing())
    result = session.exec(
        update(PlatformToken)
        .where(
            col(PlatformToken.name) == name,
            or_(col(PlatformToken.lease_until).is_(None), col(PlatformToken.lease_until) < now),
            or_(col(PlatformToken.expires_at).is_(None), col(PlatformToken.expires_at) <= fresh_until),
        )
        .values(lease_owner=owner, lease_until=now + lease)
    )
    return bool(result.rowcount)


def save(session: Session, name: str, owner: str, token: str, expires_at: datetime) -> None:
    """Store a fresh token and let go of the lease (only while it is ours: a fetch that outlived its
    lease must not overwrite the token that replaced it)."""
    session.exec(
        update(PlatformToken)
        .where(col(PlatformToken.name) == name, col(PlatformToken.lease_owner) == owner)
        .values(token=token, expires_at=expires_at, lease_until=None, lease_owner="")
    )


def release(session: Session, name: str, owner: str) -> None:
    """Let go of the lease after a failed refresh, so another process may try at once."""
    session.exec(
        update(PlatformToken)
        .where(col(PlatformToken.name) == name, col(PlatformToken.lease_owner) == owner)
        .values(lease_until=None, lease_owner="")
    )


def invalidate(session: Session, name: str, bad: str) -> bool:
    """Forget a token the platform refused; False when another process has replaced it already."""
    result = session.exec(
        update(PlatformToken)
        .where(col(PlatformToken.name) == name, col(PlatformToken.token) == bad)
        .values(expires_at=None)
    )
    return bool(result.rowcount)

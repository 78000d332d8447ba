"""Proxies' rules (DESIGN §4.8): offers and their one-time codes, claims, revocation, and which homes a
person may vote for as a proxy in a poll."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from db.models import Poll


def homes_for(session: Session, poll: Poll, person_id: int, now: datetime) -> list[int]:
    """The homes of the poll's electorate the person may vote for as a proxy now (claimed, not revoked, for
    this poll or a term covering the day), by home id."""
    raise NotImplementedError

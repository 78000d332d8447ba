"""The morning digest job: the use case records who hears what; the outbox sends it within the limits."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session

from core import digest, notify
from core.work import Work
from db.sla import Policy


def morning_digest(session: Session, now: datetime, zone: ZoneInfo, policy: Policy) -> int:
    """Queue today's digests in the outbox (the caller commits); returns how many were queued."""
    work = Work(session, now, policy)
    told = digest.morning(work, zone)
    notify.publish(work)
    return told


def send_digests(sessions: Callable[[], Session], now: datetime, zone: ZoneInfo, policy: Policy) -> int:
    """Queue the morning digests in one transaction; returns how many were queued."""
    with sessions() as session:
        queued = morning_digest(session, now, zone, policy)
        session.commit()
    return queued

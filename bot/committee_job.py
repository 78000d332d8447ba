"""The governance job's part for owners' committee terms: reminders 6 and 3 months before the end, the
street monthly after it, handover deadlines."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from db.sla import Policy


def advance(sessions: sessionmaker[Session], now: datetime, policy: Policy) -> Counter[str]:
    """Apply every step of this part due at `now`; returns what was done, by kind."""
    return Counter()

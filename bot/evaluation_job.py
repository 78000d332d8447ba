"""The governance job's part for the owners' satisfaction survey: reminders and its close."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from db.sla import Policy


def advance(sessions: sessionmaker[Session], now: datetime, policy: Policy) -> Counter[str]:
    """Apply every step of this part due at `now`; returns what was done, by kind."""
    return Counter()

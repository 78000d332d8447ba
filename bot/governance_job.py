"""The governance job: the reminders and deadlines of accounts, surveys and committee terms (DESIGN
§4.4–4.6), each part stepping its own due rows the way the poll job does (db/due.py)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from bot import committee_job, evaluation_job, ledger_job
from db.sla import Policy


def advance_governance(sessions: sessionmaker[Session], now: datetime, policy: Policy) -> Counter[str]:
    """Apply every governance step due at `now`; returns what was done, by kind."""
    done: Counter[str] = Counter()
    for part in (ledger_job, evaluation_job, committee_job):
        done.update(part.advance(sessions, now, policy))
    return done

"""The governance job's part for owners' committee terms: reminders 6 and 3 months before the end, the
end of a term and the street's monthly reminder after it, handover deadlines.

Committees and handovers are due rows (db/due.py): each is locked a batch per transaction, its one due
step applied in a savepoint with the pushes it queued, and `next_due_at` moved on, so a restart or a
second process never sends a reminder twice.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from core import committee as use_cases
from core import notify
from core.work import Work
from db.committee.tables import Committee, Handover
from db.due import lock_due, run_due
from db.sla import Policy

BATCH = 20


def advance(sessions: sessionmaker[Session], now: datetime, policy: Policy) -> Counter[str]:
    """Apply every step of this part due at `now`; returns what was done, by kind."""

    def committee_step(session: Session, committee: Committee) -> str:
        work = Work(session, now, policy, via="scheduler")
        done = use_cases.advance(work, committee)
        notify.publish(work)
        return done

    def handover_step(session: Session, handover: Handover) -> str:
        work = Work(session, now, policy, via="scheduler")
        done = use_cases.advance_handover(work, handover)
        notify.publish(work)
        return done

    done = run_due(
        sessions,
        now,
        lambda session, at, limit: lock_due(session, Committee, at, limit),
        committee_step,
        "committees",
        "committee",
        BATCH,
        100,
    )
    done.update(
        run_due(
            sessions,
            now,
            lambda session, at, limit: lock_due(session, Handover, at, limit),
            handover_step,
            "committees",
            "handover",
            BATCH,
            100,
        )
    )
    return done

"""The ticket sweep job: look for hot spots among the tickets filed since the last sweep (core/hotspots.py,
one proactive ticket per cluster), then apply each due ladder step (reminders, escalations, unrated
closes) through the use case, exactly once, even with two sweepers.

Detection goes first and commits before the ladder claims its batches: the rows it links are then free
again when this sweeper's claim comes, and a row another sweeper holds makes it stop for this minute
rather than wait (core.hotspots.detect_new)."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from core import hotspots, notify, tickets
from core.work import Work
from db.due import lock_due, run_due
from db.models import Ticket
from db.sla import Policy

log = logging.getLogger(__name__)


def claim_due(session: Session, now: datetime, limit: int) -> list[Ticket]:
    """Lock up to `limit` tickets whose next step is due, skipping rows another sweeper holds.

    Only the index on next_due_at is read. On PostgreSQL FOR UPDATE SKIP LOCKED keeps two sweepers off
    each other's rows; SQLite serialises writers with BEGIN IMMEDIATE, which gives the same guarantee.
    """
    return lock_due(session, Ticket, now, limit)


def sweep(
    sessions: sessionmaker[Session], now: datetime, policy: Policy, batch: int = 200, max_batches: int = 1000
) -> Counter[str]:
    """Find new hot spots, then apply every due step (reminders, escalations, unrated closes), a batch per
    transaction; returns the steps done, by kind (what detection did is logged)."""

    def step(session: Session, ticket: Ticket) -> str:
        # Its messages are queued in the step's own savepoint: a step that fails sends nothing.
        work = Work(session, now, policy)
        done = tickets.step(work, ticket)
        notify.publish(work)
        return done

    found = detect_hot_spots(sessions, now, policy)
    if found:
        log.info("sweep: hot spots %s", dict(found))
    return run_due(sessions, now, claim_due, step, "sweep", "ticket", batch, max_batches)


def detect_hot_spots(sessions: sessionmaker[Session], now: datetime, policy: Policy) -> Counter[str]:
    """Open or grow hot spots from the tickets filed since the last run, in one transaction with what it
    queued; a failure is logged and the next sweep looks again from the same watermark."""
    try:
        with sessions() as session:
            work = Work(session, now, policy, via="scheduler")
            found = hotspots.detect_new(work)
            notify.publish(work)
            session.commit()
            return found
    except Exception:
        log.exception("sweep: hot-spot detection failed; trying again at the next sweep")
        return Counter()

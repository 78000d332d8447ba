"""The sweep: find tickets with a step due and apply it, each step exactly once, even with two sweepers."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from db import cases
from db.models import Ticket
from db.sla import Policy

log = logging.getLogger(__name__)
RETRY_BROKEN = timedelta(minutes=10)


def claim_due(session: Session, now: datetime, limit: int) -> list[Ticket]:
    """Lock up to `limit` tickets whose next step is due, skipping rows another sweeper holds.

    Only the index on next_due_at is read. On PostgreSQL FOR UPDATE SKIP LOCKED keeps two sweepers off
    each other's rows; SQLite serialises writers with BEGIN IMMEDIATE, which gives the same guarantee.
    """
    query = (
        select(Ticket)
        .where(col(Ticket.next_due_at).is_not(None), col(Ticket.next_due_at) <= now)
        .order_by(col(Ticket.next_due_at))
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(session.exec(query).all())


def sweep(
    sessions: sessionmaker[Session], now: datetime, policy: Policy, batch: int = 200, max_batches: int = 1000
) -> Counter[str]:
    """Apply every due step, a batch per transaction; returns what was done, by kind."""
    done: Counter[str] = Counter()
    for _ in range(max_batches):
        with sessions() as session:
            due = claim_due(session, now, batch)
            if not due:
                break
            for ticket in due:
                try:
                    with session.begin_nested():
                        outcome = cases.step(session, ticket, now, policy)
                except Exception:
                    # One broken ticket must not stop the sweep for every ticket behind it: set it aside.
                    log.exception("sweep: ticket %s failed; retrying in %s", ticket.id, RETRY_BROKEN)
                    ticket.next_due_at = now + RETRY_BROKEN
                    outcome = "failed"
                done[outcome or "nothing"] += 1
            session.commit()
        if len(due) < batch:
            break
    return done

"""The poll job: open, remind and close owners' polls when their time comes, each step exactly once.

Modelled on the ticket sweep (db/sweep.py): due polls are locked a batch per transaction (PostgreSQL:
FOR UPDATE SKIP LOCKED, so two processes never take the same poll; SQLite: BEGIN IMMEDIATE serialises the
writers), `core.polls.advance` applies the one step that is due and moves `next_due_at` on, and the commit
writes the step with the pushes and notices it queued. A step that is committed is never done again; one
that fails is rolled back to its savepoint, logged, and tried again ten minutes later, and the polls behind
it carry on.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from core import notify
from core import polls as use_cases
from core.work import Work
from db import polls
from db.sla import Policy

log = logging.getLogger(__name__)
RETRY_BROKEN = timedelta(minutes=10)
BATCH = 10  # an opening or a close writes a row per voter or resident: keep transactions modest


def advance_polls(
    sessions: sessionmaker[Session],
    now: datetime,
    policy: Policy,
    key: bytes,
    batch: int = BATCH,
    max_batches: int = 100,
) -> Counter[str]:
    """Apply every poll step due at `now`, a batch per transaction; returns what was done, by kind
    ("opened", "reminded", "closed", "failed")."""
    done: Counter[str] = Counter()
    for _ in range(max_batches):
        with sessions() as session:
            due = polls.due(session, now, batch)
            if not due:
                break
            for poll in due:
                try:
                    with session.begin_nested():
                        work = Work(session, now, policy)
                        outcome = use_cases.advance(work, poll, key)
                        notify.publish(work)
                except Exception:
                    # One broken poll must not hold up the others: set it aside and try it again later.
                    log.exception("polls: poll %s failed; retrying in %s", poll.id, RETRY_BROKEN)
                    poll.next_due_at = now + RETRY_BROKEN
                    outcome = "failed"
                if not outcome and poll.next_due_at is not None and poll.next_due_at <= now:
                    # Due, yet nothing to do: its times disagree with its state. Do not spin on it.
                    log.warning("polls: poll %s is due but has no step; looking again later", poll.id)
                    poll.next_due_at = now + RETRY_BROKEN
                done[outcome or "nothing"] += 1
            session.commit()
        if len(due) < batch:
            break
    return done

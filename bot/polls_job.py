"""The poll job: open, remind and close owners' polls when their time comes, each step exactly once.

It runs like the ticket sweep (db/due.py): due polls are locked a batch per transaction, `core.polls.advance`
applies the one step that is due and moves `next_due_at` on, and the commit writes the step with the
pushes and notices it queued; a step that fails is set aside and tried again ten minutes later.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from core import notify
from core import polls as use_cases
from core.work import Work
from db import polls
from db.due import run_due
from db.models import Poll
from db.sla import Policy

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

    def step(session: Session, poll: Poll) -> str:
        work = Work(session, now, policy)
        outcome = use_cases.advance(work, poll, key)
        notify.publish(work)  # in the row's savepoint: a failed step leaves no pushes behind
        return outcome

    return run_due(sessions, now, polls.due, step, "polls", "poll", batch, max_batches)

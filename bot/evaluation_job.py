"""The governance job's part for the owners' satisfaction survey: the one reminder before the close, and the
close at its end, each step exactly once.

It runs like the poll job (db/due.py): surveys with a step due are locked a batch per transaction,
`core.evaluation.advance` applies the step and moves `next_due_at` on, and the commit writes it with the
pushes it queued; a crash before the commit leaves the step to be done again, one after it never repeats it.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from core import evaluation, notify
from core.work import Work
from db.due import run_due
from db.evaluation import survey
from db.evaluation.tables import Survey
from db.sla import Policy

BATCH = 10  # a reminder writes a row per owner: keep transactions modest


def advance(
    sessions: sessionmaker[Session], now: datetime, policy: Policy, batch: int = BATCH, max_batches: int = 100
) -> Counter[str]:
    """Apply every survey step due at `now`; returns what was done, by kind ("reminded", "closed",
    "failed")."""

    def step(session: Session, row: Survey) -> str:
        work = Work(session, now, policy, via="scheduler")
        outcome = evaluation.advance(work, row)
        notify.publish(work)  # in the row's savepoint: a failed step leaves no pushes behind
        return outcome

    done = run_due(sessions, now, survey.due, step, "evaluation", "survey", batch, max_batches)
    return Counter({f"survey_{k}": v for k, v in done.items() if k != "nothing"})

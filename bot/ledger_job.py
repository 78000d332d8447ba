"""The governance job's part for statements of accounts: a period's statement missing 30 days after it
ends reminds the filer, then community staff (DESIGN §4.4).

Each run first makes sure the last ended quarter's due rows exist (db/ledger/reminders.seed: one keyed
read per run, the rows written once per quarter), then steps the due rows as the poll job does
(db/due.py): locked a batch per transaction, each step once in its own savepoint with the pushes it
queued, so a restart or a second process never reminds twice.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from core import notify
from core.work import Work
from db.due import run_due
from db.ledger import reminders
from db.ledger.tables import LedgerDue
from db.sla import Policy

BATCH = 50  # a step writes a handful of pushes


def advance(
    sessions: sessionmaker[Session], now: datetime, policy: Policy, batch: int = BATCH, max_batches: int = 100
) -> Counter[str]:
    """Apply every step of this part due at `now`; returns what was done, by kind ("seeded",
    "late_filer", "late_community", "settled", "failed")."""
    done: Counter[str] = Counter()
    with sessions() as session:
        try:
            seeded = reminders.seed(session, now, policy.zone)
            session.commit()
        except IntegrityError:  # another process seeded the quarter at the same moment
            session.rollback()
            seeded = 0
    if seeded:
        done["seeded"] += seeded

    def step(session: Session, row: LedgerDue) -> str:
        work = Work(session, now, policy, via="scheduler")
        outcome, event = reminders.step(session, row, now, policy.zone)
        if event is not None:
            work.record(event)
            notify.publish(work)  # in the row's savepoint: a failed step leaves no pushes behind
        return outcome

    done.update(
        run_due(sessions, now, reminders.due, step, "ledger", "statement reminder", batch, max_batches)
    )
    return done

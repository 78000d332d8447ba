"""One way to run a job over rows with a step due (the ticket sweep, the poll schedule), each step once.

Due rows are locked a batch per transaction (PostgreSQL: FOR UPDATE SKIP LOCKED, so two processes never take
the same row; SQLite: BEGIN IMMEDIATE serialises the writers). Each row's step runs in its own savepoint and
moves `next_due_at` on; the commit writes the batch's steps with whatever they queued. A committed step is
never done again; one that fails is rolled back to its savepoint, logged and set aside for RETRY_BROKEN,
and the rows behind it carry on.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

log = logging.getLogger(__name__)
RETRY_BROKEN = timedelta(minutes=10)


class DueRow(Protocol):
    """A row a job steps through: its id, and when its next step is due (None: nothing planned)."""

    id: int | None
    next_due_at: datetime | None


Row = TypeVar("Row", bound=DueRow)


def lock_due(session: Session, model: type[Row], now: datetime, limit: int) -> list[Row]:
    """Lock up to `limit` rows of `model` whose next step is due, oldest due first, skipping rows another
    process holds (PostgreSQL); only the index on next_due_at is read."""
    due_at: Any = model.next_due_at  # the mapped column, not a row's value
    query = (
        select(model).where(col(due_at).is_not(None), col(due_at) <= now).order_by(col(due_at)).limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(session.exec(query).all())


def run_due(
    sessions: sessionmaker[Session],
    now: datetime,
    claim: Callable[[Session, datetime, int], Sequence[Row]],
    step: Callable[[Session, Row], str],
    job: str,
    noun: str,
    batch: int,
    max_batches: int,
) -> Counter[str]:
    """Apply every step due at `now`, a batch per transaction; returns what was done, by the steps' own
    names ("failed" for a step that raised, "nothing" for a row with nothing to do).

    `claim` locks a batch of due rows and `step` applies one row's due step, returning its name or "";
    `job` and `noun` name the job and its rows in the log ("sweep", "ticket")."""
    done: Counter[str] = Counter()
    for _ in range(max_batches):
        with sessions() as session:
            due = claim(session, now, batch)
            if not due:
                break
            for row in due:
                try:
                    with session.begin_nested():
                        outcome = step(session, row)
                except Exception:
                    # One broken row must not hold up the others: set it aside and try it again later.
                    log.exception("%s: %s %s failed; retrying in %s", job, noun, row.id, RETRY_BROKEN)
                    row.next_due_at = now + RETRY_BROKEN
                    outcome = "failed"
                if not outcome and row.next_due_at is not None and row.next_due_at <= now:
                    # Due, yet nothing to do: its times disagree with its state. Do not spin on it.
                    log.warning("%s: %s %s is due but has no step; looking again later", job, noun, row.id)
                    row.next_due_at = now + RETRY_BROKEN
                done[outcome or "nothing"] += 1
            session.commit()
        if len(due) < batch:
            break
    return done

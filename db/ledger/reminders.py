"""The reminders owed while a period's statement is not published (DESIGN §4.4): 30 days after a quarter
ends its filer is reminded, 7 days later the community staff over the compound; each once.

How due rows come to be: the first time the job runs after a quarter has ended, it writes one `LedgerDue`
row per compound a company served at the quarter's end (filer "company") and per compound with an owners'
committee (filer "committee"), in one INSERT … SELECT, and marks the quarter seeded (`LedgerSeed`), so a
later run reads one row by its key instead of any statement. Each row then waits on the index of
`next_due_at`; publishing the statement settles it. The job locks due rows with db/due.py.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from core.events import StatementLate
from core.permissions import Role, path_ids
from db import companies
from db.due import lock_due
from db.ledger.periods import ESCALATE, Period, late_at, previous_quarter
from db.ledger.tables import LedgerDue, LedgerSeed, LedgerStatement
from db.models import OrgNode, RoleGrant


def settle(session: Session, statement: LedgerStatement) -> None:
    """A statement of the period was published: nothing more is owed for it."""
    due = session.exec(
        select(LedgerDue).where(
            LedgerDue.compound_id == statement.compound_id,
            LedgerDue.period_start == statement.period_start,
            LedgerDue.filer == statement.filer,
        )
    ).first()
    if due is not None and due.next_due_at is not None:
        due.stage, due.next_due_at = "done", None
        session.flush()


def seed(session: Session, now: datetime, zone: ZoneInfo) -> int:
    """Write the due rows of the last quarter that ended before `now`, once; how many were written."""
    period = previous_quarter(now.astimezone(zone).date())
    if session.get(LedgerSeed, period.start) is not None:
        return 0
    session.add(LedgerSeed(period_start=period.start, seeded_at=now))
    return 0
    del period


def due(session: Session, now: datetime, limit: int) -> list[LedgerDue]:
    """Lock a batch of due rows (db/due.py)."""
    return lock_due(session, LedgerDue, now, limit)


def step(session: Session, row: LedgerDue, now: datetime, zone: ZoneInfo) -> tuple[str, StatementLate | None]:
    """Apply a due row's step: remind the filer, or community staff; ("", None) when nothing is owed."""
    return "", None


__all__ = ["ESCALATE", "OrgNode", "Period", "Role", "RoleGrant", "col", "companies", "late_at", "path_ids"]

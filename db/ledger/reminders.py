"""The reminders owed while a period's statement is not published (DESIGN §4.4): 30 days after a quarter
ends its filer is reminded, 7 days later the community staff over the compound; each once.

How due rows come to be: the first time the job runs after a quarter has ended, it writes one `LedgerDue`
row per compound a company served on the quarter's last day (filer "company") and per compound with an
owners' committee (filer "committee"), and marks the quarter seeded (`LedgerSeed`), so every later run
reads one row by its key and no statement at all. Each row then waits on the index of `next_due_at`;
its step reads the statement's versions by their indexed key, and publishing settles the row at once.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_
from sqlmodel import Session, col, select

from core.events import StatementLate
from core.permissions import Role, path_ids
from db import companies
from db.committee.tables import Committee, CommitteeMember
from db.companies import CompanyContract, CompanyStaff
from db.due import lock_due
from db.ledger.periods import ESCALATE, Period, late_at, previous_quarter
from db.ledger.tables import LedgerDue, LedgerSeed, LedgerStatement
from db.models import OrgNode, RoleGrant


def _in_office(on: date) -> list[Any]:
    """The committee in office (the one `current` marker) whose term covers a day."""
    return [
        col(Committee.current).is_(True),
        col(Committee.starts_on) <= on,
        col(Committee.ends_on) >= on,
    ]


def committee_compounds(session: Session, on: date) -> list[int]:
    """The compounds with an owners' committee on a day: a committee in office whose term covers it, or
    (only where the compound has no committee in office at all) a person granted the role directly."""
    seated = set(session.exec(select(Committee.compound_id).where(*_in_office(on))).all())
    in_office = set(session.exec(select(Committee.compound_id).where(col(Committee.current).is_(True))).all())
    granted = session.exec(
        select(RoleGrant.node_id)
        .join(OrgNode, col(OrgNode.id) == RoleGrant.node_id)
        .where(RoleGrant.role == Role.OWNERS_COMMITTEE.value, OrgNode.kind == "compound")
    ).all()
    return sorted(seated | {c for c in granted if c not in in_office})


def committee_people(session: Session, compound_id: int, on: date) -> list[int]:
    """The members of a compound's owners' committee on a day (see `committee_compounds`), by id."""
    in_office = session.exec(
        select(Committee.id).where(Committee.compound_id == compound_id, col(Committee.current).is_(True))
    ).first()
    if in_office is not None:
        people = session.exec(
            select(CommitteeMember.person_id)
            .join(Committee, col(Committee.id) == CommitteeMember.committee_id)
            .where(Committee.compound_id == compound_id, *_in_office(on))
        ).all()
    else:
        people = session.exec(
            select(RoleGrant.person_id).where(
                RoleGrant.node_id == compound_id, RoleGrant.role == Role.OWNERS_COMMITTEE.value
            )
        ).all()
    return sorted(set(people))


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


def owed(session: Session, period: Period) -> list[tuple[int, str]]:
    """The (compound id, filer) pairs that owe a statement for a period: compounds a company served on its
    last day, and compounds with an owners' committee."""
    served = session.exec(
        select(CompanyContract.compound_id).where(
            col(CompanyContract.starts_on) <= period.end,
            or_(col(CompanyContract.ends_on).is_(None), col(CompanyContract.ends_on) >= period.end),
        )
    ).all()
    committees = committee_compounds(session, period.end)
    pairs = {(c, "company") for c in served} | {(c, "committee") for c in committees}
    return sorted(pairs)


def seed(session: Session, now: datetime, zone: ZoneInfo) -> int:
    """Write the due rows of the last quarter that ended before `now`, once per quarter; how many. Two
    processes seeding together collide on the quarter's LedgerSeed key: the loser's flush raises."""
    period = previous_quarter(now.astimezone(zone).date())
    if session.get(LedgerSeed, period.start) is not None:
        return 0
    session.add(LedgerSeed(period_start=period.start, seeded_at=now))
    session.flush()
    pairs = owed(session, period)
    when = late_at(period, zone)
    for compound_id, filer in pairs:
        session.add(
            LedgerDue(
                compound_id=compound_id,
                period_start=period.start,
                period_end=period.end,
                filer=filer,
                stage="filer",
                next_due_at=when,
            )
        )
    session.flush()
    return len(pairs)


def due(session: Session, now: datetime, limit: int) -> list[LedgerDue]:
    """Lock a batch of due rows, oldest due first (db/due.py)."""
    return lock_due(session, LedgerDue, now, limit)


def published(session: Session, row: LedgerDue) -> bool:
    """Whether a version of the row's statement is published (read by the statement's indexed key)."""
    found = session.exec(
        select(LedgerStatement.id).where(
            LedgerStatement.compound_id == row.compound_id,
            LedgerStatement.period_start == row.period_start,
            LedgerStatement.filer == row.filer,
            LedgerStatement.state == "published",
        )
    ).first()
    return found is not None


def filer_people(session: Session, row: LedgerDue) -> list[int]:
    """Who files the row's statement: the staff of the company serving the compound on the period's last
    day, or the compound's owners' committee."""
    if row.filer == "company":
        company = companies.serving(session, row.compound_id, row.period_end)
        if company is None:
            return []
        people = session.exec(
            select(CompanyStaff.person_id).where(CompanyStaff.company_id == company.id)
        ).all()
        return sorted(set(people))
    return committee_people(session, row.compound_id, row.period_end)


def community_people(session: Session, row: LedgerDue) -> list[int]:
    """The community staff over the row's compound (granted on it or on a node above it)."""
    compound = session.get(OrgNode, row.compound_id)
    if compound is None:
        return []
    people = session.exec(
        select(RoleGrant.person_id).where(
            col(RoleGrant.node_id).in_(path_ids(compound.path)),
            RoleGrant.role == Role.COMMUNITY_STAFF.value,
        )
    ).all()
    return sorted(set(people))


def step(session: Session, row: LedgerDue, now: datetime, zone: ZoneInfo) -> tuple[str, StatementLate | None]:
    """Apply a due row's step: "settled" once the statement is out, else remind the filer ("late_filer")
    then, 7 days later, the community staff ("late_community"); each once, as `stage` moves on."""
    if published(session, row):
        row.stage, row.next_due_at = "done", None
        return "settled", None
    if row.stage == "filer":
        people = filer_people(session, row)
        row.filer_reminded_at, row.stage = now, "community"
        row.next_due_at = now + ESCALATE  # 7 days after the filer heard, however late the job ran
        return "late_filer", _late(row, "filer", people)
    if row.stage == "community":
        people = community_people(session, row)
        row.community_reminded_at, row.stage, row.next_due_at = now, "done", None
        return "late_community", _late(row, "community", people)
    row.next_due_at = None
    return "", None


def _late(row: LedgerDue, stage: str, people: list[int]) -> StatementLate:
    return StatementLate(
        row.compound_id,
        row.period_start.isoformat(),
        row.period_end.isoformat(),
        row.filer,
        stage,
        tuple(people),
    )

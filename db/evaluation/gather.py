"""Gathering the plain records a score needs from the database, and ranking companies (DESIGN §4.5).

A company answers for the tickets of the compounds it served in the half-year, filed while it served them
(a contract's days, cut to the half-year, in the policy's zone), in the categories the policy names. The
tickets are counted in SQL — one GROUP BY category per compound and contract window, on the index over
(compound_id, created_at) — so a million tickets are never loaded as objects. The counts follow db.rates
(the promise made at filing, ended tickets judged at their end); the few tickets waiting for the resident
right now, whose deadlines move with the wait, are read one by one and judged by db.rates itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, case, exists, func, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from db import rates
from db.cases.states import ENDED_UNRESOLVED, OPEN_STATES
from db.companies import CompanyContract, PropertyCompany
from db.evaluation import records as record_rules
from db.evaluation import survey as survey_rules
from db.evaluation.policy import EvaluationPolicy, half_bounds, half_days, parse_half
from db.evaluation.scoring import RATED, SATISFIED, Evaluation, Records, TicketCounts, score
from db.models import OrgNode, Ticket, TicketEvent
from db.types import UTCDateTime


@dataclass(frozen=True, slots=True)
class Window:
    """A compound a company served during part of the half-year: tickets filed in [start, end) count."""

    compound_id: int
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class CompanyEvaluation:
    """A company's evaluation for a half-year over some compounds."""

    company_id: int
    name: str
    compounds: tuple[int, ...]
    evaluation: Evaluation


def previous_half(half: str) -> str:
    """The half-year before: 2026H2 → 2026H1, 2026H1 → 2025H2."""
    year, part = parse_half(half)
    return f"{year}H1" if part == 2 else f"{year - 1}H2"


def _midnight(day: date, policy: EvaluationPolicy) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=policy.zone)


def windows(
    session: Session, company_id: int, half: str, policy: EvaluationPolicy, under_path: str = ""
) -> list[Window]:
    """The compounds (under a path) a company served in the half-year, each with the days it served."""
    first, last = half_days(half)
    start, end = half_bounds(half, policy.zone)
    rows = session.exec(
        select(CompanyContract, OrgNode.path)
        .join(OrgNode, col(OrgNode.id) == CompanyContract.compound_id)
        .where(
            CompanyContract.company_id == company_id,
            col(CompanyContract.starts_on) <= last,
            or_(col(CompanyContract.ends_on).is_(None), col(CompanyContract.ends_on) >= first),
            col(OrgNode.path).startswith(under_path),
        )
        .order_by(col(CompanyContract.compound_id), col(CompanyContract.starts_on))
    ).all()
    found = []
    for contract, _path in rows:
        begins = max(start, _midnight(contract.starts_on, policy))
        ends = (
            end if contract.ends_on is None else min(end, _midnight(contract.ends_on + timedelta(1), policy))
        )
        if begins < ends:
            found.append(Window(contract.compound_id, begins, ends))
    return found


def _counting_statement() -> Any:
    """The count of one compound's window, GROUP BY category, built once with bound parameters (so it
    is compiled once and cached): b_compound, b_start, b_end, b_categories, b_now."""
    at_now = bindparam("b_now", type_=UTCDateTime())
    finished = func.coalesce(Ticket.closed_at, Ticket.updated_at)
    ended_unresolved = and_(
        col(Ticket.resolved_at).is_(None), col(Ticket.state).in_(ENDED_UNRESOLVED), finished < at_now
    )
    ended = case((ended_unresolved, finished), else_=at_now)
    running = col(Ticket.paused_at).is_(None)  # paused ones are judged one by one (_paused)

    def due(done: Any, deadline: Any) -> Any:
        return and_(running, col(deadline).is_not(None), or_(col(done).is_not(None), ended > deadline))

    def in_time(done: Any, deadline: Any) -> Any:
        return and_(running, col(deadline).is_not(None), col(done).is_not(None), done <= deadline)

    def total(condition: Any) -> Any:
        return func.sum(case((condition, 1), else_=0))

    accept_due = due(Ticket.accepted_at, Ticket.accept_due_at)
    resolve_due = due(Ticket.resolved_at, Ticket.resolve_due_at)
    overdue = and_(
        col(Ticket.state).in_(OPEN_STATES),
        or_(
            and_(col(Ticket.accepted_at).is_(None), accept_due),
            and_(col(Ticket.resolved_at).is_(None), resolve_due),
        ),
    )
    escalated = exists().where(
        col(TicketEvent.ticket_id) == col(Ticket.id), col(TicketEvent.kind) == "escalated"
    )
    return (
        sa_select(
            func.count(),
            total(accept_due),
            total(in_time(Ticket.accepted_at, Ticket.accept_due_at)),
            total(resolve_due),
            total(in_time(Ticket.resolved_at, Ticket.resolve_due_at)),
            total(col(Ticket.rating).in_(RATED)),
            total(col(Ticket.rating).in_(SATISFIED)),
            total(overdue),
            total(escalated),
            total(col(Ticket.reopen_count) > 0),
            # A home's second and later tickets of one category in the window are repeat complaints.
            func.count(col(Ticket.home_id)) - func.count(func.distinct(col(Ticket.home_id))),
        )
        .where(*_IN_WINDOW)
        .group_by(col(Ticket.category))
    )


# The tickets of one compound's window in the answered categories: the (compound_id, created_at) index.
_IN_WINDOW = (
    col(Ticket.compound_id) == bindparam("b_compound"),
    col(Ticket.created_at) >= bindparam("b_start", type_=UTCDateTime()),
    col(Ticket.created_at) < bindparam("b_end", type_=UTCDateTime()),
    col(Ticket.category).in_(bindparam("b_categories", expanding=True)),
)
_COUNTING = _counting_statement()
_PAUSED = sa_select(
    *(
        col(c)
        for c in (
            Ticket.created_at,
            Ticket.accept_due_at,
            Ticket.accepted_at,
            Ticket.resolve_due_at,
            Ticket.resolved_at,
            Ticket.state,
            Ticket.paused_at,
        )
    )
).where(*_IN_WINDOW, col(Ticket.paused_at).is_not(None))


def _params(window: Window, policy: EvaluationPolicy, now: datetime) -> dict[str, Any]:
    return {
        "b_compound": window.compound_id,
        "b_start": window.start,
        "b_end": window.end,
        "b_categories": sorted(policy.categories),
        "b_now": now,
    }


def _count(session: Session, window: Window, policy: EvaluationPolicy, now: datetime) -> TicketCounts:
    """The ticket counts of one compound's window, in SQL (one GROUP BY category on the compound index)."""
    params = _params(window, policy, now)
    counts = TicketCounts()
    for row in session.connection().execute(_COUNTING, params).all():
        counts = counts + TicketCounts(*(int(v or 0) for v in row))
    return counts + _paused(session, params, now)


def _paused(session: Session, params: dict[str, Any], now: datetime) -> TicketCounts:
    """Accept, resolve and overdue counts of the tickets waiting for the resident now, judged by db.rates."""
    rows: list[Any] = list(session.connection().execute(_PAUSED, params).all())
    if not rows:
        return TicketCounts()
    found = rates.compute(
        (
            rates.Record(
                created_at=c,
                accept_due_at=ad,
                accepted_at=a,
                resolve_due_at=rd,
                resolved_at=r,
                state=st,
                paused_at=p,
            )
            for c, ad, a, rd, r, st, p in rows
        ),
        now,
    )
    return TicketCounts(
        accept_due=found.accept_due,
        accepted_in_time=found.accepted_in_time,
        resolve_due=found.resolve_due,
        resolved_in_time=found.resolved_in_time,
        overdue=found.overdue,
    )


def gather(
    session: Session,
    company_id: int,
    half: str,
    policy: EvaluationPolicy,
    now: datetime,
    compound_ids: Iterable[int] | None = None,
    under_path: str = "",
) -> tuple[Records, tuple[int, ...]]:
    """The plain records of a company's half-year (optionally only some compounds), and those compounds."""
    found = windows(session, company_id, half, policy, under_path)
    if compound_ids is not None:
        wanted = set(compound_ids)
        found = [w for w in found if w.compound_id in wanted]
    compounds = tuple(dict.fromkeys(w.compound_id for w in found))
    counts = tuple(_count(session, w, policy, now) for w in found)
    survey = survey_rules.find(session, company_id, half)
    responses = tuple(survey_rules.responses(session, survey.id or 0, list(compounds))) if survey else ()
    entries = tuple(
        record_rules.entry(r) for r in record_rules.of_company(session, company_id, half, list(compounds))
    )
    return Records(counts=counts, survey=responses, entries=entries), compounds


def evaluate(
    session: Session,
    company_id: int,
    half: str,
    policy: EvaluationPolicy,
    now: datetime,
    compound_ids: Iterable[int] | None = None,
    under_path: str = "",
) -> CompanyEvaluation | None:
    """A company's evaluation for the half-year, or None when it served no compound (under the path)."""
    company = session.get(PropertyCompany, company_id)
    if company is None:
        return None
    records, compounds = gather(session, company_id, half, policy, now, compound_ids, under_path)
    if not compounds:
        return None
    return CompanyEvaluation(company_id, company.name, compounds, score(records, policy))


def companies_under(session: Session, half: str, under_path: str) -> list[int]:
    """The companies that served a compound under the path during the half-year, by id."""
    first, last = half_days(half)
    rows = session.exec(
        select(CompanyContract.company_id)
        .join(OrgNode, col(OrgNode.id) == CompanyContract.compound_id)
        .where(
            col(CompanyContract.starts_on) <= last,
            or_(col(CompanyContract.ends_on).is_(None), col(CompanyContract.ends_on) >= first),
            col(OrgNode.path).startswith(under_path),
        )
        .distinct()
    ).all()
    return sorted(rows)


def rank(
    session: Session, half: str, under_path: str, policy: EvaluationPolicy, now: datetime
) -> list[CompanyEvaluation]:
    """Every company that served a compound under the path in the half-year, evaluated over those
    compounds, best first (ties by name)."""
    found = [
        e
        for company_id in companies_under(session, half, under_path)
        if (e := evaluate(session, company_id, half, policy, now, under_path=under_path)) is not None
    ]
    return sorted(found, key=lambda e: (-e.evaluation.total, -e.evaluation.exact, e.name, e.company_id))

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
from db.evaluation.scoring import RATED, SATISFIED, Evaluation, RecordEntry, Records, TicketCounts, score
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


def served(
    session: Session, half: str, policy: EvaluationPolicy, under_path: str = "", company_id: int | None = None
) -> dict[int, list[Window]]:
    """Per company (all, or one), the compounds under a path it served in the half-year, each with the
    days it served; one query."""
    first, last = half_days(half)
    start, end = half_bounds(half, policy.zone)
    query = (
        select(CompanyContract)
        .join(OrgNode, col(OrgNode.id) == CompanyContract.compound_id)
        .where(
            col(CompanyContract.starts_on) <= last,
            or_(col(CompanyContract.ends_on).is_(None), col(CompanyContract.ends_on) >= first),
            col(OrgNode.path).startswith(under_path),
        )
        .order_by(
            col(CompanyContract.company_id), col(CompanyContract.compound_id), col(CompanyContract.starts_on)
        )
    )
    if company_id is not None:
        query = query.where(CompanyContract.company_id == company_id)
    found: dict[int, list[Window]] = {}
    for contract in session.exec(query).all():
        begins = max(start, _midnight(contract.starts_on, policy))
        ends = (
            end if contract.ends_on is None else min(end, _midnight(contract.ends_on + timedelta(1), policy))
        )
        if begins < ends:
            found.setdefault(contract.company_id, []).append(Window(contract.compound_id, begins, ends))
    return found


def windows(
    session: Session, company_id: int, half: str, policy: EvaluationPolicy, under_path: str = ""
) -> list[Window]:
    """The compounds (under a path) a company served in the half-year, each with the days it served."""
    return served(session, half, policy, under_path, company_id).get(company_id, [])


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
            Ticket.compound_id,
            Ticket.created_at,
            Ticket.accept_due_at,
            Ticket.accepted_at,
            Ticket.resolve_due_at,
            Ticket.resolved_at,
            Ticket.state,
            Ticket.paused_at,
        )
    )
).where(
    col(Ticket.compound_id).in_(bindparam("b_compounds", expanding=True)),
    *_IN_WINDOW[1:],
    col(Ticket.paused_at).is_not(None),
)


def _params(window: Window, policy: EvaluationPolicy, now: datetime) -> dict[str, Any]:
    return {
        "b_compound": window.compound_id,
        "b_start": window.start,
        "b_end": window.end,
        "b_categories": sorted(policy.categories),
        "b_now": now,
    }


def _count(session: Session, window: Window, policy: EvaluationPolicy, now: datetime) -> TicketCounts:
    """The ticket counts of one compound's window, in SQL (one GROUP BY category on the compound index);
    its paused tickets are added by the caller (_paused)."""
    counts = TicketCounts()
    for row in session.connection().execute(_COUNTING, _params(window, policy, now)).all():
        counts = counts + TicketCounts(*(int(v or 0) for v in row))
    return counts


def _paused(
    session: Session, found: list[Window], policy: EvaluationPolicy, now: datetime
) -> list[TicketCounts]:
    """Per window, the accept, resolve and overdue counts of its tickets waiting for the resident now,
    judged by db.rates (they are few: one query for all the windows of the half-year)."""
    if not found:
        return []
    start, end = min(w.start for w in found), max(w.end for w in found)
    rows: list[Any] = list(
        session.connection()
        .execute(
            _PAUSED,
            {
                "b_compounds": sorted({w.compound_id for w in found}),
                "b_start": start,
                "b_end": end,
                "b_categories": sorted(policy.categories),
            },
        )
        .all()
    )
    by_compound: dict[int, list[Any]] = {}
    for row in rows:
        by_compound.setdefault(row[0], []).append(row)
    result = []
    for window in found:
        mine = [r for r in by_compound.get(window.compound_id, []) if window.start <= r[1] < window.end]
        if not mine:
            result.append(TicketCounts())
            continue
        judged = rates.compute(
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
                for _compound, c, ad, a, rd, r, st, p in mine
            ),
            now,
        )
        result.append(
            TicketCounts(
                accept_due=judged.accept_due,
                accepted_in_time=judged.accepted_in_time,
                resolve_due=judged.resolve_due,
                resolved_in_time=judged.resolved_in_time,
                overdue=judged.overdue,
            )
        )
    return result


def _gathered(
    session: Session,
    chosen: dict[int, list[Window]],
    half: str,
    policy: EvaluationPolicy,
    now: datetime,
) -> dict[int, Records]:
    """The plain records of each company's windows: a count query per window (on the compound index),
    and one query each for the paused tickets, the good and bad records and the survey answers of all."""
    every = [w for found in chosen.values() for w in found]
    paused = dict(zip(map(id, every), _paused(session, every, policy, now), strict=True))
    compounds = sorted({w.compound_id for w in every})
    entries: dict[tuple[int, int], list[RecordEntry]] = {}
    for row in record_rules.in_half(session, half, compounds):
        entries.setdefault((row.company_id, row.compound_id), []).append(record_rules.entry(row))
    surveys = survey_rules.of_half(session, half, list(chosen))
    answers = survey_rules.responses_of(session, [s.id or 0 for s in surveys.values()])
    made = {}
    for company_id, found in chosen.items():
        mine = sorted({w.compound_id for w in found})
        survey = surveys.get(company_id)
        responses = answers.get(survey.id or 0, {}) if survey is not None else {}
        made[company_id] = Records(
            counts=tuple(_count(session, w, policy, now) + paused[id(w)] for w in found),
            survey=tuple(r for c in mine for r in responses.get(c, [])),
            entries=tuple(e for c in mine for e in entries.get((company_id, c), [])),
        )
    return made


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
    if not found:
        return Records(), compounds
    return _gathered(session, {company_id: found}, half, policy, now)[company_id], compounds


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
    compounds, best first (ties by name). The queries are batched: one for the contracts, the paused
    tickets, the records and the survey answers of all companies, and one count per compound window."""
    chosen = served(session, half, policy, under_path)
    if not chosen:
        return []
    names = dict(
        session.exec(
            select(PropertyCompany.id, PropertyCompany.name).where(col(PropertyCompany.id).in_(list(chosen)))
        ).all()
    )
    records = _gathered(session, chosen, half, policy, now)
    found = [
        CompanyEvaluation(
            company_id,
            names.get(company_id, ""),
            tuple(dict.fromkeys(w.compound_id for w in chosen[company_id])),
            score(records[company_id], policy),
        )
        for company_id in chosen
    ]
    return sorted(found, key=lambda e: (-e.evaluation.total, -e.evaluation.exact, e.name, e.company_id))

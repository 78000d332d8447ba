"""Property-company evaluation (DESIGN §4.5): good and bad records and their appeal, the owners'
satisfaction survey, the ranking and a company's breakdown.

Each use case runs in the turn's `Work`, asks the permission policy (records: `Action.ENTER_RECORD` over
the record's compound, which only street and district staff hold; appeals: `Action.APPEAL_RECORD` over it
and working for the record's company; surveys: `Action.RUN_SURVEY` over every compound the company
serves; answers: `Action.ANSWER_SURVEY`, verified owners), calls the rules in db.evaluation, records
events for the pushes and writes the audit log. A refusal is an `EvaluationError` whose `reason` the chat
and the console turn into a message. The chat (/rating, the survey's buttons), the console, the CLI
(`linli rating`) and the evaluation job all come in here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_
from sqlmodel import col, select

from core import audit
from core.events import AppealDecided, RecordAppealed, RecordEntered
from core.permissions import Action, Actor, Role, acting_role, grants_for, may, outermost, place, under
from core.work import Work
from db import companies
from db.companies import CompanyContract, CompanyStaff, PropertyCompany
from db.evaluation import gather
from db.evaluation import records as record_rules
from db.evaluation import survey as survey_rules
from db.evaluation.gather import CompanyEvaluation, previous_half
from db.evaluation.policy import ASPECTS, EvaluationPolicy, default_policy, half_of, parse_half
from db.evaluation.records import EvaluationError
from db.evaluation.scoring import Evaluation
from db.evaluation.tables import CompanyRecord, Survey
from db.models import OrgNode, Person
from db.org import in_subtrees
from db.rows import id_of

__all__ = ["ASPECTS", "EvaluationError"]


def policy() -> EvaluationPolicy:
    """The evaluation policy in force (data/evaluation_policy.yaml)."""
    return default_policy()


def current_half(now: datetime) -> str:
    """The half-year `now` falls in, in the policy's zone: `2026H2`."""
    return half_of(now, policy().zone)


def _half(half: str | None, now: datetime) -> str:
    if half is None:
        return current_half(now)
    try:
        year, part = parse_half(half)
    except ValueError:
        raise EvaluationError("bad_half") from None
    return f"{year}H{part}"


# --- who and where --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CompoundRef:
    """A compound as the lists show it."""

    id: int
    name: str
    path: str


@dataclass(frozen=True, slots=True)
class CompanyChoice:
    """A company and the compounds (in the actor's reach) it serves today."""

    company_id: int
    name: str
    compounds: tuple[CompoundRef, ...]


def _node(work: Work, node_id: int) -> OrgNode:
    node = work.session.get(OrgNode, node_id)
    if node is None:
        raise EvaluationError("not_found")
    return node


def _today(work: Work) -> Any:
    return work.now.astimezone(policy().zone).date()


def own_company_ids(work: Work, actor: Actor) -> list[int]:
    """The companies the actor works for (property staff), by id."""
    if actor.person_id is None:
        return []
    return [id_of(c) for c in companies.companies_of(work.session, actor.person_id)]


def _staff_paths(actor: Actor, action: Action) -> list[str]:
    """The outermost nodes under which the actor may do the action in a role other than property staff."""
    return outermost(g.path for g in grants_for(actor, action) if g.role is not Role.PROPERTY_STAFF)


def companies_for(work: Work, actor: Actor, action: Action) -> list[CompanyChoice]:
    """The companies serving, today, compounds where the actor may do the action (for VIEW_RATING and
    APPEAL_RECORD a company's staff get their own company), with those compounds."""
    paths = [] if actor.person_id is None else _staff_paths(actor, action)
    reach = in_subtrees(col(OrgNode.path), paths)
    if action in (Action.VIEW_RATING, Action.APPEAL_RECORD) and may(actor, action) and actor.person_id:
        own = select(CompanyStaff.company_id).where(CompanyStaff.person_id == actor.person_id)
        reach = or_(reach, col(CompanyContract.company_id).in_(own))
    # One query whatever the reach: the chat asks at every step of a record's entry, and district staff
    # reach hundreds of compounds.
    rows = work.session.exec(
        select(col(PropertyCompany.id), col(PropertyCompany.name), OrgNode)
        .join(CompanyContract, col(CompanyContract.company_id) == PropertyCompany.id)
        .join(OrgNode, col(OrgNode.id) == CompanyContract.compound_id)
        .where(companies.running(_today(work)), reach)
        .order_by(col(OrgNode.id))
    ).all()
    chosen: dict[tuple[int, str], dict[CompoundRef, None]] = {}
    for company_id, company_name, node in rows:
        assert company_id is not None  # a stored row has its id
        refs = chosen.setdefault((company_id, company_name), {})
        refs[CompoundRef(id_of(node), node.name, node.path)] = None  # a compound once, however many contracts
    found = [CompanyChoice(company_id, name, tuple(refs)) for (company_id, name), refs in chosen.items()]
    return sorted(found, key=lambda c: (c.name, c.company_id))


# --- records --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecordView:
    """A record as staff and the company see it: what was entered, the appeal and the decision."""

    id: int
    company_id: int
    company_name: str
    compound_id: int
    compound_name: str
    half: str
    good: bool
    points: int
    reason: str
    evidence: tuple[str, str] | None
    entered_by: int | None
    entered_by_name: str
    entered_at: datetime
    appeal_text: str
    appealed_at: datetime | None
    decision: str  # "" | upheld | rejected
    decision_note: str
    decided_at: datetime | None
    counts: bool  # False once an appeal against it is upheld


def _view(work: Work, record: CompanyRecord) -> RecordView:
    company = work.session.get(companies.PropertyCompany, record.company_id)
    compound = work.session.get(OrgNode, record.compound_id)
    person = work.session.get(Person, record.entered_by) if record.entered_by else None
    return RecordView(
        id=id_of(record),
        company_id=record.company_id,
        company_name=company.name if company else "",
        compound_id=record.compound_id,
        compound_name=compound.name if compound else "",
        half=record.half,
        good=record.kind == "good",
        points=record.points,
        reason=record.reason,
        evidence=(record.evidence_channel, record.evidence_ref) if record.evidence_ref else None,
        entered_by=record.entered_by,
        entered_by_name=person.name if person else "",
        entered_at=record.entered_at,
        appeal_text=record.appeal_text,
        appealed_at=record.appealed_at,
        decision=record.decision,
        decision_note=record.decision_note,
        decided_at=record.decided_at,
        counts=record.decision != "upheld",
    )


def _record_snapshot(record: CompanyRecord) -> dict[str, Any]:
    return {
        "company_id": record.company_id,
        "kind": record.kind,
        "points": record.points,
        "reason": record.reason,
        "appeal": record_rules.appeal_state(record),
        "decision_note": record.decision_note,
    }


def _audit_record(
    work: Work, actor: Actor, role: Role | None, action: str, record: CompanyRecord, path: str, before: Any
) -> None:
    audit.record(
        work, actor, role.value if role else "", action, "company_record", record.id, path, before,
        _record_snapshot(record),
    )  # fmt: skip


def enter_record(
    work: Work,
    actor: Actor,
    company_id: int,
    compound_id: int,
    good: bool,
    points: int,
    reason: str,
    evidence: tuple[str, str] | None = None,
) -> RecordView:
    """Street or district staff enter a good or bad record of the company serving a compound."""
    node = _node(work, compound_id)
    if node.kind != "compound" or not may(actor, Action.ENTER_RECORD, place(node.path)):
        raise EvaluationError("not_allowed")
    record = record_rules.enter(
        work.session,
        policy(),
        company_id=company_id,
        compound_id=compound_id,
        good=good,
        points=points,
        reason=reason,
        evidence=evidence,
        entered_by=actor.person_id,
        now=work.now,
    )
    work.record(RecordEntered(id_of(record)))
    role = acting_role(actor, Action.ENTER_RECORD, place(node.path))
    _audit_record(work, actor, role, "company.record", record, node.path, None)
    return _view(work, record)


def _works_for(work: Work, actor: Actor, company_id: int) -> bool:
    return actor.person_id is None or company_id in own_company_ids(work, actor)


def appeal_record(work: Work, actor: Actor, record_id: int, reason: str) -> RecordView:
    """The company's staff appeal a record against it, once, with their reasons."""
    record = record_rules.lock(work.session, record_id)
    node = _node(work, record.compound_id)
    if not (
        may(actor, Action.APPEAL_RECORD, place(node.path)) and _works_for(work, actor, record.company_id)
    ):
        raise EvaluationError("not_allowed")
    before = _record_snapshot(record)
    record_rules.appeal(record, reason, actor.person_id, work.now)
    work.record(RecordAppealed(record_id))
    role = acting_role(actor, Action.APPEAL_RECORD, place(node.path))
    _audit_record(work, actor, role, "company.appeal", record, node.path, before)
    return _view(work, record)


def decide_appeal(work: Work, actor: Actor, record_id: int, uphold: bool, note: str) -> RecordView:
    """Street or district staff decide an appeal: upheld (the record no longer counts) or rejected."""
    record = record_rules.lock(work.session, record_id)
    node = _node(work, record.compound_id)
    if not may(actor, Action.ENTER_RECORD, place(node.path)):
        raise EvaluationError("not_allowed")
    before = _record_snapshot(record)
    record_rules.decide(record, uphold, note, actor.person_id, work.now)
    work.record(AppealDecided(record_id, uphold))
    role = acting_role(actor, Action.ENTER_RECORD, place(node.path))
    _audit_record(work, actor, role, "company.decide", record, node.path, before)
    return _view(work, record)


def _sees_record(work: Work, actor: Actor, record: CompanyRecord) -> bool:
    node = work.session.get(OrgNode, record.compound_id)
    if node is None:
        return False
    staff = any(under(node.path, p) for p in _staff_paths(actor, Action.VIEW_RATING))
    return actor.person_id is None or staff or _works_for(work, actor, record.company_id)


def record(work: Work, actor: Actor, record_id: int) -> RecordView:
    """One record, when the actor may see it (staff over its compound, or the company's staff)."""
    found = work.session.get(CompanyRecord, record_id)
    if found is None or not _sees_record(work, actor, found):
        raise EvaluationError("not_found")
    return _view(work, found)


def records(work: Work, actor: Actor, company_id: int, half: str | None = None) -> list[RecordView]:
    """A company's records (in a half-year) the actor may see, newest first."""
    chosen = None if half is None else _half(half, work.now)
    rows = record_rules.of_company(work.session, company_id, chosen)
    return [_view(work, r) for r in rows if _sees_record(work, actor, r)]


# --- the ranking and the breakdown ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ranked:
    """A company's place in the ranking, its evaluation and the one of the half-year before."""

    place: int
    company_id: int
    name: str
    compounds: tuple[int, ...]
    evaluation: Evaluation
    previous: Evaluation | None


@dataclass(frozen=True, slots=True)
class CompoundScore:
    """A company's evaluation in one compound."""

    compound_id: int
    name: str
    evaluation: Evaluation


@dataclass(frozen=True, slots=True)
class Breakdown:
    """A company's evaluation for a half-year, in total and per compound."""

    company_id: int
    name: str
    half: str
    evaluation: Evaluation
    compounds: tuple[CompoundScore, ...]


def _rating_paths(work: Work, actor: Actor, node_path: str | None) -> list[str]:
    """Where the actor's ranking looks: their jurisdiction for VIEW_RATING, or a node inside it."""
    paths = [""] if actor.person_id is None else _staff_paths(actor, Action.VIEW_RATING)
    if node_path is not None:
        if not any(under(node_path, p) for p in paths):
            raise EvaluationError("not_allowed")
        return [node_path]
    return paths


def _evaluate_under(
    work: Work, company_id: int, half: str, paths: list[str] | None
) -> CompanyEvaluation | None:
    """A company's evaluation over its compounds under the paths (all of them when None)."""
    session, rules = work.session, policy()
    if paths is None:
        return gather.evaluate(session, company_id, half, rules, work.now)
    compound_ids = {w.compound_id for p in paths for w in gather.windows(session, company_id, half, rules, p)}
    if not compound_ids:
        return None
    return gather.evaluate(session, company_id, half, rules, work.now, compound_ids)


def ranking(work: Work, actor: Actor, half: str | None = None, node_path: str | None = None) -> list[Ranked]:
    """The companies of the actor's jurisdiction (or of a node inside it) ranked for a half-year, best first;
    a company's staff get their own company only. Each shows the half-year before as well."""
    if not may(actor, Action.VIEW_RATING):
        raise EvaluationError("not_allowed")
    chosen = _half(half, work.now)
    paths = _rating_paths(work, actor, node_path)
    found: list[CompanyEvaluation] = []
    if paths:
        ids = sorted({c for p in paths for c in gather.companies_under(work.session, chosen, p)})
        found = [e for c in ids if (e := _evaluate_under(work, c, chosen, paths)) is not None]
    elif node_path is None:
        found = [
            e
            for c in own_company_ids(work, actor)
            if (e := gather.evaluate(work.session, c, chosen, policy(), work.now)) is not None
        ]
    found.sort(key=lambda e: (-e.evaluation.total, -e.evaluation.exact, e.name, e.company_id))
    before = previous_half(chosen)
    ranked = []
    for n, e in enumerate(found, start=1):
        prior = _evaluate_under(work, e.company_id, before, paths or None)
        ranked.append(
            Ranked(n, e.company_id, e.name, e.compounds, e.evaluation, prior.evaluation if prior else None)
        )
    return ranked


def breakdown(work: Work, actor: Actor, company_id: int, half: str | None = None) -> Breakdown:
    """A company's evaluation in total and per compound: its own staff see all of it, other staff the
    compounds under their jurisdiction; anyone else is refused."""
    chosen = _half(half, work.now)
    if not may(actor, Action.VIEW_RATING):
        raise EvaluationError("not_allowed")
    paths: list[str] | None
    if actor.person_id is None or _works_for(work, actor, company_id):
        paths = None
    else:
        paths = _staff_paths(actor, Action.VIEW_RATING)
        if not paths:
            raise EvaluationError("not_allowed")
    total = _evaluate_under(work, company_id, chosen, paths)
    if total is None:
        if paths is not None:
            raise EvaluationError("not_allowed")
        raise EvaluationError("not_found")
    parts = []
    for compound_id in total.compounds:
        one = gather.evaluate(work.session, company_id, chosen, policy(), work.now, [compound_id])
        if one is not None:
            parts.append(CompoundScore(compound_id, _node(work, compound_id).name, one.evaluation))
    return Breakdown(company_id, total.name, chosen, total.evaluation, tuple(parts))


# --- the survey -----------------------------------------------------------------------------------------


def _survey_role(work: Work, actor: Actor, compound_ids: list[int]) -> Role | None:
    """The role under which the actor runs surveys over all these compounds, or None."""
    if not compound_ids:
        return None
    paths = [_node(work, c).path for c in compound_ids]
    if actor.person_id is None:
        return Role.ADMIN
    return acting_role(actor, Action.RUN_SURVEY, place(*paths))


def _audit_survey(work: Work, actor: Actor, action: str, survey: Survey, before: Any, after: Any) -> None:
    compounds = [int(c) for c in survey.compounds]
    role = _survey_role(work, actor, compounds)
    paths = outermost(_node(work, c).path for c in compounds)
    path = paths[0] if len(paths) == 1 else _common(paths)
    audit.record(work, actor, role.value if role else "", action, "survey", survey.id, path, before, after)


def _common(paths: list[str]) -> str:
    """The deepest node path all the paths lie under ("/" parts compared whole)."""
    split = [p.strip("/").split("/") for p in paths]
    common: list[str] = []
    for parts in zip(*split, strict=False):
        if len(set(parts)) != 1:
            break
        common.append(parts[0])
    return "/" + "/".join(common) + "/" if common else ""


def open_survey(work: Work, actor: Actor, company_id: int, half: str | None = None) -> Survey:
    """Open the owners' survey of a company for a half-year over every compound it serves today; the
    actor must run surveys over all of them. Every verified owner is asked, once per home."""
    chosen = _half(half, work.now)
    compound_ids = companies.compounds_of(work.session, company_id, _today(work))
    if not compound_ids:
        raise EvaluationError("not_served")
    if _survey_role(work, actor, compound_ids) is None:
        raise EvaluationError("not_allowed")
    survey, events = survey_rules.open_survey(
        work.session, policy(), company_id, chosen, compound_ids, actor.person_id, work.now
    )
    work.record(*events)
    after = {
        "company_id": company_id,
        "half": chosen,
        "closes_at": survey.closes_at.isoformat(),
        "homes": survey.homes,
    }
    _audit_survey(work, actor, "survey.open", survey, None, after)
    return survey


def _runs(work: Work, actor: Actor, survey: Survey) -> bool:
    return _survey_role(work, actor, [int(c) for c in survey.compounds]) is not None


def close_survey(work: Work, actor: Actor, survey_id: int) -> Survey:
    """Close a survey before its end (staff who run it); the job closes it at its end."""
    survey = survey_rules.lock(work.session, survey_id)
    if not _runs(work, actor, survey):
        raise EvaluationError("not_allowed")
    work.record(*survey_rules.close(work.session, survey, work.now))
    _audit_survey(work, actor, "survey.close", survey, {"state": "open"}, {"state": survey.state})
    return survey


SURVEYS_SHOWN = 200  # the newest surveys a list shows: four half-years of a district's companies


def surveys_for(work: Work, actor: Actor) -> list[Survey]:
    """The newest surveys the actor runs (over compounds all in their RUN_SURVEY jurisdiction), newest
    first, at most SURVEYS_SHOWN."""
    query = select(Survey)
    if actor.person_id is not None:
        # In SQL, the surveys of companies that have served a compound in the jurisdiction; the exact rule
        # (every compound of the survey in it) is checked below on these few rows.
        paths = outermost(g.path for g in grants_for(actor, Action.RUN_SURVEY))
        served = (
            select(CompanyContract.company_id)
            .join(OrgNode, col(OrgNode.id) == CompanyContract.compound_id)
            .where(in_subtrees(col(OrgNode.path), paths))
        )
        query = query.where(col(Survey.company_id).in_(served))
    rows = work.session.exec(query.order_by(col(Survey.id).desc()).limit(SURVEYS_SHOWN)).all()
    compound_ids = {int(c) for s in rows for c in s.compounds}
    # Loaded at once and held here (the session keeps only weak references), so the check below finds
    # each node in the session instead of asking for it.
    nodes = work.session.exec(select(OrgNode).where(col(OrgNode.id).in_(compound_ids))).all() if rows else []
    shown = [s for s in rows if _runs(work, actor, s)]
    del nodes
    return shown


@dataclass(frozen=True, slots=True)
class CompoundTurnout:
    """Homes that answered of the homes with a verified owner, in one compound."""

    compound_id: int
    name: str
    answered: int
    homes: int


def turnout(work: Work, actor: Actor, survey_id: int) -> list[CompoundTurnout]:
    """The survey's turnout per compound (staff who run it)."""
    survey = work.session.get(Survey, survey_id)
    if survey is None or not _runs(work, actor, survey):
        raise EvaluationError("not_found")
    return [
        CompoundTurnout(c, _node(work, c).name, done, homes)
        for c, done, homes in survey_rules.turnout(work.session, survey)
    ]


@dataclass(frozen=True, slots=True)
class SurveyTask:
    """What an owner is asked: the survey, the home, the company, and what the home answered so far."""

    survey_id: int
    home_id: int
    company_name: str
    half: str
    closes_at: datetime
    answered: dict[str, int]


@dataclass(frozen=True, slots=True)
class SurveyProgress:
    """Where a home's answer stands after an answer: what it holds, the next aspect, whether complete."""

    survey_id: int
    home_id: int
    answered: dict[str, int]
    next_aspect: str | None
    complete: bool


def _open_to(work: Work, actor: Actor, survey_id: int) -> Survey:
    """The survey, open, to an owner; refusals in the order met: not_found, closed, not_owner."""
    survey = work.session.get(Survey, survey_id)
    if survey is None:
        raise EvaluationError("not_found")
    if not survey_rules.is_open(survey, work.now):
        raise EvaluationError("closed")
    if actor.person_id is None or not may(actor, Action.ANSWER_SURVEY):
        raise EvaluationError("not_owner")
    return survey


def _answerable(work: Work, actor: Actor, survey_id: int, home_id: int) -> tuple[Survey, int]:
    """The open survey and the compound of the actor's home under it; refusals in the order met."""
    survey = _open_to(work, actor, survey_id)
    assert actor.person_id is not None
    compound_id = survey_rules.home_of(work.session, survey, actor.person_id, home_id)
    return survey, compound_id


def survey_to_answer(work: Work, actor: Actor, survey_id: int, home_id: int) -> SurveyTask:
    """What the owner is asked for a home: refused when the survey closed, they do not own the home, or
    the home was answered (by them or another owner)."""
    survey, _compound = _answerable(work, actor, survey_id, home_id)
    row = survey_rules.answer_row(work.session, survey_id, home_id)
    if row is not None and (row.completed_at is not None or row.person_id != actor.person_id):
        raise EvaluationError("already_answered")
    company = work.session.get(companies.PropertyCompany, survey.company_id)
    return SurveyTask(
        survey_id,
        home_id,
        company.name if company else "",
        survey.half,
        survey.closes_at,
        survey_rules.answers_of(row),
    )


def homes_to_answer(work: Work, actor: Actor, survey_id: int) -> list[int]:
    """The actor's homes under an open survey still to be answered (by them), by id."""
    survey = work.session.get(Survey, survey_id)
    if survey is None or actor.person_id is None or not survey_rules.is_open(survey, work.now):
        return []
    return survey_rules.homes_to_answer(work.session, survey, actor.person_id)


def _progress(survey_id: int, home_id: int, row: Any) -> SurveyProgress:
    return SurveyProgress(
        survey_id,
        home_id,
        survey_rules.answers_of(row),
        survey_rules.next_aspect(row),
        row.completed_at is not None,
    )


def answer(
    work: Work, actor: Actor, survey_id: int, aspect: str, value: int, home_id: int | None = None
) -> SurveyProgress:
    """Store one aspect's answer (1–5) for a home the actor owns under the survey (their only unanswered
    one when `home_id` is None); the sixth completes it."""
    survey_rules.check_value(aspect, value)
    if home_id is None:
        survey = _open_to(work, actor, survey_id)
        assert actor.person_id is not None
        homes = survey_rules.homes_to_answer(work.session, survey, actor.person_id)
        if not homes:
            owned = survey_rules.owners(work.session, [int(c) for c in survey.compounds])
            mine = any(person == actor.person_id for person, _, _ in owned)
            raise EvaluationError("already_answered" if mine else "not_owner")
        home_id = homes[0]
    survey, compound_id = _answerable(work, actor, survey_id, home_id)
    assert actor.person_id is not None
    row = survey_rules.claim(work.session, survey, home_id, compound_id, actor.person_id, work.now)
    survey_rules.put(row, aspect, value, work.now)
    work.session.flush()
    return _progress(survey_id, home_id, row)


def answer_survey(
    work: Work, actor: Actor, survey_id: int, home_id: int, scores: dict[str, int]
) -> SurveyProgress:
    """Store all six aspects of a home's answer at once (the chat keeps the taps until the last)."""
    if set(scores) != set(ASPECTS):
        raise EvaluationError("bad_aspect")
    for aspect, value in scores.items():
        survey_rules.check_value(aspect, value)
    survey, compound_id = _answerable(work, actor, survey_id, home_id)
    assert actor.person_id is not None
    row = survey_rules.claim(work.session, survey, home_id, compound_id, actor.person_id, work.now)
    for aspect in ASPECTS:
        survey_rules.put(row, aspect, scores[aspect], work.now)
    work.session.flush()
    return _progress(survey_id, home_id, row)


# --- the scheduler --------------------------------------------------------------------------------------


def advance(work: Work, survey: Survey) -> str:
    """Apply a survey's due step (the reminder, or the close); returns what was done or ""."""
    outcome, events = survey_rules.step(work.session, survey, work.now)
    work.record(*events)
    if outcome == "closed":
        _audit_survey(work, Actor(None), "survey.close", survey, {"state": "open"}, {"state": survey.state})
    return outcome

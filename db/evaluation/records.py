"""Good and bad records of property companies (良好/不良记录, DESIGN §4.5): the rules of entering one, the
company's one appeal, and the staff decision on it. Who may do each is the use case's question
(core.evaluation); these rules say what a record must hold and in which order things may happen.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from db import companies
from db.evaluation.policy import EvaluationPolicy, half_of
from db.evaluation.scoring import BAD, GOOD, PENDING, REJECTED, UPHELD, RecordEntry
from db.evaluation.tables import CompanyRecord

MAX_REASON = 500
MAX_APPEAL = 1000
MAX_NOTE = 500


class EvaluationError(Exception):
    """A request the evaluation rules refuse; `reason` names the message the user sees."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def check_points(policy: EvaluationPolicy, good: bool, points: int) -> None:
    """Refuse points outside the policy's range for the kind of record."""
    low, high = policy.good_points if good else policy.bad_points
    if type(points) is not int or not low <= points <= high:  # a bool or float is not points
        raise EvaluationError("bad_points")


def _text(text: str, limit: int, reason: str) -> str:
    cleaned = (text or "").strip()
    if not cleaned or len(cleaned) > limit:
        raise EvaluationError(reason)
    return cleaned


def enter(
    session: Session,
    policy: EvaluationPolicy,
    *,
    company_id: int,
    compound_id: int,
    good: bool,
    points: int,
    reason: str,
    evidence: tuple[str, str] | None,
    entered_by: int | None,
    now: datetime,
) -> CompanyRecord:
    """A new record of a company serving the compound today, counted in the current half-year."""
    check_points(policy, good, points)
    cleaned = _text(reason, MAX_REASON, "no_reason")
    if evidence is not None and not (evidence[0] and evidence[1]):
        evidence = None
    if not good and evidence is None:
        raise EvaluationError("no_evidence")  # a bad record stands on evidence (DESIGN §4.5)
    serving = companies.serving(session, compound_id, now.astimezone(policy.zone).date())
    if serving is None or serving.id != company_id:
        raise EvaluationError("not_served")
    record = CompanyRecord(
        company_id=company_id,
        compound_id=compound_id,
        half=half_of(now, policy.zone),
        kind=GOOD if good else BAD,
        points=points,
        reason=cleaned,
        evidence_channel=evidence[0] if evidence else "",
        evidence_ref=evidence[1] if evidence else "",
        entered_by=entered_by,
        entered_at=now,
    )
    session.add(record)
    session.flush()
    return record


def lock(session: Session, record_id: int) -> CompanyRecord:
    """The record, locked for a change (PostgreSQL: FOR UPDATE); not_found when there is none."""
    query = select(CompanyRecord).where(CompanyRecord.id == record_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    record = session.exec(query).first()
    if record is None:
        raise EvaluationError("not_found")
    return record


def appeal(record: CompanyRecord, text: str, person_id: int | None, now: datetime) -> None:
    """The company's one appeal against a record, with its reasons."""
    if record.appealed_at is not None:
        raise EvaluationError("already_appealed")
    record.appeal_text = _text(text, MAX_APPEAL, "no_reason")
    record.appealed_by = person_id
    record.appealed_at = now


def decide(record: CompanyRecord, uphold: bool, note: str, person_id: int | None, now: datetime) -> None:
    """Staff decide an appeal: upheld (the record no longer counts) or rejected, with a note."""
    if record.appealed_at is None:
        raise EvaluationError("not_appealed")
    if record.decision:
        raise EvaluationError("already_decided")
    record.decision = UPHELD if uphold else REJECTED
    record.decision_note = (note or "").strip()[:MAX_NOTE]
    record.decided_by = person_id
    record.decided_at = now


def appeal_state(record: CompanyRecord) -> str:
    """Where a record's appeal stands: "" (none), pending, upheld or rejected."""
    if record.decision:
        return record.decision
    return PENDING if record.appealed_at is not None else ""


def entry(record: CompanyRecord) -> RecordEntry:
    """The record as the score sees it."""
    return RecordEntry(record.kind, record.points, appeal_state(record))


def of_company(
    session: Session, company_id: int, half: str | None = None, compound_ids: list[int] | None = None
) -> list[CompanyRecord]:
    """A company's records (in a half-year, in some compounds), newest first."""
    query = select(CompanyRecord).where(CompanyRecord.company_id == company_id)
    if half is not None:
        query = query.where(CompanyRecord.half == half)
    if compound_ids is not None:
        query = query.where(col(CompanyRecord.compound_id).in_(compound_ids))
    return list(
        session.exec(query.order_by(col(CompanyRecord.entered_at).desc(), col(CompanyRecord.id).desc()))
    )


def in_half(session: Session, half: str, compound_ids: list[int]) -> list[CompanyRecord]:
    """Every company's records of a half-year in some compounds (one query), oldest first."""
    if not compound_ids:
        return []
    query = select(CompanyRecord).where(
        CompanyRecord.half == half, col(CompanyRecord.compound_id).in_(compound_ids)
    )
    return list(session.exec(query.order_by(col(CompanyRecord.id))))

"""What evaluation events tell whom (registered with `tells`).

A new record and the decision on an appeal go to every staff member of the company; an appeal goes to
the staff member who entered the record. When a survey opens every verified owner of a home it covers is
asked, with one button per home they own there (the survey is answered once per home); the reminder goes
to the owners whose home has not finished answering; those audiences are written in one statement
(`outbox.enqueue_many`). The staff member who opened a survey hears the turnout at its close. Pushes wait
for the end of quiet hours.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlmodel import col, select

from core.actions import Rating, Survey
from core.events import (
    AppealDecided,
    RecordAppealed,
    RecordEntered,
    SurveyClosed,
    SurveyOpened,
    SurveyReminded,
)
from core.notify import Choice, Message, tells
from core.work import Work
from db import notices, outbox
from db.companies import CompanyStaff, PropertyCompany
from db.evaluation import survey as survey_rules
from db.evaluation.tables import CompanyRecord
from db.evaluation.tables import Survey as SurveyRow
from db.models import Home, OrgNode

RECORD_ENTERED = "evaluation.record_entered"
RECORD_APPEALED = "evaluation.record_appealed"
APPEAL_DECIDED = "evaluation.appeal_decided"
SURVEY_OPENED = "evaluation.survey_opened"
SURVEY_REMINDER = "evaluation.survey_reminder"
SURVEY_CLOSED = "evaluation.survey_closed"


def _staff_of(work: Work, company_id: int) -> list[int]:
    """The people working for a company, by id."""
    return list(
        work.session.exec(
            select(CompanyStaff.person_id)
            .where(CompanyStaff.company_id == company_id)
            .order_by(col(CompanyStaff.person_id))
        ).all()
    )


def _record_context(work: Work, record: CompanyRecord) -> dict[str, Any]:
    company = work.session.get(PropertyCompany, record.company_id)
    compound = work.session.get(OrgNode, record.compound_id)
    return {
        "record_id": record.id,
        "company": company.name if company else "",
        "compound": compound.name if compound else "",
        "good": record.kind == "good",
        "points": record.points,
        "reason": record.reason,
        "half": record.half,
        "appeal": record.appeal_text,
        "decision": record.decision,
        "note": record.decision_note,
    }


def _later(work: Work) -> Any:
    return notices.release_time(False, work.now, work.now, work.policy)


@tells(RecordEntered)
def entered(work: Work, event: RecordEntered) -> Iterable[Message]:
    """The company's staff hear of a new record against (or for) it, with a button to open it."""
    return _tell_company(work, event.record_id, RECORD_ENTERED)


@tells(RecordAppealed)
def appealed(work: Work, event: RecordAppealed) -> Iterable[Message]:
    """The staff member who entered the record is asked to decide the company's appeal."""
    record = work.session.get(CompanyRecord, event.record_id)
    if record is None or record.entered_by is None:
        return ()
    button = ((Choice(Rating("d", record=record.id), "evaluation.btn_decide"),),)
    context = _record_context(work, record)
    return (Message(record.entered_by, RECORD_APPEALED, context, button, not_before=_later(work)),)


@tells(AppealDecided)
def decided(work: Work, event: AppealDecided) -> Iterable[Message]:
    """The company's staff hear whether their appeal was upheld, and the note."""
    return _tell_company(work, event.record_id, APPEAL_DECIDED)


def _tell_company(work: Work, record_id: int, template: str) -> list[Message]:
    """A message about a record to each of its company's staff, with a button to open the record."""
    record = work.session.get(CompanyRecord, record_id)
    if record is None:
        return []
    context = _record_context(work, record)
    button = ((Choice(Rating("v", record=record.id), "evaluation.btn_record"),),)
    later = _later(work)
    staff = _staff_of(work, record.company_id)
    return [Message(person, template, context, button, not_before=later) for person in staff]


def _home_labels(work: Work, home_ids: set[int]) -> dict[int, str]:
    """`3号楼 101` per home, in one query."""
    if not home_ids:
        return {}
    rows = work.session.exec(
        select(Home.id, Home.number, OrgNode.name)
        .join(OrgNode, col(OrgNode.id) == Home.building_id)
        .where(col(Home.id).in_(home_ids))
    ).all()
    return {home_id: f"{building} {number}" for home_id, number, building in rows if home_id is not None}


def _ask_owners(work: Work, survey: SurveyRow, pairs: list[tuple[int, int]], template: str) -> None:
    """One push per owner, with a button per home of theirs still to answer, in one statement."""
    by_person: dict[int, list[int]] = {}
    for person_id, home_id in pairs:
        by_person.setdefault(person_id, []).append(home_id)
    labels = _home_labels(work, {h for _, h in pairs})
    company = work.session.get(PropertyCompany, survey.company_id)
    context = {
        "survey_id": survey.id,
        "company": company.name if company else "",
        "half": survey.half,
        "closes_at": survey.closes_at.isoformat(),
    }
    rows = []
    for person_id, homes in by_person.items():
        buttons = [
            [
                Choice(
                    Survey("o", survey=survey.id, home=home_id),
                    "evaluation.btn_survey_home",
                    args={"home": labels.get(home_id, "")},
                ).stored()
            ]
            for home_id in homes
        ]
        rows.append({"person_id": person_id, "buttons": buttons})
    outbox.enqueue_many(
        work.session,
        rows,
        template=template,
        context=context,
        created_at=work.now,
        not_before=_later(work),
    )


@tells(SurveyOpened)
def survey_opened(work: Work, event: SurveyOpened) -> Iterable[Message]:
    """Every verified owner of a home the survey covers is asked, a button per home."""
    survey = work.session.get(SurveyRow, event.survey_id)
    if survey is not None:
        owners = survey_rules.owners(work.session, [int(c) for c in survey.compounds])
        _ask_owners(work, survey, [(p, h) for p, h, _ in owners], SURVEY_OPENED)
    return ()


@tells(SurveyReminded)
def survey_reminded(work: Work, event: SurveyReminded) -> Iterable[Message]:
    """Owners whose home has not finished answering are reminded once before the close."""
    survey = work.session.get(SurveyRow, event.survey_id)
    if survey is not None:
        _ask_owners(work, survey, survey_rules.waiting_owners(work.session, survey), SURVEY_REMINDER)
    return ()


@tells(SurveyClosed)
def survey_closed(work: Work, event: SurveyClosed) -> Iterable[Message]:
    """The staff member who opened the survey hears its turnout."""
    survey = work.session.get(SurveyRow, event.survey_id)
    if survey is None or survey.opened_by is None:
        return ()
    company = work.session.get(PropertyCompany, survey.company_id)
    context = {
        "survey_id": survey.id,
        "company": company.name if company else "",
        "half": survey.half,
        "answered": event.answered,
        "homes": event.homes,
    }
    return (Message(survey.opened_by, SURVEY_CLOSED, context, not_before=_later(work)),)

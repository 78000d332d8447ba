"""The owners' satisfaction survey of a property company (DESIGN §4.5): open it over the compounds the
company serves, take answers aspect by aspect once per home, remind once before the close, close it, and
count the turnout with aggregate queries.

Once per home is the database's rule: `survey_answer` has a unique (survey, home), so two owners of one
home answering at the same moment cannot both start an answer; the second is told the home answered.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.events import Event, SurveyClosed, SurveyOpened, SurveyReminded
from core.permissions import VERIFIED, ResidentKind
from db.due import lock_due
from db.evaluation.policy import ASPECTS, SCALE, EvaluationPolicy
from db.evaluation.records import EvaluationError
from db.evaluation.scoring import SurveyResponse
from db.evaluation.tables import Survey, SurveyAnswer
from db.models import Home, Residency

OPEN, CLOSED = "open", "closed"


def _owners(compound_ids: list[int]):  # type: ignore[no-untyped-def]
    """(person, home, compound) of every verified owner of a home in the compounds."""
    return (
        select(Residency.person_id, Residency.home_id, Home.compound_id)
        .join(Home, col(Home.id) == Residency.home_id)
        .where(
            col(Home.compound_id).in_(compound_ids),
            Residency.kind == ResidentKind.OWNER.value,
            Residency.status == VERIFIED,
        )
    )


def owners(session: Session, compound_ids: list[int]) -> list[tuple[int, int, int]]:
    """(person, home, compound) of every verified owner of a home in the compounds, by person and home."""
    if not compound_ids:
        return []
    rows = session.exec(_owners(compound_ids).order_by(col(Residency.person_id), col(Residency.home_id)))
    return [(p, h, c) for p, h, c in rows]


def owner_homes(session: Session, compound_ids: list[int]) -> dict[int, int]:
    """Homes with a verified owner per compound (the survey's electorate), by aggregate query."""
    if not compound_ids:
        return {}
    rows = session.exec(
        select(Home.compound_id, func.count(func.distinct(Home.id)))
        .join(Residency, col(Residency.home_id) == Home.id)
        .where(
            col(Home.compound_id).in_(compound_ids),
            Residency.kind == ResidentKind.OWNER.value,
            Residency.status == VERIFIED,
        )
        .group_by(col(Home.compound_id))
    ).all()
    return {compound: count for compound, count in rows}


def find(session: Session, company_id: int, half: str) -> Survey | None:
    """The survey of a company for a half-year, if one was opened."""
    return session.exec(select(Survey).where(Survey.company_id == company_id, Survey.half == half)).first()


def open_survey(
    session: Session,
    policy: EvaluationPolicy,
    company_id: int,
    half: str,
    compound_ids: list[int],
    opened_by: int | None,
    now: datetime,
) -> tuple[Survey, list[Event]]:
    """Open the survey of a company for a half-year over its compounds; one per company and half."""
    if not compound_ids:
        raise EvaluationError("not_served")
    if find(session, company_id, half) is not None:
        raise EvaluationError("survey_exists")
    closes_at = now + timedelta(days=policy.survey_days)
    survey = Survey(
        company_id=company_id,
        half=half,
        compounds=sorted(compound_ids),
        opened_by=opened_by,
        opened_at=now,
        closes_at=closes_at,
        state=OPEN,
        next_due_at=closes_at - policy.remind_before,
        homes=sum(owner_homes(session, compound_ids).values()),
    )
    try:
        with session.begin_nested():
            session.add(survey)
            session.flush()
    except IntegrityError:
        raise EvaluationError("survey_exists") from None  # another desk opened it at the same moment
    return survey, [SurveyOpened(survey.id or 0)]


def lock(session: Session, survey_id: int) -> Survey:
    """The survey, locked for a change; not_found when there is none."""
    query = select(Survey).where(Survey.id == survey_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    survey = session.exec(query).first()
    if survey is None:
        raise EvaluationError("not_found")
    return survey


def is_open(survey: Survey, now: datetime) -> bool:
    """Whether owners may still answer."""
    return survey.state == OPEN and now < survey.closes_at


def home_of(session: Session, survey: Survey, person_id: int, home_id: int) -> int:
    """The compound of a home the person owns (verified) under the survey; not_owner otherwise."""
    row = session.exec(
        _owners([int(c) for c in survey.compounds]).where(
            Residency.person_id == person_id, Residency.home_id == home_id
        )
    ).first()
    if row is None:
        raise EvaluationError("not_owner")
    return int(row[2])


def homes_to_answer(session: Session, survey: Survey, person_id: int) -> list[int]:
    """The homes the person owns under the survey that nobody has finished answering for, by id."""
    mine = [h for p, h, _ in owners(session, [int(c) for c in survey.compounds]) if p == person_id]
    if not mine:
        return []
    taken = set(
        session.exec(
            select(SurveyAnswer.home_id).where(
                SurveyAnswer.survey_id == survey.id,
                col(SurveyAnswer.home_id).in_(mine),
                (col(SurveyAnswer.completed_at).is_not(None)) | (SurveyAnswer.person_id != person_id),
            )
        ).all()
    )
    return [h for h in mine if h not in taken]


def answers_of(answer: SurveyAnswer | None) -> dict[str, int]:
    """The aspects answered so far, in the order asked."""
    if answer is None:
        return {}
    return {a: v for a in ASPECTS if (v := getattr(answer, a)) is not None}


def answer_row(session: Session, survey_id: int, home_id: int) -> SurveyAnswer | None:
    """A home's answer row, if one was started."""
    return session.exec(
        select(SurveyAnswer).where(SurveyAnswer.survey_id == survey_id, SurveyAnswer.home_id == home_id)
    ).first()


def check_value(aspect: str, value: int) -> None:
    """Refuse an unknown aspect or a value off the 1–5 scale."""
    if aspect not in ASPECTS:
        raise EvaluationError("bad_aspect")
    if type(value) is not int or not SCALE[0] <= value <= SCALE[1]:  # a bool or float is no answer
        raise EvaluationError("bad_value")


def claim(
    session: Session, survey: Survey, home_id: int, compound_id: int, person_id: int, now: datetime
) -> SurveyAnswer:
    """The home's answer row for this owner, started now if it is new; already_answered when it is complete
    or another owner of the home answers for it."""
    found = answer_row(session, survey.id or 0, home_id)
    if found is None:
        found = SurveyAnswer(
            survey_id=survey.id or 0,
            home_id=home_id,
            compound_id=compound_id,
            person_id=person_id,
            started_at=now,
        )
        try:
            with session.begin_nested():
                session.add(found)
                session.flush()
        except IntegrityError:
            # Another owner of the home started at the same moment: the unique (survey, home) says no.
            raise EvaluationError("already_answered") from None
        return found
    if found.completed_at is not None or found.person_id != person_id:
        raise EvaluationError("already_answered")
    return found


def put(answer: SurveyAnswer, aspect: str, value: int, now: datetime) -> None:
    """Store one aspect's answer (changeable until the sixth completes it)."""
    check_value(aspect, value)
    if answer.completed_at is not None:
        raise EvaluationError("already_answered")
    setattr(answer, aspect, value)
    if all(getattr(answer, a) is not None for a in ASPECTS):
        answer.completed_at = now


def next_aspect(answer: SurveyAnswer | None) -> str | None:
    """The first aspect not yet answered, or None when all six are."""
    done = answers_of(answer)
    return next((a for a in ASPECTS if a not in done), None)


# --- turnout and answers ---------------------------------------------------------------------------------


def answered(session: Session, survey_id: int) -> dict[int, int]:
    """Homes that finished answering, per compound, by aggregate query."""
    rows = session.exec(
        select(SurveyAnswer.compound_id, func.count())
        .where(SurveyAnswer.survey_id == survey_id, col(SurveyAnswer.completed_at).is_not(None))
        .group_by(col(SurveyAnswer.compound_id))
    ).all()
    return {compound: count for compound, count in rows}


def turnout(session: Session, survey: Survey) -> list[tuple[int, int, int]]:
    """(compound, homes answered, homes with a verified owner) per compound of the survey."""
    compounds = [int(c) for c in survey.compounds]
    homes = owner_homes(session, compounds)
    done = answered(session, survey.id or 0)
    return [(c, done.get(c, 0), homes.get(c, 0)) for c in compounds]


def responses(
    session: Session, survey_id: int, compound_ids: list[int] | None = None
) -> list[SurveyResponse]:
    """The completed answers of a survey as plain responses, alike answers counted together in SQL."""
    columns = [col(getattr(SurveyAnswer, a)) for a in ASPECTS]
    query = sa_select(*columns, func.count()).where(
        col(SurveyAnswer.survey_id) == survey_id, col(SurveyAnswer.completed_at).is_not(None)
    )
    if compound_ids is not None:
        query = query.where(col(SurveyAnswer.compound_id).in_(compound_ids))
    rows = session.connection().execute(query.group_by(*columns)).all()
    return [SurveyResponse(tuple(int(v) for v in row[:-1]), int(row[-1])) for row in rows]


def of_half(session: Session, half: str, company_ids: list[int]) -> dict[int, Survey]:
    """The surveys of a half-year of some companies, by company (one query)."""
    if not company_ids:
        return {}
    rows = session.exec(select(Survey).where(Survey.half == half, col(Survey.company_id).in_(company_ids)))
    return {s.company_id: s for s in rows}


def responses_of(session: Session, survey_ids: list[int]) -> dict[int, dict[int, list[SurveyResponse]]]:
    """The completed answers of some surveys as plain responses, per survey and compound; alike answers
    counted together in SQL (one query)."""
    if not survey_ids:
        return {}
    columns = [col(getattr(SurveyAnswer, a)) for a in ASPECTS]
    keys = [col(SurveyAnswer.survey_id), col(SurveyAnswer.compound_id)]
    query = (
        sa_select(*keys, *columns, func.count())
        .where(col(SurveyAnswer.survey_id).in_(survey_ids), col(SurveyAnswer.completed_at).is_not(None))
        .group_by(*keys, *columns)
    )
    found: dict[int, dict[int, list[SurveyResponse]]] = {}
    for row in session.connection().execute(query).all():
        answer = SurveyResponse(tuple(int(v) for v in row[2:-1]), int(row[-1]))
        found.setdefault(int(row[0]), {}).setdefault(int(row[1]), []).append(answer)
    return found


def waiting_owners(session: Session, survey: Survey) -> list[tuple[int, int]]:
    """(person, home) of verified owners whose home has not finished answering."""
    done = set(
        session.exec(
            select(SurveyAnswer.home_id).where(
                SurveyAnswer.survey_id == survey.id, col(SurveyAnswer.completed_at).is_not(None)
            )
        ).all()
    )
    return [(p, h) for p, h, _ in owners(session, [int(c) for c in survey.compounds]) if h not in done]


# --- the schedule ---------------------------------------------------------------------------------------


def due(session: Session, now: datetime, limit: int) -> list[Survey]:
    """Lock up to `limit` surveys with a step due (reminder or close)."""
    return lock_due(session, Survey, now, limit)


def close(session: Session, survey: Survey, now: datetime) -> list[Event]:
    """Close the survey now (at its end, or early by staff); answers after this are refused."""
    if survey.state != OPEN:
        raise EvaluationError("closed")
    survey.state = CLOSED
    survey.closed_at = now
    survey.next_due_at = None
    counts = turnout(session, survey)
    return [SurveyClosed(survey.id or 0, sum(c[1] for c in counts), sum(c[2] for c in counts))]


def step(session: Session, survey: Survey, now: datetime) -> tuple[str, list[Event]]:
    """Apply the one step due: the close at its end, else the one reminder; move `next_due_at` on."""
    if survey.state != OPEN:
        survey.next_due_at = None
        return "", []
    if now >= survey.closes_at:
        return "closed", close(session, survey, now)
    if survey.reminded_at is None and survey.next_due_at is not None and now >= survey.next_due_at:
        survey.reminded_at = now
        survey.next_due_at = survey.closes_at
        return "reminded", [SurveyReminded(survey.id or 0)]
    survey.next_due_at = survey.closes_at
    return "", []
